"""The benchmarks' load generator: it reads whole keep-alive responses, keeps its rate, and ranks percentiles."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from benchmarks.load import Target, closed_loop, fixed_rate, percentile, signed_request
from bot.serving import serve
from tests.quick_stop import QUICK_STOP


def _app(seen: list[bytes]) -> Starlette:
    async def endpoint(request: Request) -> Response:
        seen.append(await request.body())
        body = await request.body()
        return PlainTextResponse("x" * len(body), status_code=201 if body.endswith(b"7") else 200)

    return Starlette(routes=[Route("/slack/events", endpoint, methods=["POST"])])


async def test_closed_loop_sends_every_request_and_reads_every_answer() -> None:
    seen: list[bytes] = []
    async with serve(_app(seen), poll_seconds=QUICK_STOP) as url:
        target = Target.from_url(url)
        samples = await closed_loop(
            target, lambda i: signed_request(target, str(i).encode(), "text/plain", "s"), 40, concurrency=4, warmup=5
        )
    assert samples.count == 40
    assert samples.errors == 0
    assert len(seen) == 45  # warm-up included
    assert samples.statuses == {200: 36, 201: 4}  # bodies ending in 7 among 5..44, answers parsed one by one
    assert all(latency > 0 for latency in samples.latencies)


async def test_fixed_rate_keeps_its_rate_whatever_the_answers_take() -> None:
    seen: list[bytes] = []
    async with serve(_app(seen), poll_seconds=QUICK_STOP) as url:
        target = Target.from_url(url)
        samples = await fixed_rate([target], lambda i: signed_request(target, b"ok", "text/plain", "s"), 100, 0.5)
    assert samples.count == 50
    assert 0.45 < samples.seconds < 0.75
    assert len(samples.lags) == 50


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile(values, 1.0)) == (50.0, 99.0, 100.0)
    assert percentile([], 0.5) == 0.0
    assert percentile([3.0], 0.99) == 3.0


async def test_a_connection_the_server_closes_is_not_reused() -> None:
    from bot.guarded_http import HttpLimits

    seen: list[bytes] = []
    async with serve(_app(seen), limits=HttpLimits(requests_per_connection=2), poll_seconds=QUICK_STOP) as url:
        target = Target.from_url(url)
        samples = await closed_loop(
            target, lambda i: signed_request(target, b"x", "text/plain", "s"), 10, concurrency=1, warmup=1
        )
    assert (samples.count, samples.errors) == (10, 0)  # every second answer said Connection: close
