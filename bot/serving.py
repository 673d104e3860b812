"""Run any ASGI app under uvicorn, with our HTTP limits, on a host and port (port 0 picks a free one)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn

from bot.guarded_http import HttpLimits, guarded_protocol


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its host, so several can share one process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def server_config(app: Any, host: str, port: int, limits: HttpLimits | None = None) -> uvicorn.Config:
    """uvicorn's configuration for ``app``: the guarded HTTP/1.1 protocol and our logging.

    uvicorn is told not to configure logging (``log_config=None``): its loggers then reach our handlers, so its
    lines come out in the configured format (text or JSON) and redacted, like every other line.

    Args:
        app: An ASGI application.
        host: Interface to bind.
        port: TCP port; 0 asks the OS for a free one.
        limits: Deadlines, open-body cap and keep-alive limits; the defaults when omitted.
    """
    limits = limits or HttpLimits()
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(limits),
        ws="none",
        timeout_keep_alive=limits.keepalive_seconds,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="auto",
    )


@contextlib.asynccontextmanager
async def serve(
    app: Any, host: str = "127.0.0.1", port: int = 0, limits: HttpLimits | None = None
) -> AsyncIterator[str]:
    """Serve ``app`` until the block exits, yielding its base URL (``http://host:port``, no trailing slash).

    Args:
        app: An ASGI application.
        host: Interface to bind; loopback by default.
        port: TCP port; 0 asks the OS for a free one.
        limits: HTTP limits (see ``bot.guarded_http``); the defaults when omitted.
    """
    server = _EmbeddedServer(server_config(app, host, port, limits))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError(f"server on {host}:{port} stopped before it started")
        await asyncio.sleep(0.005)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        await task
