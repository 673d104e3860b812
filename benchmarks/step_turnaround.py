"""Benchmark: from a Done click to the next step arriving at Slack, with 100 users clicking at once, state on Redis.

Run with ``.venv/bin/python -m benchmarks.step_turnaround``. The bot runs as ``aldense-guide run`` with
``STATE_URL=redis://…/<spare db>`` (flushed before and after), the Slack sandbox in another process. Each of the
users starts a guide, then clicks Done on each step after a think time (uniform between half and one and a half
times ``--think`` seconds; 1 s by default, about 100 clicks a second from 100 people, where a real person takes
tens of seconds per step). A second run with no think time at all shows saturation: then the clicks queue and
Little's law sets the latency (users / throughput). Turnaround is the sandbox's receipt of the next step's
``chat.postMessage`` minus the moment the click was sent. The click's own answer (the ack, which waits for the
move to be saved) is reported beside it.

Goal (issue 6): p99 turnaround <= 50 ms at 100 users (judged on the run with think time).
"""

from __future__ import annotations

import argparse
import asyncio
import math
from dataclasses import dataclass

import httpx

from benchmarks import processes
from benchmarks.guides import GUIDE, PEOPLE_PER_CLINIC, Guided, start_guides, step_posts, users_for, walk, watching
from benchmarks.load import Target, percentile
from benchmarks.report import machine, shown, write_results
from benchmarks.slack_server import bench_workspace

GOAL_P99_MS = 50.0


@dataclass(frozen=True)
class Result:
    """The figures of one run."""

    users: int
    think_s: float
    rounds: int
    clicks: int
    missing: int
    turnaround_p50_ms: float
    turnaround_p99_ms: float
    turnaround_max_ms: float
    ack_p50_ms: float
    ack_p99_ms: float
    clicks_per_s: float
    non_200: int


async def measure(users: int, rounds: int, thinks: list[float], redis_url: str) -> list[Result]:
    """Start the sandbox and the bot on Redis; for each think time walk ``rounds`` batches of fresh users."""
    total = users * rounds * len(thinks)
    clinics = math.ceil(total / PEOPLE_PER_CLINIC)
    workspace = bench_workspace(clinics, PEOPLE_PER_CLINIC)
    steps = GUIDE.step_count - 1  # the last step takes a key, not a Done
    results = []
    with (
        processes.slack_sandbox(clinics, PEOPLE_PER_CLINIC) as slack,
        processes.bot(f"{slack.url}/api/", redis_url) as bot,
    ):
        target = Target.from_url(bot.url)
        async with httpx.AsyncClient(timeout=30) as http, watching(slack.url, http) as watch:
            batch_index = 0
            for think in thinks:
                walked: list[Guided] = []
                seconds, non_200 = 0.0, 0
                for _ in range(rounds):
                    batch = users_for(batch_index, users)
                    batch_index += 1
                    await start_guides(workspace, watch, [target], batch)
                    took, failures = await walk(workspace, [target], batch, steps, think, seed=batch_index)
                    seconds += took
                    non_200 += failures
                    walked += batch
                posted = await step_posts(slack.url, http)
                results.append(summarise(walked, posted, users, think, rounds, seconds, non_200))
    return results


def summarise(
    walked: list[Guided],
    posted: dict[tuple[str, int], float],
    users: int,
    think: float,
    rounds: int,
    seconds: float,
    non_200: int,
) -> Result:
    """Turnarounds and acks of every click of ``walked``."""
    turnarounds, acks, missing = [], [], 0
    for guided in walked:
        for step, sent, ack in guided.clicks:
            acks.append(ack)
            at = posted.get((guided.thread_ts, step + 1))
            if at is None:
                missing += 1
            else:
                turnarounds.append(at - sent)
    return Result(
        users=users,
        think_s=think,
        rounds=rounds,
        clicks=len(acks),
        missing=missing,
        turnaround_p50_ms=round(percentile(turnarounds, 0.50) * 1000, 2),
        turnaround_p99_ms=round(percentile(turnarounds, 0.99) * 1000, 2),
        turnaround_max_ms=round(max(turnarounds, default=0.0) * 1000, 2),
        ack_p50_ms=round(percentile(acks, 0.50) * 1000, 2),
        ack_p99_ms=round(percentile(acks, 0.99) * 1000, 2),
        clicks_per_s=round(len(acks) / seconds, 1) if seconds else 0.0,
        non_200=non_200,
    )


def render(results: list[Result]) -> str:
    """The table and the goal's verdict."""
    first = results[0]
    lines = [
        f"Done click -> next step at Slack, {first.users} users at once, {first.rounds} rounds each, Redis state",
        f"{'think s':>8}{'clicks':>8}{'per s':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'ack p50':>9}{'ack p99':>9}{'missing':>9}",
    ]
    for r in results:
        lines.append(
            f"{r.think_s:>8.1f}{r.clicks:>8}{r.clicks_per_s:>8.1f}{r.turnaround_p50_ms:>9.2f}{r.turnaround_p99_ms:>9.2f}"
            f"{r.turnaround_max_ms:>9.2f}{r.ack_p50_ms:>9.2f}{r.ack_p99_ms:>9.2f}{r.missing:>9}"
        )
    lines.append("")
    for r in results:
        if r.think_s:
            verdict = "met" if r.turnaround_p99_ms <= GOAL_P99_MS and not r.missing else "NOT met"
            lines.append(
                f"think {r.think_s:.1f} s: p99 turnaround {r.turnaround_p99_ms:.1f} ms "
                f"(goal <= {GOAL_P99_MS:.0f} ms): {verdict}"
            )
        else:
            lines.append(
                f"no think time: saturated at {r.clicks_per_s:.0f} clicks/s, so a click waits about "
                f"{r.users / r.clicks_per_s * 1000 if r.clicks_per_s else 0:.0f} ms (users / throughput)"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark, print the table and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100, help="users clicking at once (default 100)")
    parser.add_argument("--rounds", type=int, default=2, help="batches of fresh users per think time (default 2)")
    parser.add_argument("--think", default="1.0,0", help="mean think times in seconds (default 1.0,0)")
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/13", help="a spare Redis database, flushed before and after"
    )
    args = parser.parse_args(argv)
    thinks = [float(t) for t in args.think.split(",") if t]
    processes.flush_redis(args.redis_url)
    try:
        results = asyncio.run(measure(args.users, args.rounds, thinks, args.redis_url))
    finally:
        processes.flush_redis(args.redis_url)
    print(render(results))
    settings = {"users": args.users, "rounds": args.rounds, "think_s": thinks, "state": "redis"}
    path = write_results("step_turnaround", settings, results, goal_p99_ms=GOAL_P99_MS)
    print(machine())
    print(f"wrote {shown(path)}")


if __name__ == "__main__":
    main()
