"""Run any ASGI app under uvicorn, with our HTTP limits, on a host and port (port 0 picks a free one)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn

from bot.guarded_http import HttpLimits, guarded_protocol


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its host, so several can share one process.

    It stops as soon as :meth:`stop` is called, where uvicorn's own loop looks for a stop request every 0.1 s; and
    while stopping it gives open connections ``poll_seconds`` to close and looks again every ``poll_seconds``, where
    uvicorn waits 0.1 s each time (the default). Tests that start and stop hundreds of servers pass a shorter one.
    """

    def __init__(self, config: uvicorn.Config, poll_seconds: float = 0.1) -> None:
        super().__init__(config)
        self.poll_seconds = poll_seconds
        self._stopping = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def stop(self) -> None:
        """Ask the server to stop (its :meth:`serve` returns once connections and lifespan are done)."""
        self.should_exit = True
        self._stopping.set()

    async def main_loop(self) -> None:
        # uvicorn's loop (its ticks refresh the Date header), woken at once by stop().
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), 0.1)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn's shutdown, with poll_seconds where it waits a fixed 0.1 s.
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        await asyncio.sleep(self.poll_seconds)
        try:
            await asyncio.wait_for(self._finish_open_work(), timeout=self.config.timeout_graceful_shutdown)
        except TimeoutError:
            for task in self.server_state.tasks:
                task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        if not self.force_exit:
            await self.lifespan.shutdown()

    async def _finish_open_work(self) -> None:
        # uvicorn's sets of connections and tasks offer nothing to wait on: look again every poll_seconds.
        while (self.server_state.connections or self.server_state.tasks) and not self.force_exit:  # noqa: ASYNC110
            await asyncio.sleep(self.poll_seconds)
        for server in self.servers:
            await server.wait_closed()


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
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    limits: HttpLimits | None = None,
    *,
    poll_seconds: float = 0.1,
) -> AsyncIterator[str]:
    """Serve ``app`` until the block exits, yielding its base URL (``http://host:port``, no trailing slash).

    Args:
        app: An ASGI application.
        host: Interface to bind; loopback by default.
        port: TCP port; 0 asks the OS for a free one.
        limits: HTTP limits (see ``bot.guarded_http``); the defaults when omitted.
        poll_seconds: How often a stopping server looks whether its connections closed (uvicorn's 0.1 s by
            default); tests that start and stop many servers pass a shorter one.
    """
    server = _EmbeddedServer(server_config(app, host, port, limits), poll_seconds)
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
        server.stop()
        await task
