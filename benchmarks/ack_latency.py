"""Benchmark: how fast a signed button click is acknowledged — the bot against bare Bolt and signature-only floors.

Run with ``.venv/bin/python -m benchmarks.ack_latency``. Every server runs alone in its own process on loopback
(the bot as ``aldense-guide run``, pointed at the Slack sandbox in another process); the load generator is this
process. The click is a ``block_actions`` "Done" on a guide that is not the clicker's, so the bot acks, then in
the background posts an ephemeral "not your guide" through the sandbox; the baselines only ack.

A second row for the bot ("real Done") clicks Done on real guides, one click at a time (concurrency 1 only): the
bot saves the move to Redis before it answers (so an acknowledged click survives a crash), so that ack includes the
store's round trips.

A third ("bot-flood") measures the bot at concurrency 1 idle, then again while 200 slow clients (one byte a
second of a header or a body, reopened when the server cuts them) are open, with the server's memory in both
states; the ratio of the two p50s shows what a slow-client flood costs legitimate acks (issue 14, item 12).

Goals (issue 6): the bot's p50 <= 1 ms unloaded, <= 3x the floor's p50 at every rate, and >= 5x faster than bare
Bolt's default (which polls for ``ack()`` every 10 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

from benchmarks import processes
from benchmarks.guides import GUIDE, PEOPLE_PER_CLINIC, done_click, send, start_guides, users_for, watching
from benchmarks.load import Pool, Samples, Target, closed_loop, fixed_rate, percentile, signed_request
from benchmarks.report import machine, shown, write_results
from benchmarks.slack_server import bench_workspace
from bot.fakes.slack import Workspace, payloads
from bot.fakes.slack.workspace import ADMIN, CLINIC_CHANNEL, NURSE
from bot.slack import blocks
from conversations.guide import load_guide

GOAL_UNLOADED_MS = 1.0
GOAL_FLOOR_RATIO = 3.0
GOAL_BOLT_SPEEDUP = 5.0
SLOW_CLIENTS = 200
FLOODED = f"{SLOW_CLIENTS} slow"

SERVERS = {
    "bot": "aldense-guide run (ours)",
    "bot-done": "ours, real Done (saved first)",
    "bot-flood": "ours, idle vs 200 slow clients open",
    "bolt-default": "bare Bolt, default",
    "bolt-pbr": "bare Bolt, process_before_response",
    "starlette": "Starlette+uvicorn, verify only",
    "aiohttp": "aiohttp, verify only (floor)",
}


def not_yours_click() -> tuple[bytes, str]:
    """A Done click by the nurse on the admin's step 1 (the bot acks, then explains it is not theirs)."""
    workspace = Workspace()
    guide = load_guide()
    text, step_blocks = blocks.step_message(guide, 0, ADMIN, None)
    message = {"type": "message", "ts": "1700000000.000100", "text": text, "blocks": step_blocks, "user": "U0BOT"}
    found = payloads.find_action(step_blocks, blocks.ACTION_DONE)
    assert found is not None
    payload = payloads.block_actions(
        workspace,
        user=workspace.user(NURSE),
        channel=workspace.channel(CLINIC_CHANNEL),
        message_ts=message["ts"],
        action=payloads.action_item(found[1], found[0], "1700000001.000200"),
        trigger_id="1.2.bench",
        response_url="http://127.0.0.1:9/response/unused",
        message=message,
        thread_ts="1700000000.000001",
    )
    return payloads.interactivity_body(payload)


@dataclass(frozen=True)
class Row:
    """One server at one load."""

    server: str
    load: str
    p50_ms: float
    p99_ms: float
    requests: int
    achieved_per_s: float
    errors: int
    statuses: dict[str, int]
    client_lag_p99_ms: float
    runs: int = 1
    p50_ms_each_run: tuple[float, ...] = ()
    server_rss_kib: int = 0


def _median_row(runs: list[Row]) -> Row:
    """One row from repeated runs: the median p50 and p99, requests and errors summed."""
    first = runs[0]
    statuses: dict[str, int] = {}
    for run in runs:
        for status, count in run.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    return Row(
        server=first.server,
        load=first.load,
        p50_ms=round(statistics.median(run.p50_ms for run in runs), 3),
        p99_ms=round(statistics.median(run.p99_ms for run in runs), 3),
        requests=sum(run.requests for run in runs),
        achieved_per_s=round(statistics.median(run.achieved_per_s for run in runs), 1),
        errors=sum(run.errors for run in runs),
        statuses=statuses,
        client_lag_p99_ms=max(run.client_lag_p99_ms for run in runs),
        runs=len(runs),
        p50_ms_each_run=tuple(run.p50_ms for run in runs),
        server_rss_kib=max(run.server_rss_kib for run in runs),
    )


