"""Benchmark: Redis bytes per conversation, and the bot's memory with 10,000 stored conversations.

Run with ``.venv/bin/python -m benchmarks.footprint``. Conversations are written through the real service and
Redis store the way the bot writes them (start, thread opened, each step posted, Done, every outbox batch settled),
stopping at a spread of steps; some are finished guides with a verified key. Then:

1. ``MEMORY USAGE`` of every conversation key (goal: <= 2 KiB each), and the other keys the writes left (the due
   queue of reminders);
2. the resident memory of ``aldense-guide run`` on that Redis: idle after start-up, then after light use (a few
   users walking a few steps), beside the same bot on an empty database and a bare Bolt process.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from dataclasses import dataclass

import httpx
import redis

from benchmarks import processes
from benchmarks.guides import GUIDE, PEOPLE_PER_CLINIC, start_guides, users_for, walk, watching
from benchmarks.load import Target, percentile
from benchmarks.report import machine, shown, write_results
from benchmarks.slack_server import bench_workspace
from conversations.addresses import ConversationKey
from conversations.events import CheckFinished, Done, Event, KeySubmitted, KeyVerdict, Start, StepPosted, ThreadOpened
from conversations.reminders import ReminderPolicy
from conversations.service import OnboardingService
from conversations.stores.redis import RedisStore

GOAL_BYTES = 2048
INSTALLING_TEAM = "T0ALDENSE"


@dataclass(frozen=True)
class Row:
    """One measured figure."""

    what: str
    value: float
    unit: str


async def _apply(service: OnboardingService, key: ConversationKey, event: Event) -> None:
    outcome = await service.handle(key, event)
    if outcome.refused is not None:
        raise RuntimeError(f"{key}: {type(event).__name__} refused: {outcome.refused}")
    if outcome.batch is not None:
        await service.settle(key, outcome.batch)


async def write_guide(service: OnboardingService, key: ConversationKey, steps_done: int, at: float) -> None:
    """One guide as the bot leaves it after ``steps_done`` Done clicks (all steps done: a verified key)."""
    ts = iter(f"{int(at)}.{n:06d}" for n in range(1, 1000))
    await _apply(service, key, Start(at=at))
    await _apply(service, key, ThreadOpened(next(ts)))
    for index, step in enumerate(GUIDE.steps):
        await _apply(service, key, StepPosted(step.id, next(ts)))
        if index >= steps_done or index == GUIDE.step_count - 1:
            break
        at += 30
        await _apply(service, key, Done(step.id, at))
    if steps_done >= GUIDE.step_count - 1:
        await _apply(service, key, KeySubmitted("…Wd9k", at + 60))
        await _apply(service, key, CheckFinished(KeyVerdict.VERIFIED, at + 62))


async def write_conversations(redis_url: str, count: int, seed: int = 6) -> None:
    """``count`` guides at a spread of steps (a tenth of them finished), 20 at a time."""
    store = RedisStore.from_url(redis_url)
    # As the bot runs it: reminders a day after a guide goes quiet (so the due queue holds the guides in progress).
    service = OnboardingService(store, GUIDE, reminders=ReminderPolicy())
    rng = random.Random(seed)
    gate = asyncio.Semaphore(20)
    started = time.time() - 86400

    async def one(n: int) -> None:
        key = ConversationKey("slack", INSTALLING_TEAM, f"C0FP{n // 10:05d}", f"U0FP{n:06d}")
        steps_done = GUIDE.step_count - 1 if rng.random() < 0.1 else rng.randrange(GUIDE.step_count - 1)
        async with gate:
            await write_guide(service, key, steps_done, started + n)

    try:
        await asyncio.gather(*(one(n) for n in range(count)))
    finally:
        await store.aclose()


def key_sizes(redis_url: str) -> dict[str, list[int]]:
    """``MEMORY USAGE`` of every key, grouped by kind (``conv``, ``_queue``, ``_mark``, …; see redis_layout)."""
    client = redis.Redis.from_url(redis_url)
    sizes: dict[str, list[int]] = {}
    try:
        for key in client.scan_iter(count=1000):
            parts = key.decode().split(":")  # aldense:v2:{NN}:kind:…
            kind = parts[3] if len(parts) > 3 else key.decode()
            sizes.setdefault(kind, []).append(int(client.memory_usage(key, samples=0) or 0))
    finally:
        client.close()
    return sizes


def _json_bytes(redis_url: str) -> list[int]:
    client = redis.Redis.from_url(redis_url)
    try:
        return [len(client.hget(key, "d") or b"") for key in client.scan_iter(match="aldense:v2:*:conv:*", count=1000)]
    finally:
        client.close()


async def light_use(bot: processes.Child, slack: processes.Child, users: int) -> None:
    """A few users start guides and walk a few steps, a second apart."""
    workspace = bench_workspace(max(1, users // PEOPLE_PER_CLINIC), PEOPLE_PER_CLINIC)
    target = Target.from_url(bot.url)
    async with httpx.AsyncClient(timeout=30) as http, watching(slack.url, http) as watch:
        batch = users_for(0, users)
        await start_guides(workspace, watch, [target], batch)
        await walk(workspace, [target], batch, 3, think=0.5)


def bot_memory(redis_url: str, settle_seconds: float, users: int) -> tuple[int, int]:
    """RSS (KiB) of ``aldense-guide run`` on ``redis_url``: idle after start-up, then after light use."""
    clinics = max(1, users // PEOPLE_PER_CLINIC)
    with (
        processes.slack_sandbox(clinics, PEOPLE_PER_CLINIC) as slack,
        processes.bot(f"{slack.url}/api/", redis_url) as bot,
    ):
        time.sleep(settle_seconds)
        idle = bot.rss_kib()
        asyncio.run(light_use(bot, slack, users))
        time.sleep(settle_seconds)
        used = bot.rss_kib()
    return idle, used


def bolt_memory(settle_seconds: float) -> int:
    """RSS (KiB) of a bare Bolt process (the ``bolt-pbr`` baseline) after start-up."""
    with processes.slack_sandbox() as slack, processes.baseline("bolt-pbr", f"{slack.url}/api/") as child:
        time.sleep(settle_seconds)
        return child.rss_kib()


def measure(redis_url: str, sized: int, stored: int, settle: float, users: int) -> list[Row]:
    """Write ``sized`` guides and size them; then ``stored`` guides and measure the bot's memory."""
    rows: list[Row] = []
    processes.flush_redis(redis_url)
    asyncio.run(write_conversations(redis_url, sized))
    sizes = key_sizes(redis_url)
    conv = sizes.get("conv", [])
    rows += [
        Row(f"conversation key, mean of {len(conv)}", round(statistics.mean(conv), 1) if conv else 0, "bytes"),
        Row("conversation key, p50", percentile([float(s) for s in conv], 0.5), "bytes"),
        Row("conversation key, p99", percentile([float(s) for s in conv], 0.99), "bytes"),
        Row("conversation key, largest", max(conv, default=0), "bytes"),
        Row("conversation JSON, mean", round(statistics.mean(_json_bytes(redis_url)), 1), "bytes"),
    ]
    for kind, values in sorted(sizes.items()):
        if kind != "conv":
            rows.append(
                Row(f"other keys: {kind} ({len(values)} keys), total per conversation", _per(values, conv), "bytes")
            )
    processes.flush_redis(redis_url)
    rows.append(Row("bot RSS, empty store, idle", *_kib(bot_memory(redis_url, settle, users)[0])))
    processes.flush_redis(redis_url)
    asyncio.run(write_conversations(redis_url, stored))
    idle, used = bot_memory(redis_url, settle, users)
    rows.append(Row(f"bot RSS, {stored} conversations stored, idle", *_kib(idle)))
    rows.append(Row(f"bot RSS, {stored} conversations stored, after light use ({users} users)", *_kib(used)))
    rows.append(Row("bare Bolt process RSS, idle", *_kib(bolt_memory(settle))))
    processes.flush_redis(redis_url)
    return rows


