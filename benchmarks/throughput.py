"""Benchmark: whole interactions per second — one replica, then two behind round-robin — beside bare Bolt's acks.

Run with ``.venv/bin/python -m benchmarks.throughput``. An interaction is a Done click that is acked, saved to
Redis (compare-and-set) and carried out in Slack (the step closed with ``chat.update``, the next one posted); it
counts when the next step reached the Slack sandbox. Users click again as soon as their next step arrives, so the
replicas are saturated. Bare Bolt's figure is acks only (its listener does nothing), closed loop at 32 in flight.

Everything shares this machine's CPUs: the load generator, the Slack sandbox, Redis and the replicas. The CPU each
process used is reported, so a missed scaling goal can be read against where the cores went.

Goal (issue 6): two replicas >= 1.7x one.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from benchmarks import processes
from benchmarks.ack_latency import not_yours_click
from benchmarks.guides import GUIDE, PEOPLE_PER_CLINIC, Guided, start_guides, step_posts, users_for, walk, watching
from benchmarks.load import Target, closed_loop, signed_request
from benchmarks.report import machine, shown, write_results
from benchmarks.slack_server import bench_workspace

GOAL_SCALING = 1.7


@dataclass(frozen=True)
class Row:
    """One configuration's rate and the CPU each process spent on it."""

    setup: str
    per_s: float
    requests: int
    missing: int
    cpu_percent: dict[str, float] = field(default_factory=dict)
    bot_cpu_ms_per_interaction: float = 0.0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _redis_pid(redis_url: str) -> int | None:
    client = redis.Redis.from_url(redis_url)
    try:
        pid = client.info("server").get("process_id")
        return int(pid) if pid and Path(f"/proc/{pid}").exists() else None
    finally:
        client.close()


async def bolt_ack_rate(kind: str, api_url: str, count: int) -> Row:
    """A bare Bolt baseline's ack-only rate at 32 requests in flight."""
    with processes.baseline(kind, api_url) as child:
        target = Target.from_url(child.url)
        body, content_type = not_yours_click()
        raw = signed_request(target, body, content_type, processes.SIGNING_SECRET)
        before = _cpu_seconds(child.pid)
        samples = await closed_loop(target, lambda index: raw, count, concurrency=32, warmup=200)
        used = _cpu_seconds(child.pid) - before
    return Row(
        setup=f"bare Bolt ({kind}), ack only",
        per_s=round(samples.rate, 1),
        requests=samples.count,
        missing=samples.count - samples.statuses.get(200, 0),
        cpu_percent={kind: round(100 * used / samples.seconds, 1)},
    )


async def interactions(
    replicas: int, slack: processes.Child, redis_url: str, users: int, rounds: int, first_batch: int
) -> Row:
    """Whole interactions per second with ``replicas`` bots on one Redis, clicks round-robin over them."""
    clinics = math.ceil((first_batch + rounds) * users / PEOPLE_PER_CLINIC)
    workspace = bench_workspace(clinics, PEOPLE_PER_CLINIC)
    steps = GUIDE.step_count - 1
    with ExitStack() as stack:
        bots = [
            stack.enter_context(processes.bot(f"{slack.url}/api/", redis_url, name=f"replica-{n}"))
            for n in range(replicas)
        ]
        targets = [Target.from_url(bot.url) for bot in bots]
        pids = {f"replica {n + 1}": bot.pid for n, bot in enumerate(bots)} | {"slack sandbox": slack.pid}
        pids |= {"load generator": os.getpid()}
        redis_pid = _redis_pid(redis_url)
        if redis_pid:
            pids["redis"] = redis_pid
        async with httpx.AsyncClient(timeout=30) as http, watching(slack.url, http) as watch:
            walked: list[Guided] = []
            seconds = 0.0
            used = dict.fromkeys(pids, 0.0)
            for batch_index in range(first_batch, first_batch + rounds):
                batch = users_for(batch_index, users)
                await start_guides(workspace, watch, targets, batch)
                before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
                took, _ = await walk(workspace, targets, batch, steps)
                for name, pid in pids.items():
                    used[name] += _cpu_seconds(pid) - before[name]
                seconds += took
                walked += batch
            posted = await step_posts(slack.url, http)
    clicks = [(guided, step) for guided in walked for step, _, _ in guided.clicks]
    done = sum(1 for guided, step in clicks if (guided.thread_ts, step + 1) in posted)
    bot_cpu = sum(seconds_used for name, seconds_used in used.items() if name.startswith("replica"))
    return Row(
        setup=f"aldense-guide run x{replicas}, whole interactions",
        per_s=round(done / seconds, 1) if seconds else 0.0,
        requests=len(clicks),
        missing=len(clicks) - done,
        cpu_percent={name: round(100 * value / seconds, 1) for name, value in used.items()},
        bot_cpu_ms_per_interaction=round(1000 * bot_cpu / done, 2) if done else 0.0,
    )


