"""Benchmark: a scope check's wall time as a multiple of one ``GET /v1/user``, on the loopback sandbox with latency.

Run with ``.venv/bin/python -m benchmarks.scope_check``. A check with the region known sends its reads, then (unless
Dentally introspects) its calibrated write probes and controls: two round trips, so the goal is within 2.5x of a
single call, which holds only if each round really runs concurrently; with token info it is one round (goal 1.3x).
"Detect" asks every region at once first, so it costs one round trip more (about 3x).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import SecretStr

from benchmarks.report import load_average, machine
from bot.serving import serve
from dentally.client import ClientFactory
from dentally.regions import Endpoints, RegionChoice, RegionId
from dentally.sandbox import Sandbox, sample_keys, switches_for
from dentally.scopes import ScopeChecker, Verdict

RESULTS = Path(__file__).parent / "results" / "scope_check.json"
GOAL_RATIO = 2.5
"""Two round trips, plus room for the client's own work."""
GOAL_RATIO_INTROSPECTED = 1.3


@dataclass(frozen=True)
class Row:
    """One measured scenario."""

    scenario: str
    median_ms: float
    p90_ms: float
    requests: int
    ratio_to_single: float


async def _timed(action: Callable[[], Awaitable[int]]) -> tuple[float, int]:
    started = time.perf_counter()
    requests = await action()
    return time.perf_counter() - started, requests


async def measure(runs: int, latency_ms: int) -> list[Row]:
    """Interleave the four scenarios ``runs`` times against one sandbox and summarise each."""
    sandbox = Sandbox()
    introspecting = Sandbox(switches=switches_for(["token-info"]))
    keys = sample_keys()
    uk_key, au_key = SecretStr(keys["all_scopes"].key), SecretStr(keys["au_all_scopes"].key)
    async with serve(sandbox) as url, serve(introspecting) as other, httpx.AsyncClient() as http:
        factory = ClientFactory(http, Endpoints(f"{url}/{{region}}"))
        checker = ScopeChecker(factory)
        told = ScopeChecker(ClientFactory(http, Endpoints(f"{other}/{{region}}")))
        uk_client, au_client = factory.for_region("uk", uk_key), factory.for_region("au", au_key)

        async def single(region: RegionId) -> int:
            client = uk_client if region == "uk" else au_client
            response = await client.request("GET", "/v1/user")
            assert response.status_code == 200
            return 1

        async def check(token: SecretStr, region: RegionChoice, using: ScopeChecker = checker) -> int:
            result = await using.check(token, region)
            assert result.verdict is Verdict.VERIFIED, result.reason
            return result.requests_made

        scenarios: dict[str, Callable[[], Awaitable[int]]] = {
            "GET /v1/user (uk)": lambda: single("uk"),
            "check, region given (uk)": lambda: check(uk_key, "uk"),
            "check, given, token info (uk)": lambda: check(uk_key, "uk", told),
            "GET /v1/user (au)": lambda: single("au"),
            "check, detect (au = 2nd region)": lambda: check(au_key, "detect"),
        }
        # Warm up without latency: open the pooled connections a long-lived bot client would already hold.
        for action in scenarios.values():
            await action()
        sandbox.switches.latency_ms = latency_ms
        introspecting.switches.latency_ms = latency_ms
        samples: dict[str, list[float]] = {name: [] for name in scenarios}
        requests: dict[str, int] = {}
        for _ in range(runs):
            for name, action in scenarios.items():
                seconds, requests[name] = await _timed(action)
                samples[name].append(seconds)

    def summary(name: str, baseline: str) -> Row:
        times = sorted(samples[name])
        median = statistics.median(times)
        return Row(
            scenario=name,
            median_ms=round(median * 1000, 1),
            p90_ms=round(times[int(0.9 * (len(times) - 1))] * 1000, 1),
            requests=requests[name],
            ratio_to_single=round(median / statistics.median(samples[baseline]), 2),
        )

    return [
        summary("GET /v1/user (uk)", "GET /v1/user (uk)"),
        summary("check, region given (uk)", "GET /v1/user (uk)"),
        summary("check, given, token info (uk)", "GET /v1/user (uk)"),
        summary("GET /v1/user (au)", "GET /v1/user (au)"),
        summary("check, detect (au = 2nd region)", "GET /v1/user (au)"),
    ]


def render(rows: list[Row], runs: int, latency_ms: int) -> str:
    """The results as a table, with the goal verdict underneath."""
    lines = [
        f"Scope check on the loopback sandbox, {latency_ms} ms added latency, median of {runs} runs",
        f"{'scenario':<34}{'median ms':>10}{'p90 ms':>9}{'requests':>10}{'x single':>10}",
    ]
    for row in rows:
        lines.append(
            f"{row.scenario:<34}{row.median_ms:>10.1f}{row.p90_ms:>9.1f}{row.requests:>10}{row.ratio_to_single:>10.2f}"
        )
    given = next(r for r in rows if r.scenario.startswith("check, region given"))
    told = next(r for r in rows if r.scenario.startswith("check, given, token info"))
    detect = next(r for r in rows if r.scenario.startswith("check, detect"))
    lines += [
        "",
        f"region given: {given.ratio_to_single:.2f}x one GET /v1/user, two rounds "
        f"(goal <= {GOAL_RATIO}: {'met' if given.ratio_to_single <= GOAL_RATIO else 'NOT met'})",
        f"region given, Dentally introspects: {told.ratio_to_single:.2f}x, one round, no write sent "
        f"(goal <= {GOAL_RATIO_INTROSPECTED}: {_met(told.ratio_to_single <= GOAL_RATIO_INTROSPECTED)})",
        f"detect: {detect.ratio_to_single:.2f}x; every region at once, then the two rounds, "
        "so about three round trips is expected",
    ]
    return "\n".join(lines)


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark, print the table and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15, help="measured runs per scenario (default 15)")
    parser.add_argument("--latency-ms", type=int, default=100, help="latency the sandbox adds (default 100)")
    args = parser.parse_args(argv)
    rows = asyncio.run(measure(args.runs, args.latency_ms))
    print(render(rows, args.runs, args.latency_ms))
    print(machine())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "scope_check",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "load_average": load_average(),
        "runs": args.runs,
        "latency_ms": args.latency_ms,
        "goal_ratio": GOAL_RATIO,
        "goal_ratio_introspected": GOAL_RATIO_INTROSPECTED,
        "rows": [asdict(row) for row in rows],
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")


if __name__ == "__main__":
    main()