def _per(values: list[int], conv: list[int]) -> float:
    return round(sum(values) / len(conv), 1) if conv else 0.0


def _kib(kib: int) -> tuple[float, str]:
    return round(kib / 1024, 1), "MiB"


def render(rows: list[Row]) -> str:
    """The table and the goal's verdict."""
    lines = ["Footprint (Redis MEMORY USAGE per key; process RSS from /proc)", f"{'what':<72}{'value':>12}"]
    lines += [f"{row.what:<72}{row.value:>9.1f} {row.unit}" for row in rows]
    mean = next((row.value for row in rows if row.what.startswith("conversation key, mean")), 0.0)
    largest = next((row.value for row in rows if row.what == "conversation key, largest"), 0.0)
    verdict = "met" if largest <= GOAL_BYTES else "NOT met"
    lines += ["", f"bytes per conversation: mean {mean:.0f}, largest {largest:.0f} (goal <= {GOAL_BYTES}): {verdict}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark, print the table and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sized", type=int, default=1000, help="guides written for the size figures (default 1000)")
    parser.add_argument("--stored", type=int, default=10_000, help="guides stored for the RSS figures (default 10000)")
    parser.add_argument("--users", type=int, default=10, help="users in the light use (default 10)")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds before reading RSS (default 3)")
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/13", help="a spare Redis database, flushed before and after"
    )
    args = parser.parse_args(argv)
    try:
        rows = measure(args.redis_url, args.sized, args.stored, args.settle, args.users)
    finally:
        processes.flush_redis(args.redis_url)
    print(render(rows))
    settings = {"sized": args.sized, "stored": args.stored, "users": args.users, "settle_s": args.settle}
    path = write_results("footprint", settings, rows, goal_bytes=GOAL_BYTES)
    print(machine())
    print(f"wrote {shown(path)}")


if __name__ == "__main__":
    main()