async def measure(users: int, rounds: int, redis_url: str, ack_count: int) -> list[Row]:
    """Bare Bolt's ack rates, then one replica, then two (fresh users each time)."""
    rows: list[Row] = []
    clinics = math.ceil(2 * rounds * users / PEOPLE_PER_CLINIC)
    with processes.slack_sandbox(clinics, PEOPLE_PER_CLINIC) as slack:
        for kind in ("bolt-pbr", "bolt-default"):
            rows.append(await bolt_ack_rate(kind, f"{slack.url}/api/", ack_count))
        for replicas in (1, 2):
            rows.append(await interactions(replicas, slack, redis_url, users, rounds, (replicas - 1) * rounds))
    return rows


def render(rows: list[Row]) -> str:
    """The table, the CPU split and the scaling verdict."""
    lines = ["Throughput on loopback (Redis state; load generator, sandbox, Redis and replicas share the CPUs)"]
    lines.append(f"{'setup':<48}{'per s':>9}{'requests':>10}{'missing':>9}{'bot CPU ms/interaction':>24}")
    for row in rows:
        cpu = f"{row.bot_cpu_ms_per_interaction:.2f}" if row.bot_cpu_ms_per_interaction else "-"
        lines.append(f"{row.setup:<48}{row.per_s:>9.1f}{row.requests:>10}{row.missing:>9}{cpu:>24}")
    lines += ["", "CPU used during each run (% of one core):"]
    for row in rows:
        split = ", ".join(f"{name} {value:.0f}%" for name, value in row.cpu_percent.items())
        lines.append(f"  {row.setup}: {split}")
    one = next((r for r in rows if r.setup.endswith("x1, whole interactions")), None)
    two = next((r for r in rows if r.setup.endswith("x2, whole interactions")), None)
    if one and two and one.per_s:
        ratio = two.per_s / one.per_s
        verdict = "met" if ratio >= GOAL_SCALING else "NOT met"
        lines += ["", f"two replicas / one: {ratio:.2f}x (goal >= {GOAL_SCALING}x): {verdict}"]
        total = sum(two.cpu_percent.values())
        cores = _cores()
        lines.append(f"  with two replicas the processes together used {total:.0f}% of {100 * cores}% ({cores} cores)")
    return "\n".join(lines)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark, print the table and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100, help="users clicking at once (default 100)")
    parser.add_argument("--rounds", type=int, default=2, help="batches of fresh users per setup (default 2)")
    parser.add_argument("--ack-count", type=int, default=5000, help="acks per bare Bolt run (default 5000)")
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/13", help="a spare Redis database, flushed before and after"
    )
    args = parser.parse_args(argv)
    processes.flush_redis(args.redis_url)
    try:
        rows = asyncio.run(measure(args.users, args.rounds, args.redis_url, args.ack_count))
    finally:
        processes.flush_redis(args.redis_url)
    print(render(rows))
    settings = {"users": args.users, "rounds": args.rounds, "ack_count": args.ack_count, "state": "redis"}
    path = write_results("throughput", settings, rows, goal_scaling=GOAL_SCALING)
    print(machine())
    print(f"wrote {shown(path)}")


if __name__ == "__main__":
    main()