def _row(server: str, load: str, samples: Samples, rss_kib: int = 0) -> Row:
    return Row(
        server_rss_kib=rss_kib,
        server=server,
        load=load,
        p50_ms=round(samples.percentile_ms(0.50), 3),
        p99_ms=round(samples.percentile_ms(0.99), 3),
        requests=samples.count,
        achieved_per_s=round(samples.rate, 1),
        errors=samples.errors,
        statuses={str(k): v for k, v in sorted(samples.statuses.items())},
        client_lag_p99_ms=round(percentile(samples.lags, 0.99) * 1000, 3),
    )


@contextmanager
def _server(kind: str, api_url: str, state_dir: Path) -> Iterator[processes.Child]:
    if kind == "bot":
        with processes.bot(api_url, f"sqlite:///{state_dir}/ack.sqlite3") as child:
            yield child
    else:
        with processes.baseline(kind, api_url) as child:
            yield child


async def _measure(url: str, count: int, rates: list[int], seconds: float) -> list[tuple[str, Samples]]:
    target = Target.from_url(url)
    body, content_type = not_yours_click()
    raw = signed_request(target, body, content_type, processes.SIGNING_SECRET)

    def request(index: int) -> bytes:
        return raw

    measured = [("c=1", await closed_loop(target, request, count, concurrency=1, warmup=200))]
    for rate in rates:
        await asyncio.sleep(1.0)  # let background work from the previous load finish
        measured.append((f"{rate}/s", await fixed_rate([target], request, rate, seconds, warmup=50)))
    return measured


async def _measure_flooded(child: processes.Child, count: int) -> list[Row]:
    """c=1 clicks on an idle bot, then with ``SLOW_CLIENTS`` slow connections open; the server's RSS after each."""
    target = Target.from_url(child.url)
    body, content_type = not_yours_click()
    raw = signed_request(target, body, content_type, processes.SIGNING_SECRET)

    def request(index: int) -> bytes:
        return raw

    idle = await closed_loop(target, request, count, concurrency=1, warmup=200)
    rows = [_row("bot-flood", "c=1", idle, child.rss_kib())]
    with processes.slow_clients(child.url, SLOW_CLIENTS):
        flooded = await closed_loop(target, request, count, concurrency=1, warmup=50)
        rss = child.rss_kib()
    rows.append(_row("bot-flood", FLOODED, flooded, rss))
    return rows


def measure(
    kinds: list[str], count: int, rates: list[int], seconds: float, state_dir: Path, redis_url: str, repeat: int = 1
) -> list[Row]:
    """Start each server alone, measure it unloaded and at each rate, stop it; ``repeat`` rounds over all servers.

    Rounds interleave the servers, so a change in the machine's background load hits them all alike; each figure
    is the median over the rounds.
    """
    runs: dict[tuple[str, str], list[Row]] = {}
    with processes.slack_sandbox(clinics=10, people=PEOPLE_PER_CLINIC) as slack:
        api_url = f"{slack.url}/api/"
        for _ in range(repeat):
            for kind in kinds:
                if kind == "bot-flood":
                    with _server("bot", api_url, state_dir) as child:
                        for row in asyncio.run(_measure_flooded(child, count)):
                            runs.setdefault((kind, row.load), []).append(row)
                    continue
                if kind == "bot-done":
                    samples = asyncio.run(_real_done_clicks(slack, redis_url))
                    runs.setdefault((kind, "c=1"), []).append(_row(kind, "c=1", samples))
                    continue
                server: AbstractContextManager[processes.Child] = _server(kind, api_url, state_dir)
                with server as child:
                    for load, samples in asyncio.run(_measure(child.url, count, rates, seconds)):
                        runs.setdefault((kind, load), []).append(_row(kind, load, samples))
    return [_median_row(measured) for measured in runs.values()]


async def _real_done_clicks(slack: processes.Child, redis_url: str, users: int = 100) -> Samples:
    """Acks of Done clicks on real guides, one at a time, each user's next click after their step arrived."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    workspace = bench_workspace(10, PEOPLE_PER_CLINIC)
    samples = Samples()
    try:
        with processes.bot(f"{slack.url}/api/", redis_url) as bot:
            target = Target.from_url(bot.url)
            pool = Pool()
            async with httpx.AsyncClient(timeout=30) as http, watching(slack.url, http) as watch:
                batch = users_for(0, users)
                await start_guides(workspace, watch, [target], batch)
                began = time.perf_counter()
                for _ in range(GUIDE.step_count - 1):
                    for guided in batch:
                        await asyncio.wait_for(guided.arrived.wait(), 30)
                        guided.arrived.clear()
                        status, ack = await send(pool, target, done_click(workspace, guided))
                        samples.add(ack, status)
                        guided.step += 1
                samples.seconds = time.perf_counter() - began
            pool.close()
    finally:
        client.flushdb()
        client.close()
    return samples


def _find(rows: list[Row], server: str, load: str) -> Row | None:
    return next((r for r in rows if r.server == server and r.load == load), None)


def render(rows: list[Row]) -> str:
    """A table of p50/p99 per server and load, ratios against the floor, and the goals' verdicts."""
    loads = list(dict.fromkeys(row.load for row in rows))
    servers = list(dict.fromkeys(row.server for row in rows))
    header = f"{'server':<36}" + "".join(f"{load + ' p50/p99 ms':>22}" for load in loads)
    repeat = max((row.runs for row in rows), default=1)
    title = f"Ack latency of a signed Done click on loopback (p50 / p99 ms, median of {repeat} rounds)"
    lines = [title, header]
    for server in servers:
        cells = []
        for load in loads:
            row = _find(rows, server, load)
            cells.append(f"{row.p50_ms:>10.2f} / {row.p99_ms:<9.2f}" if row else f"{'-':>22}")
        lines.append(f"{SERVERS.get(server, server):<36}" + "".join(cells))
    statuses = {row.server: row.statuses for row in rows if row.load == "c=1"}
    lines.append("")
    lines.append("HTTP statuses at c=1: " + ", ".join(f"{k} {v}" for k, v in statuses.items()))
    lags = max((row.client_lag_p99_ms for row in rows), default=0.0)
    lines.append(f"load generator start lag p99 (worst run): {lags:.2f} ms")
    lines += [line for line in (_flood_line(rows),) if line]
    lines += ["", *verdicts(rows, loads)]
    return "\n".join(lines)


