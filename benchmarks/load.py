"""The load generator: signed requests over keep-alive HTTP/1.1 on raw asyncio streams, closed loop or fixed rate.

It runs in the benchmark's own process while every server under test runs in a process of its own, so client and
server never share an event loop. Raw streams keep the client's own cost per request to a few tens of
microseconds; the aiohttp "floor" server measured beside the others shows what is left of it.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.fakes.slack import payloads


@dataclass(frozen=True, slots=True)
class Target:
    """Where requests go: ``host``, ``port`` and the path of Slack's endpoint."""

    host: str
    port: int
    path: str = "/slack/events"

    @classmethod
    def from_url(cls, url: str, path: str = "/slack/events") -> Target:
        """A target from a base URL such as ``http://127.0.0.1:41234``."""
        parts = urlsplit(url)
        return cls(parts.hostname or "127.0.0.1", parts.port or 80, path)


def signed_request(target: Target, body: bytes, content_type: str, secret: str, at: int | None = None) -> bytes:
    """The exact bytes of a signed POST, ready to write to a connection (valid for Slack's five minutes)."""
    stamp = int(time.time()) if at is None else at
    headers = payloads.signature_headers(body, secret, stamp)
    lines = [
        f"POST {target.path} HTTP/1.1",
        f"Host: {target.host}:{target.port}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
        "",
        "",
    ]
    return "\r\n".join(lines).encode() + body


class ProtocolError(Exception):
    """The server answered with something this small client does not read (chunked bodies, say)."""


class Connection:
    """One keep-alive connection that sends a request and reads the whole response."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.closing = False  # the server said ``Connection: close`` (the bot does after N requests)

    @classmethod
    async def open(cls, target: Target) -> Connection:
        """Connect to ``target``."""
        reader, writer = await asyncio.open_connection(target.host, target.port)
        return cls(reader, writer)

    async def exchange(self, raw: bytes) -> tuple[int, bytes]:
        """Send one request and return the response's status and body."""
        self._writer.write(raw)
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            lowered = name.strip().lower()
            if lowered == b"content-length":
                length = int(value)
            elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
                raise ProtocolError("chunked responses are not supported")
            elif lowered == b"connection" and b"close" in value.lower():
                self.closing = True
        body = await self._reader.readexactly(length) if length else b""
        return status, body

    def close(self) -> None:
        """Close the connection."""
        self._writer.close()


# uvicorn closes a keep-alive connection after 5 s idle; one idle longer than this is not reused.
_MAX_IDLE_SECONDS = 3.0


class Pool:
    """Idle keep-alive connections to targets, opened on demand (so in-flight requests never queue here)."""

    def __init__(self) -> None:
        self._idle: dict[Target, list[tuple[Connection, float]]] = {}

    async def exchange(self, target: Target, raw: bytes) -> tuple[int, bytes]:
        """Send ``raw`` on an idle connection to ``target`` (or a new one)."""
        idle = self._idle.setdefault(target, [])
        connection = None
        while idle and connection is None:
            candidate, since = idle.pop()
            if time.monotonic() - since < _MAX_IDLE_SECONDS:
                connection = candidate
            else:
                candidate.close()
        if connection is None:
            connection = await Connection.open(target)
        try:
            answer = await connection.exchange(raw)
        except BaseException:
            connection.close()
            raise
        if connection.closing:
            connection.close()
        else:
            idle.append((connection, time.monotonic()))
        return answer

    def close(self) -> None:
        """Close every idle connection."""
        for connections in self._idle.values():
            for connection, _ in connections:
                connection.close()
        self._idle.clear()


@dataclass
class Samples:
    """Latencies in seconds and what went wrong, from one run."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    seconds: float = 0.0
    lags: list[float] = field(default_factory=list)

    def add(self, latency: float, status: int) -> None:
        """Record one answered request."""
        self.latencies.append(latency)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    @property
    def count(self) -> int:
        """Answered requests."""
        return len(self.latencies)

    @property
    def rate(self) -> float:
        """Answered requests per second of the run."""
        return self.count / self.seconds if self.seconds else 0.0

    def percentile_ms(self, fraction: float) -> float:
        """The latency (milliseconds) below which ``fraction`` of requests fall (nearest rank)."""
        return percentile(self.latencies, fraction) * 1000


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))
    return ordered[rank]


def median_ms(values: list[float]) -> float:
    """The median in milliseconds (0 when empty)."""
    return statistics.median(values) * 1000 if values else 0.0


async def closed_loop(
    target: Target, request: Callable[[int], bytes], count: int, concurrency: int = 1, warmup: int = 100
) -> Samples:
    """``concurrency`` workers each send a request as soon as their previous one is answered.

    Args:
        target: Where to send.
        request: Builds request ``i``'s bytes.
        count: Measured requests in total (after ``warmup`` unmeasured ones).
        concurrency: Requests in flight at once.
        warmup: Requests sent first and not measured (connections, caches, first-call set-up).
    """
    pool = Pool()
    samples = Samples()
    try:
        for index in range(warmup):
            await pool.exchange(target, request(index))
        counter = iter(range(count))

        async def worker() -> None:
            for index in counter:
                raw = request(warmup + index)
                started = time.perf_counter()
                try:
                    status, _ = await pool.exchange(target, raw)
                except (OSError, asyncio.IncompleteReadError, ProtocolError):
                    samples.errors += 1
                    continue
                samples.add(time.perf_counter() - started, status)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        samples.seconds = time.perf_counter() - began
    finally:
        pool.close()
    return samples


async def fixed_rate(
    targets: list[Target], request: Callable[[int], bytes], rate: float, seconds: float, warmup: int = 100
) -> Samples:
    """Send ``rate`` requests per second for ``seconds``, round-robin over ``targets``, whatever the answers take.

    Requests are started on schedule however long earlier answers take (an open loop, so a slow server cannot
    make the client send less). Latency runs from writing the request to reading the answer; how late the client
    itself started each request is kept in ``Samples.lags`` to show the client kept up.
    """
    pool = Pool()
    samples = Samples()
    try:
        for index in range(warmup):
            await pool.exchange(targets[index % len(targets)], request(index))
        total = int(rate * seconds)
        interval = 1.0 / rate
        tasks: set[asyncio.Task[None]] = set()

        async def one(index: int, due: float) -> None:
            raw = request(warmup + index)
            started = time.perf_counter()
            samples.lags.append(started - due)
            try:
                status, _ = await pool.exchange(targets[index % len(targets)], raw)
            except (OSError, asyncio.IncompleteReadError, ProtocolError):
                samples.errors += 1
                return
            samples.add(time.perf_counter() - started, status)

        began = time.perf_counter()
        for index in range(total):
            due = began + index * interval
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(index, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
        samples.seconds = time.perf_counter() - began
    finally:
        pool.close()
    return samples
