"""Driving real guides from a benchmark: start one per user, click Done, and notice the next step arrive in Slack.

The Slack sandbox runs in a process of its own; a watcher long-polls its change log and wakes the user whose
thread got a new message. Exact times come afterwards from the sandbox's call log (``ApiCall.at``, the same
clock as this process's ``time.time()`` on one machine), not from when the watcher happened to notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from benchmarks.load import Pool, Target, signed_request
from benchmarks.processes import SIGNING_SECRET
from benchmarks.slack_server import clinic_channel, person
from bot.fakes.slack import Workspace, payloads
from bot.slack import blocks
from conversations.guide import Guide, load_guide

GUIDE: Guide = load_guide()


@dataclass
class Guided:
    """One user's guide as the benchmark sees it."""

    user: str
    channel: str
    thread_ts: str = ""
    step: int = 0
    message_ts: str = ""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    clicks: list[tuple[int, float, float]] = field(default_factory=list)  # (step clicked, sent at, ack seconds)


class SlackWatch:
    """Follows the sandbox's change log and records new messages per thread."""

    def __init__(self, slack_url: str, http: httpx.AsyncClient) -> None:
        self._url = slack_url
        self._http = http
        self._by_thread: dict[str, Guided] = {}
        self._openers: dict[str, Guided] = {}  # channel:user -> guide still waiting for its thread
        self.since = 0

    async def sync(self) -> None:
        """Skip everything that happened before now."""
        answer = await self._http.get(f"{self._url}/_sandbox/changes", params={"since": 10**12, "wait": 0})
        self.since = int(answer.json()["version"])

    def follow(self, guided: Guided) -> None:
        """Wake ``guided`` whenever its thread gets a message (its first one tells the thread)."""
        if guided.thread_ts:
            self._by_thread[guided.thread_ts] = guided
        else:
            self._openers[f"{guided.channel}:{guided.user}"] = guided

    async def run(self) -> None:
        """Poll until cancelled."""
        while True:
            answer = await self._http.get(
                f"{self._url}/_sandbox/changes", params={"since": self.since, "wait": 5}, timeout=15
            )
            data = answer.json()
            for change in data["changes"]:
                self.since = max(self.since, int(change["seq"]))
                if change["kind"] == "message":
                    await self._message(change["data"])
            self.since = max(self.since, int(data["version"]))

    async def _message(self, data: dict[str, Any]) -> None:
        thread = data.get("thread_ts")
        if thread and thread in self._by_thread:
            guided = self._by_thread[thread]
            guided.message_ts = str(data["ts"])
            guided.arrived.set()
        elif not thread and self._openers:
            # A top-level message: if it opens a followed user's guide, learn the thread from its text.
            answer = await self._http.get(f"{self._url}/_sandbox/channels/{data['channel']}/messages")
            for message in answer.json()["messages"]:
                if message["ts"] != data["ts"]:
                    continue
                for key, guided in list(self._openers.items()):
                    if key.startswith(f"{data['channel']}:") and f"<@{guided.user}>" in message.get("text", ""):
                        guided.thread_ts = str(data["ts"])
                        self._by_thread[guided.thread_ts] = guided
                        del self._openers[key]


@contextlib.asynccontextmanager
async def watching(slack_url: str, http: httpx.AsyncClient) -> AsyncIterator[SlackWatch]:
    """A running :class:`SlackWatch`."""
    watch = SlackWatch(slack_url, http)
    await watch.sync()
    task = asyncio.create_task(watch.run())
    try:
        yield watch
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def mention_start(workspace: Workspace, guided: Guided, serial: int) -> tuple[bytes, str]:
    """An ``app_mention`` saying "start" from the user in their channel."""
    channel = workspace.channel(guided.channel)
    event = payloads.message_event(
        user=workspace.user(guided.user),
        channel=channel,
        text=f"<@{workspace.bot_user_id}> start",
        ts=f"{int(time.time())}.{serial:06d}",
        mention=True,
    )
    envelope = payloads.event_callback(
        workspace,
        event,
        event_id=f"EvBENCH{serial:08d}{int(time.time() * 1000) % 10**8:08d}",
        event_time=int(time.time()),
        channel=channel,
        actor_team_id=workspace.user(guided.user).team_id,
    )
    return payloads.json_body(envelope)


