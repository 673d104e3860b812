"""Two `aldense-guide run` replicas on one Redis (a server, a Redis Cluster, a Sentinel-watched master, TLS): 100 users,
1,000+ signed requests spread across both, Slack event retries, double and stale clicks, and one replica killed and
restarted mid-run — everything exactly once."""

from __future__ import annotations

import asyncio
import copy
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.fakes.slack import SlackApiSandbox, SlackDriver, Workspace
from bot.fakes.slack.api import Message
from bot.fakes.slack.workspace import Team, User
from bot.slack import blocks
from conversations.conversation import Conversation
from conversations.guide import load_guide
from conversations.stores.redis_urls import connect
from tests.bot.harness import ENCRYPTION_KEY, ONBOARDING, SIGNING_SECRET, STAFF, action_ids, message_text

GUIDE = load_guide()
CLINICS = 10
USERS_PER_CLINIC = 10
# Longer than any pause in a walk, even across the chaos restart: a reminder falling due mid-walk could be claimed
# by the replica that is then killed, and its claim hides it for minutes (LEASE_SECONDS), past this test's wait.
NUDGE_AFTER_SECONDS = 20.0
ROOT = Path(__file__).resolve().parents[2]


def working_zone(now: datetime) -> str | None:
    """An IANA zone where it is now a weekday between 10:00 and 16:00, so reminders may go out; None if none is."""
    for hours in range(-12, 15):
        local = now + timedelta(hours=hours)
        if local.weekday() < 5 and 10 <= local.hour < 16:
            return "Etc/GMT" + (f"-{hours}" if hours > 0 else f"+{-hours}" if hours < 0 else "")
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Replica:
    """One `aldense-guide run` process."""

    name: str
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} did not become ready: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class Tally:
    """What the driver sent and what it expects."""

    requests: int = 0
    double_clicks: int = 0
    stale_clicks: int = 0
    event_retries: int = 0
    failovers: int = 0
    expected_step: dict[str, int] = field(default_factory=dict)


@pytest.fixture
def world_workspace() -> Workspace:
    workspace = Workspace()
    zone = working_zone(datetime.now(UTC)) or "Europe/London"
    for clinic in range(CLINICS):
        team = Team(f"T0CL{clinic:02d}", f"Clinic {clinic}", f"clinic-{clinic}")
        people = [
            User(
                f"U0C{clinic:02d}P{person:02d}",
                team.id,
                f"person{clinic}-{person}",
                f"Person {clinic}-{person}",
                tz=zone,
            )
            for person in range(USERS_PER_CLINIC)
        ]
        workspace.add_clinic(team, f"C0CL{clinic:02d}", f"clinic-{clinic}", people)
    return workspace


@pytest.fixture
async def slack(world_workspace: Workspace) -> AsyncIterator[SlackApiSandbox]:
    sandbox = SlackApiSandbox(world_workspace)
    async with sandbox.serve():
        yield sandbox


@pytest.fixture(params=["redis", "redis-cluster", "redis-sentinel", "rediss"])
def redis_url(request: pytest.FixtureRequest) -> str:
    """The shared Redis, as the replicas' STATE_URL names it (the fixtures of tests/conftest.py start each set-up).

    One server; any node of a three-master cluster (``redis+cluster://``); a password-protected master found through
    its Sentinel (``redis+sentinel://``); a TLS-only server whose certificate the replicas check against a CA file the
    test made (``rediss://…?ssl_ca_certs=``).
    """
    return str(request.getfixturevalue(request.param.replace("-", "_") + "_url"))


@pytest.fixture
async def replicas(slack: SlackApiSandbox, redis_url: str, tmp_path: Path) -> AsyncIterator[list[Replica]]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ALDENSE_", "STATE_", "DENTALLY_"))},
        "SLACK_BOT_TOKEN": slack.workspace.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "ALDENSE_ONBOARDING_CHANNEL": ONBOARDING,
        "STATE_URL": redis_url,
        "KEY_ENCRYPTION_KEYS": ENCRYPTION_KEY,
        "NUDGE_AFTER_HOURS": str(NUDGE_AFTER_SECONDS / 3600),
        "NUDGE_MAX": "1",
        "OUTBOX_RETRY_SECONDS": "2",
        "DUE_WORK_INTERVAL_SECONDS": "0.3",
        "LOG_LEVEL": "WARNING",
        "KICKOFF_ON_JOIN": "false",
        # 100 people stepping through at once would queue for minutes behind Slack's real budgets, which this
        # stand-in does not enforce; calls still go through each replica's scheduler and its shared 429 pauses.
        "ALDENSE_OUTBOUND_BUDGETS": "false",
        "ALDENSE_SUPPORT_CARD_SECONDS": "0.2",
    }
    started = [Replica(name, free_port(), env, tmp_path / f"{name}.log") for name in ("a", "b")]
    for replica in started:
        replica.start()
    # The Slack sandbox answers from this event loop, so waiting must not block it.
    for replica in started:
        await asyncio.to_thread(replica.wait_ready)
    yield started
    for replica in started:
        await asyncio.to_thread(replica.stop)


