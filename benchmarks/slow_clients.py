"""Slow clients for the benchmarks: connections that send a header or a body one byte a second, kept open.

Run in a process of its own (``python -m benchmarks.slow_clients URL --count 200``), so the flood's work never
delays the load generator's measurements; it prints ``open`` once every connection is open, and runs until stopped.

Half the connections drip a header (never finishing it), half send a complete header for a large body and drip
the body. When the server cuts one (its deadlines, or too many bodies at once), it is opened again, so ``count``
slow connections stay open (or being reopened) for as long as the flood runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from benchmarks.load import Target

# Just under the bot's Slack body limit: the most memory one slow body can make the server hold.
BODY_BYTES = 500 * 1024


@dataclass
class Flood:
    """What the slow connections saw while the flood ran."""

    target_count: int
    opened: int = 0
    cut: int = 0
    refused: int = 0
    all_open: asyncio.Event = field(default_factory=asyncio.Event)


async def _slow_connection(target: Target, body: bool, drip_seconds: float, flood: Flood) -> None:
    while True:
        try:
            reader, writer = await asyncio.open_connection(target.host, target.port)
        except OSError:
            flood.refused += 1
            await asyncio.sleep(drip_seconds)
            continue
        flood.opened += 1
        if flood.opened >= flood.target_count:
            flood.all_open.set()
        head = f"POST {target.path} HTTP/1.1\r\nHost: {target.host}:{target.port}\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {BODY_BYTES}\r\n\r\n{{"
        else:
            head += "X-Slow: "
        closed = asyncio.ensure_future(reader.read())
        try:
            writer.write(head.encode())
            while not closed.done():
                await asyncio.wait([closed], timeout=drip_seconds)
                writer.write(b"a")
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            closed.cancel()
            writer.close()
        flood.cut += 1


@contextlib.asynccontextmanager
async def slow_clients(target: Target, count: int, drip_seconds: float = 1.0) -> AsyncIterator[Flood]:
    """Keep ``count`` slow connections to ``target`` open while the block runs.

    Args:
        target: The server (its Slack endpoint's path is used).
        count: How many connections; half drip a header, half a body.
        drip_seconds: Time between two bytes on each connection.
    """
    flood = Flood(count)
    tasks = [
        asyncio.create_task(_slow_connection(target, index % 2 == 1, drip_seconds, flood), name=f"slow-{index}")
        for index in range(count)
    ]
    try:
        # Every connection has sent its first bytes before the block measures anything.
        await flood.all_open.wait()
        yield flood
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _flood_until_stopped(target: Target, count: int) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with slow_clients(target, count) as flood:
        print("open", flush=True)
        await stop.wait()
    print(f"cut {flood.cut} opened {flood.opened} refused {flood.refused}", flush=True)


def main(argv: list[str] | None = None) -> None:
    """Keep slow connections open to a server until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="the server's base URL, e.g. http://127.0.0.1:41234")
    parser.add_argument("--count", type=int, default=200, help="slow connections (default 200)")
    args = parser.parse_args(argv)
    asyncio.run(_flood_until_stopped(Target.from_url(args.url), args.count))


if __name__ == "__main__":
    main()
