"""Slow and broken clients over loopback: header and body deadlines, the open-body cap, keep-alive limits, quiet logs.

Every test opens a handful of raw connections to 127.0.0.1 and waits for the server to act (bounded by
``BOUND`` seconds), with deadlines of about a second so each test takes a few seconds at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from bot.fakes.slack import SlackApiSandbox, Workspace, payloads
from bot.guarded_http import HttpLimits
from bot.runtime import open_runtime
from bot.serving import serve
from bot.slack.endpoint import MAX_BODY_BYTES
from tests.bot.harness import SIGNING_SECRET, RunningBot, bot_settings
from tests.bot.shipped import ShippedLogs
from tests.quick_stop import QUICK_STOP

# No wait in these tests may exceed this; each one is expected to end far sooner.
BOUND = 20.0
FAST = HttpLimits(header_seconds=1, body_seconds=1, open_bodies=2, keepalive_seconds=1, requests_per_connection=3)
SLOW_CUT = "closed a slow connection"

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@contextlib.asynccontextmanager
async def guarded_bot(api: SlackApiSandbox, tmp_path: Path, limits: HttpLimits) -> AsyncIterator[str]:
    """The real bot served with ``limits``; yields its base URL."""
    settings = bot_settings(api, f"sqlite:///{tmp_path}/state.sqlite3")
    async with (
        open_runtime(settings) as runtime,
        serve(runtime.http_app, limits=limits, poll_seconds=QUICK_STOP) as url,
    ):
        yield url
        await runtime.core.tasks.drain(5)


async def connect(url: str) -> Stream:
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1"
    return await asyncio.open_connection(parts.hostname, parts.port)


def post_head(length: int, path: str = "/slack/events") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


async def until_closed(stream: Stream, drip: bool = False) -> bytes:
    """Read until the server closes; with ``drip``, keep sending a byte every 50 ms meanwhile (a slow client)."""
    reader, writer = stream
    answer = asyncio.ensure_future(reader.read())
    async with asyncio.timeout(BOUND):
        while drip and not answer.done():
            with contextlib.suppress(ConnectionError):
                writer.write(b"a")
                await writer.drain()
            await asyncio.wait([answer], timeout=0.05)
        try:
            return await answer
        except ConnectionResetError:
            return b"(reset)"  # the server closed with a dripped byte unread: the connection is cut all the same
        finally:
            writer.close()


async def exchange(stream: Stream, request: bytes) -> tuple[bytes, bytes]:
    """Send one request and read its response (head, body) on a kept-alive connection."""
    reader, writer = stream
    writer.write(request)
    async with asyncio.timeout(BOUND):
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
        return head, await reader.readexactly(length)


async def logged(caplog: pytest.LogCaptureFixture, text: str, count: int = 1) -> list[logging.LogRecord]:
    async with asyncio.timeout(BOUND):
        while len(found := [r for r in caplog.records if text in r.getMessage()]) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.01)  # caplog offers nothing to wait on; the loop is bounded by the timeout
    return found


@pytest.fixture
def info(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


async def test_a_connection_that_sends_nothing_or_half_a_header_gets_408(
    api: SlackApiSandbox, tmp_path: Path, info: pytest.LogCaptureFixture
) -> None:
    async with guarded_bot(api, tmp_path, FAST) as url:
        silent = await connect(url)
        half = await connect(url)
        half[1].write(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\n")
        answers = [await until_closed(silent), await until_closed(half)]
    assert [answer.split(b"\r\n", 1)[0] for answer in answers] == [b"HTTP/1.1 408 Request Timeout"] * 2
    cuts = [r.getMessage() for r in info.records if SLOW_CUT in r.getMessage()]
    assert cuts == ["closed a slow connection: header not complete in time (408)"] * 2


async def test_a_header_dripped_a_byte_at_a_time_is_cut_at_its_deadline(
    api: SlackApiSandbox, tmp_path: Path, info: pytest.LogCaptureFixture
) -> None:
    async with guarded_bot(api, tmp_path, FAST) as url:
        dripping = await connect(url)
        dripping[1].write(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nX-Slow: ")
        await until_closed(dripping, drip=True)
    assert [r.getMessage() for r in info.records if SLOW_CUT in r.getMessage()] == [
        "closed a slow connection: header not complete in time (408)"
    ]


async def test_a_body_dripped_or_stalled_is_cut_at_its_deadline_with_one_line_and_no_error(
    api: SlackApiSandbox, tmp_path: Path, info: pytest.LogCaptureFixture, shipped_logs: ShippedLogs
) -> None:
    async with guarded_bot(api, tmp_path, FAST) as url:
        stalled, dripping = await connect(url), await connect(url)
        for _, writer in (stalled, dripping):
            writer.write(post_head(100_000) + b'{"type": ')
        answers = await asyncio.gather(until_closed(stalled), until_closed(dripping, drip=True))
    assert answers[0].split(b"\r\n", 1)[0] == b"HTTP/1.1 408 Request Timeout"
    cuts = [r.getMessage() for r in info.records if SLOW_CUT in r.getMessage()]
    assert sorted(cuts) == ["closed a slow connection: body not complete in time (408)"] * 2
    assert [r.getMessage() for r in info.records if r.levelno >= logging.WARNING] == []
    assert not [r for r in info.records if "went away" in r.getMessage()]  # one line per cut, not two
    assert "Traceback" not in shipped_logs.text()


async def test_a_body_still_dripping_after_an_early_answer_is_cut_without_a_second_answer(
    api: SlackApiSandbox, tmp_path: Path, info: pytest.LogCaptureFixture
) -> None:
    async with guarded_bot(api, tmp_path, FAST) as url:
        dripping = await connect(url)
        dripping[1].write(post_head(MAX_BODY_BYTES + 1) + b"{")  # answered 413 from its Content-Length alone
        answer = await until_closed(dripping, drip=True)
    if answer != b"(reset)":
        assert answer.startswith(b"HTTP/1.1 413 ")
        assert b"408" not in answer
    assert [r.getMessage() for r in info.records if SLOW_CUT in r.getMessage()] == [
        "closed a slow connection: body not complete in time"
    ]


async def test_over_the_cap_the_oldest_body_is_cut_and_a_quick_request_still_gets_through(
    api: SlackApiSandbox, tmp_path: Path, info: pytest.LogCaptureFixture
) -> None:
    limits = HttpLimits(header_seconds=BOUND * 2, body_seconds=BOUND * 2, open_bodies=2)
    async with guarded_bot(api, tmp_path, limits) as url, httpx.AsyncClient(timeout=BOUND) as http:
        slow = [await connect(url) for _ in range(3)]
        for _, writer in slow:
            writer.write(post_head(1000) + b"{")
        reads = [asyncio.ensure_future(reader.read()) for reader, _ in slow]
        # Three bodies for two places: one is cut with 408 at once, long before any deadline.
        done, _ = await asyncio.wait(reads, timeout=BOUND, return_when=asyncio.FIRST_COMPLETED)
        assert [task.result().split(b"\r\n", 1)[0] for task in done] == [b"HTTP/1.1 408 Request Timeout"]
        body, content_type = payloads.json_body(payloads.url_verification(Workspace(), "still-served"))
        headers = {"Content-Type": content_type, **payloads.signature_headers(body, SIGNING_SECRET, int(time.time()))}
        quick = await http.post(url + "/slack/events", content=body, headers=headers)
        assert (quick.status_code, quick.json()) == (200, {"challenge": "still-served"})
        for task in reads:
            task.cancel()
        for _, writer in slow:
            writer.close()
    shed = [r.getMessage() for r in info.records if "body shed" in r.getMessage()]
    # The quick request never waited for a place: a body that arrives with its header is never counted, and one
    # that follows a moment later takes the place of the oldest slow body (so one or two were shed, never more).
    assert set(shed) == {"closed a slow connection: body shed: too many bodies arriving at once (408)"}
    assert len(shed) in (1, 2)


async def test_a_body_over_the_cap_waits_unread_rather_than_shed_a_young_one(
    api: SlackApiSandbox, tmp_path: Path, info: pytest.LogCaptureFixture
) -> None:
    limits = HttpLimits(header_seconds=BOUND, body_seconds=1, open_bodies=1, shed_after_seconds=BOUND * 2)
    async with guarded_bot(api, tmp_path, limits) as url:
        first, second = await connect(url), await connect(url)
        for _, writer in (first, second):
            writer.write(post_head(1000) + b"{")
        answers = await asyncio.gather(until_closed(first), until_closed(second))
    # Neither was shed (the open one was younger than shed_after): each ran out its own body deadline.
    assert [answer.split(b"\r\n", 1)[0] for answer in answers] == [b"HTTP/1.1 408 Request Timeout"] * 2
    assert [r.getMessage() for r in info.records if SLOW_CUT in r.getMessage()] == [
        "closed a slow connection: body not complete in time (408)"
    ] * 2


async def test_a_keep_alive_connection_closes_after_its_request_limit_and_when_idle(
    api: SlackApiSandbox, tmp_path: Path
) -> None:
    get = b"GET /healthz HTTP/1.1\r\nHost: bot\r\n\r\n"
    async with guarded_bot(api, tmp_path, FAST) as url:
        busy = await connect(url)
        heads = [(await exchange(busy, get))[0].lower() for _ in range(FAST.requests_per_connection)]
        closed_after_limit = await until_closed(busy)
        idle = await connect(url)
        idle_head, _ = await exchange(idle, get)
        closed_when_idle = await until_closed(idle)
    assert [b"connection: close" in head for head in heads] == [False, False, True]
    assert (closed_after_limit, closed_when_idle) == (b"", b"")
    assert b"connection: close" not in idle_head.lower()


async def test_a_client_gone_mid_body_is_one_quiet_line_not_a_traceback(
    bot: RunningBot, info: pytest.LogCaptureFixture, shipped_logs: ShippedLogs
) -> None:
    gone = await connect(bot.url)
    gone[1].write(post_head(5000) + b'{"type": "event_callback", ')
    await gone[1].drain()
    gone[1].close()
    [line] = await logged(info, "the client went away")
    await bot.runtime.core.tasks.drain(5)
    assert line.levelno == logging.INFO
    assert line.getMessage() == "the client went away before its request was complete (POST /slack/events)"
    assert [r.getMessage()[:200] for r in info.records if r.levelno >= logging.WARNING] == []
    written = shipped_logs.text()
    assert "Traceback" not in written
    if shipped_logs.format == "json":
        [shipped] = [r for r in shipped_logs.records() if "went away" in r["message"]]
        assert json.dumps(shipped)
        assert len(shipped["request_id"]) == 32