class Fleet:
    """Sends each request to a random replica, failing over when one is down."""

    def __init__(self, drivers: list[SlackDriver], tally: Tally, rng: random.Random, redis_url: str) -> None:
        self.redis_url = redis_url
        self.drivers = drivers
        self.tally = tally
        self.rng = rng

    def pick(self) -> SlackDriver:
        return self.rng.choice(self.drivers)

    async def send(self, action):  # type: ignore[no-untyped-def]
        order = self.rng.sample(self.drivers, len(self.drivers))
        for attempt, driver in enumerate(order * 3):
            try:
                self.tally.requests += 1
                delivery = await action(driver)
            except httpx.TransportError:
                self.tally.failovers += 1
                await asyncio.sleep(0.2 * (attempt + 1))
                continue
            if delivery.response.status_code >= 500:
                self.tally.failovers += 1
                continue
            return delivery
        raise AssertionError("no replica answered")


async def step_message(
    api: SlackApiSandbox, driver: SlackDriver, channel: str, user: str, index: int, redis_url: str
) -> Message:
    step = GUIDE.steps[index]

    def found() -> Message | None:
        # The step's own message with its buttons (a reminder may have been posted after it).
        for message in reversed(driver.user_thread(channel, user)):
            if posts_step(message, step.id) and {blocks.ACTION_DONE, blocks.ACTION_ENTER_KEY} & set(
                action_ids(message)
            ):
                return message
        return None

    try:
        return await driver.wait_for(found, timeout=30)
    except TimeoutError:
        thread = [message_text(m)[:80].replace("\n", " ") for m in driver.user_thread(channel, user)]
        mine = [
            (c.method, c.ok, c.error, str(c.params.get("text", ""))[:60])
            for c in api.calls()
            if user in str(c.params.get("text", "")) or user in str(c.params.get("user", ""))
        ]
        # The store's own connect: it reads every STATE_URL form, and SCAN on a cluster visits every node.
        client, close = connect(redis_url)
        try:
            stored = {k: (await client.hget(k, "d") or "")[-400:] async for k in client.scan_iter(match=f"*{user}*")}
            queues = {
                k: [
                    (i, score - time.time()) for i, score in await client.zrange(k, 0, -1, withscores=True) if user in i
                ]
                async for k in client.scan_iter(match="aldense:v2:*:_queue:*")
            }
        finally:
            await close()
        raise AssertionError(
            f"{user} never got step {index + 1}; thread: {thread}; calls: {mine}; stored: {stored}; "
            f"due: {str(queues)[:500]}"
        ) from None


async def walk(fleet: Fleet, api: SlackApiSandbox, channel: str, user: str, kickoff: Message, steps: int) -> None:
    tally = fleet.tally
    rng = fleet.rng
    viewer = fleet.drivers[0]
    if rng.random() < 0.3:
        # Slack retries the delivery (same event_id), and the retry may reach the other replica.
        delivery = await fleet.send(lambda d: d.mention(user, channel, "<@U0BOT> start"))
        tally.event_retries += 1
        await fleet.send(lambda d: d.redeliver(delivery, retry_num=1))
    else:
        await fleet.send(lambda d: d.click(user, kickoff, blocks.ACTION_START))
    previous: Message | None = None
    for index in range(steps):
        # A snapshot with its buttons, as the user's Slack client still shows it while clicks are in flight.
        current = copy.deepcopy(await step_message(api, viewer, channel, user, index, fleet.redis_url))
        if previous is not None and rng.random() < 0.3:
            tally.stale_clicks += 1
            await fleet.send(lambda d, m=previous: d.click(user, m, blocks.ACTION_DONE))
        if rng.random() < 0.25:
            tally.double_clicks += 1
            await asyncio.gather(
                *(fleet.send(lambda d, m=current: d.click(user, m, blocks.ACTION_DONE)) for _ in range(2))
            )
        else:
            await fleet.send(lambda d, m=current: d.click(user, m, blocks.ACTION_DONE))
        previous = current
    await step_message(api, viewer, channel, user, steps, fleet.redis_url)
    tally.expected_step[user] = steps