def _flood_line(rows: list[Row]) -> str:
    idle, flooded = _find(rows, "bot-flood", "c=1"), _find(rows, "bot-flood", FLOODED)
    if not (idle and flooded):
        return ""
    return (
        f"server RSS: idle {idle.server_rss_kib / 1024:.0f} MiB, with {SLOW_CLIENTS} slow clients "
        f"{flooded.server_rss_kib / 1024:.0f} MiB"
    )


def verdicts(rows: list[Row], loads: list[str]) -> list[str]:
    """One line per goal of the issue, with the measured figure."""
    out: list[str] = []
    idle, flooded = _find(rows, "bot-flood", "c=1"), _find(rows, "bot-flood", FLOODED)
    if idle and flooded and idle.p50_ms:
        out.append(
            f"bot p50 with {SLOW_CLIENTS} slow clients open / idle: {flooded.p50_ms / idle.p50_ms:.2f}x "
            f"({flooded.p50_ms:.2f} vs {idle.p50_ms:.2f} ms; p99 {flooded.p99_ms:.2f} vs {idle.p99_ms:.2f} ms)"
        )
    bot = _find(rows, "bot", "c=1")
    if bot is not None:
        met = bot.p50_ms <= GOAL_UNLOADED_MS
        verdict = "met" if met else "NOT met"
        out.append(f"bot p50 unloaded {bot.p50_ms:.2f} ms (goal <= {GOAL_UNLOADED_MS} ms): {verdict}")
    for load in loads:
        ours, floor, bolt = (_find(rows, name, load) for name in ("bot", "aiohttp", "bolt-default"))
        if ours and floor and floor.p50_ms and load == "c=1":
            ratio = ours.p50_ms / floor.p50_ms
            out.append(f"{load:>6}: bot/floor p50 {ratio:.2f}x (the floor goal is for the fixed rates)")
        elif ours and floor and floor.p50_ms:
            ratio = ours.p50_ms / floor.p50_ms
            tail = ours.p99_ms / floor.p99_ms if floor.p99_ms else 0.0
            verdict = "met" if ratio <= GOAL_FLOOR_RATIO else "NOT met"
            out.append(
                f"{load:>6}: bot/floor p50 {ratio:.2f}x (goal <= {GOAL_FLOOR_RATIO}x: {verdict}), p99 {tail:.2f}x"
            )
        if ours and bolt and ours.p50_ms:
            speedup = bolt.p50_ms / ours.p50_ms
            verdict = "met" if speedup >= GOAL_BOLT_SPEEDUP else "NOT met"
            out.append(f"{'':>6}  bare Bolt default / bot p50 {speedup:.1f}x (goal >= {GOAL_BOLT_SPEEDUP}x: {verdict})")
    return out


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark, print the table and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000, help="measured clicks at concurrency 1 (default 2000)")
    parser.add_argument("--rates", default="50,200,500", help="fixed rates per second (default 50,200,500)")
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds at each rate (default 6)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds over all servers; medians reported (default 3)")
    parser.add_argument("--servers", default=",".join(SERVERS), help=f"subset of {','.join(SERVERS)}")
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/13", help="a spare Redis database for bot-done (flushed)"
    )
    args = parser.parse_args(argv)
    rates = [int(r) for r in args.rates.split(",") if r]
    kinds = [k for k in args.servers.split(",") if k]
    with tempfile.TemporaryDirectory(prefix="bench-ack-") as state_dir:
        rows = measure(kinds, args.count, rates, args.seconds, Path(state_dir), args.redis_url, args.repeat)
    print(render(rows))
    settings = {"count": args.count, "rates": rates, "seconds_per_rate": args.seconds, "repeat": args.repeat}
    loads = list(dict.fromkeys(row.load for row in rows))
    path = write_results("ack_latency", settings, rows, verdicts=verdicts(rows, loads))
    print(machine())
    print(f"wrote {shown(path)}")


if __name__ == "__main__":
    main()