def done_click(workspace: Workspace, guided: Guided) -> tuple[bytes, str]:
    """The user's Done click on their current step message, as Slack would send it."""
    text, step_blocks = blocks.step_message(GUIDE, guided.step, guided.user, None)
    found = payloads.find_action(step_blocks, blocks.ACTION_DONE)
    if found is None:
        raise ValueError(f"step {guided.step + 1} has no Done button")
    message = {
        "type": "message",
        "ts": guided.message_ts,
        "thread_ts": guided.thread_ts,
        "user": workspace.bot_user_id,
        "text": text,
        "blocks": step_blocks,
    }
    payload = payloads.block_actions(
        workspace,
        user=workspace.user(guided.user),
        channel=workspace.channel(guided.channel),
        message_ts=guided.message_ts,
        action=payloads.action_item(found[1], found[0], f"{time.time():.6f}"),
        trigger_id=f"1.{int(time.time())}.bench",
        response_url="http://127.0.0.1:9/response/unused",
        message=message,
        thread_ts=guided.thread_ts,
    )
    return payloads.interactivity_body(payload)


async def send(pool: Pool, target: Target, encoded: tuple[bytes, str]) -> tuple[int, float]:
    """Sign and post one body; returns the status and the seconds until the answer."""
    raw = signed_request(target, *encoded, SIGNING_SECRET)
    started = time.perf_counter()
    status, _ = await pool.exchange(target, raw)
    return status, time.perf_counter() - started


async def start_guides(
    workspace: Workspace, watch: SlackWatch, targets: Sequence[Target], users: list[Guided], parallel: int = 20
) -> None:
    """Start a guide for every user (``parallel`` at a time) and wait until each has step 1."""
    pool = Pool()
    gate = asyncio.Semaphore(parallel)

    async def one(serial: int, guided: Guided) -> None:
        async with gate:
            guided.arrived.clear()
            watch.follow(guided)
            status, _ = await send(pool, targets[serial % len(targets)], mention_start(workspace, guided, serial))
            if status != 200:
                raise RuntimeError(f"start for {guided.user} answered {status}")
            await asyncio.wait_for(guided.arrived.wait(), 30)

    try:
        await asyncio.gather(*(one(serial, guided) for serial, guided in enumerate(users)))
    finally:
        pool.close()


async def step_posts(slack_url: str, http: httpx.AsyncClient) -> dict[tuple[str, int], float]:
    """When each step message was posted: ``(thread_ts, step index) -> sandbox time``."""
    answer = await http.get(f"{slack_url}/_sandbox/calls", params={"method": "chat.postMessage"}, timeout=60)
    found: dict[tuple[str, int], float] = {}
    for call in answer.json()["calls"]:
        params, text = call["params"], str(call["params"].get("text", ""))
        thread = params.get("thread_ts")
        if call["status"] != 200 or not thread or not text.startswith("Step "):
            continue
        index = int(text.split()[1]) - 1
        found.setdefault((str(thread), index), float(call["at"]))
    return found


PEOPLE_PER_CLINIC = 10


def users_for(round_index: int, users: int) -> list[Guided]:
    """The ``users`` people of round ``round_index`` (fresh people each round), ten to a clinic channel."""
    first = round_index * users
    return [
        Guided(person(n // PEOPLE_PER_CLINIC, n % PEOPLE_PER_CLINIC), clinic_channel(n // PEOPLE_PER_CLINIC))
        for n in range(first, first + users)
    ]


async def walk(
    workspace: Workspace, targets: list[Target], walkers: list[Guided], steps: int, think: float = 0.0, seed: int = 6
) -> tuple[float, int]:
    """Every user clicks Done ``steps`` times, each ``think`` seconds (on average) after their step arrives.

    Clicks go round-robin over ``targets`` (one per replica). Returns the seconds taken and the non-200 answers.
    """
    pool = Pool()
    failures = 0
    turn = iter(range(10**12))
    rng = random.Random(seed)

    async def user(guided: Guided) -> None:
        nonlocal failures
        for _ in range(steps):
            if think:
                await asyncio.sleep(rng.uniform(0.5, 1.5) * think)
            guided.arrived.clear()
            sent = time.time()
            target = targets[next(turn) % len(targets)]
            status, ack = await send(pool, target, done_click(workspace, guided))
            guided.clicks.append((guided.step, sent, ack))
            if status != 200:
                failures += 1
                return
            await asyncio.wait_for(guided.arrived.wait(), 30)
            guided.step += 1

    began = time.perf_counter()
    try:
        await asyncio.gather(*(user(guided) for guided in walkers))
    finally:
        pool.close()
    return time.perf_counter() - began, failures