async def test_two_replicas_on_one_redis_do_everything_exactly_once(
    slack: SlackApiSandbox, replicas: list[Replica], redis_url: str
) -> None:
    rng = random.Random(20261126)
    tally = Tally()
    zone = working_zone(datetime.now(UTC))
    async with httpx.AsyncClient(timeout=20) as http:
        drivers = [SlackDriver(r.url, SIGNING_SECRET, slack, http) for r in replicas]
        fleet = Fleet(drivers, tally, rng, redis_url)
        kickoffs: dict[str, Message] = {}
        for clinic in range(CLINICS):
            channel = f"C0CL{clinic:02d}"
            before = len(slack.messages(channel))
            await fleet.send(
                lambda d, c=channel: d.run_command(STAFF, ONBOARDING, "/aldense", f"onboard <#{c}|x>", escape=False)
            )
            kickoffs[channel] = await drivers[0].wait_for(
                lambda c=channel, b=before: len(slack.messages(c)) > b and slack.messages(c)[-1], timeout=20
            )
        users = [(f"C0CL{c:02d}", f"U0C{c:02d}P{p:02d}") for c in range(CLINICS) for p in range(USERS_PER_CLINIC)]
        plan = {user: rng.randint(4, GUIDE.step_count - 2) for _, user in users}
        gate = asyncio.Semaphore(25)

        async def one(channel: str, user: str) -> None:
            async with gate:
                await walk(fleet, slack, channel, user, kickoffs[channel], plan[user])

        async def chaos() -> None:
            await drivers[0].wait_for(lambda: len(tally.expected_step) >= 30, timeout=120)
            replicas[0].kill()
            await asyncio.sleep(1.0)
            replicas[0].start()
            await asyncio.to_thread(replicas[0].wait_ready)

        await asyncio.gather(chaos(), *(one(channel, user) for channel, user in users))

        # Let outboxes drain and reminders fall due (both replicas poll the due queue).
        state_of = await settled_states(redis_url)
        if zone is not None:
            # The last walk's reminder falls due NUDGE_AFTER_SECONDS after its last step: wait for all of them.
            await drivers[0].wait_for(
                lambda: (
                    sum(
                        1
                        for _, u in users
                        for m in drivers[0].user_thread(_, u)
                        if blocks.ACTION_RESUME in action_ids(m)
                    )
                    >= len(users)
                ),
                timeout=NUDGE_AFTER_SECONDS + 32,
            )
            await asyncio.sleep(2.0)  # a duplicate, if any, would show up now

    print(
        f"\nreplicas: {tally.requests} requests, {tally.double_clicks} double clicks, "
        f"{tally.stale_clicks} stale clicks, {tally.event_retries} event retries, {tally.failovers} failovers; "
        f"reminder zone {zone}"
    )
    assert tally.requests >= 1000
    for channel, user in users:
        state = state_of[(channel, user)]
        assert GUIDE.index_of(state.step_id) == tally.expected_step[user], user
        assert state.outbox == ()
        thread = drivers[0].user_thread(channel, user)
        per_step = [sum(posts_step(m, step.id) for m in thread) for step in GUIDE.steps]
        reached = GUIDE.index_of(state.step_id) + 1
        assert per_step == [1] * reached + [0] * (GUIDE.step_count - reached), (user, per_step)
        openers = [m for m in slack.messages(channel) if f"<@{user}> is connecting Dentally" in m.text]
        assert len(openers) == 1, user
        if zone is not None:
            assert sum(blocks.ACTION_RESUME in action_ids(m) for m in thread) == 1, user
    cards = [m for m in slack.messages(ONBOARDING) if not m.is_reply and not m.deleted]
    assert len(cards) == CLINICS
    if zone is None:
        print("reminders not checked: no time zone has weekday working hours right now")


def posts_step(message: Message, step_id: str) -> bool:
    """Whether a message is the message of a step (open, or closed to its compact form)."""
    return any(str(block.get("block_id", "")).startswith(f"step:{step_id}:") for block in message.blocks)


async def settled_states(redis_url: str) -> dict[tuple[str, str], Conversation]:
    """Every conversation once no outbox holds work (recovery of the killed replica's work included)."""
    client, close = connect(redis_url)
    deadline = time.monotonic() + 30
    try:
        while True:
            states = {}
            async for key in client.scan_iter(match="aldense:v2:*:conv:*"):
                state = Conversation.from_json(await client.hget(key, "d") or "")
                states[(state.channel, state.user)] = state
            if all(not s.outbox for s in states.values()) or time.monotonic() > deadline:
                return states
            await asyncio.sleep(0.3)
    finally:
        await close()
