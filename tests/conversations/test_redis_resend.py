"""A save or mark whose answer is lost on the way back is re-sent by a client that retries (redis-py's cluster client
does by default); the re-send must not look like a lost race (which would make the caller apply the same move twice)
or like someone else's mark."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from conversations.addresses import NUDGE_QUEUE, ConversationKey
from conversations.store import DueChange
from conversations.stores.redis import RedisStore


def retrying_store(url: str) -> RedisStore:
    """A store whose client re-sends a command when the connection drops before its answer arrives."""
    # Three attempts, as the cluster client makes by default (a single server's client from a URL makes one).
    return RedisStore(aioredis.Redis.from_url(url, decode_responses=True, retry=Retry(NoBackoff(), 3)))


KEY = str(ConversationKey("slack", "T1", "C1", "U1"))


class AnswerCutter:
    """A loopback TCP proxy to Redis that forwards a request carrying ``marker`` but drops the connection instead of
    passing on its answer, once per marker: what a network blip after Redis did the work looks like."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self.markers: set[bytes] = set()
        self.cut = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def aclose(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(*self._target)
        cutting = asyncio.Event()

        async def requests() -> None:
            while data := await client_r.read(65536):
                hit = next((marker for marker in self.markers if marker in data), None)
                if hit is not None:
                    self.markers.discard(hit)
                    cutting.set()
                server_w.write(data)
                await server_w.drain()

        async def answers() -> None:
            while data := await server_r.read(65536):
                if cutting.is_set():
                    self.cut += 1
                    break
                client_w.write(data)
                await client_w.drain()

        pumps = [asyncio.ensure_future(requests()), asyncio.ensure_future(answers())]
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for pump in pumps:
            pump.cancel()
        for writer in (client_w, server_w):
            writer.close()


@pytest.fixture
async def cutter(redis_url: str) -> AsyncIterator[tuple[AnswerCutter, str]]:
    parts = urlsplit(redis_url)
    proxy = AnswerCutter(parts.hostname or "127.0.0.1", parts.port or 6379)
    port = await proxy.start()
    yield proxy, f"redis://127.0.0.1:{port}{parts.path}"
    await proxy.aclose()


async def test_a_save_whose_answer_was_lost_is_not_reported_as_a_conflict(cutter: tuple[AnswerCutter, str]) -> None:
    proxy, url = cutter
    store = retrying_store(url)
    try:
        await store.put("aldense:v1:warm-up", "x", 0)  # Redis now knows the script, so the cut hits the save itself
        proxy.markers.add(b"resend-me")

        version = await store.put(KEY, "resend-me", 0, [DueChange(NUDGE_QUEUE, KEY, 5.0)])

        assert proxy.cut == 1, "the first answer was dropped and redis-py sent the save again"
        assert version == 1
        record = await store.get(KEY)
        assert record is not None
        assert (record.data, record.version) == ("resend-me", 1)
        assert await store.claim_due(NUDGE_QUEUE, 10.0, 1.0, 10) == [KEY]
    finally:
        await store.aclose()


async def test_a_mark_whose_answer_was_lost_is_still_this_callers(cutter: tuple[AnswerCutter, str]) -> None:
    proxy, url = cutter
    store = retrying_store(url)
    try:
        await store.mark_once("aldense:v1:event:warm-up", 60)
        proxy.markers.add(b"Ev-resend")

        assert await store.mark_once("aldense:v1:event:Ev-resend:claim", 60) is True

        assert proxy.cut == 1
        assert await store.mark_once("aldense:v1:event:Ev-resend:claim", 60) is False, "a real second caller loses"
    finally:
        await store.aclose()
