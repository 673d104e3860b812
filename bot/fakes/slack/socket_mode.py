"""Slack's Socket Mode on loopback: WebSocket links handed out by ``apps.connections.open``, envelopes out, acks back.

What Slack does, and so this stand-in (aiohttp's WebSocket server; uvicorn here has no WebSocket support)::

    client ── apps.connections.open (xapp- token) ──► {"url": "ws://127.0.0.1:PORT/link/?ticket=…"}
    client ── connects ──► server: {"type": "hello", "num_connections": n, "connection_info": {"app_id": …}, …}
    server: {"envelope_id", "type": events_api|interactive|slash_commands, "payload", "accepts_response_payload",
             "retry_attempt", "retry_reason"}
    client: {"envelope_id", "payload"?}                    the ack; its payload answers when accepted
    server: {"type": "disconnect", "reason": "refresh_requested"|"warning"|"link_disabled", "debug_info"}
            the client asks apps.connections.open again and moves to the new link

A ticket is good for one connection. Only the newest connection gets envelopes, as when Slack rotates a link.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

JSON = dict[str, Any]
HOST = "applink-sandbox"


class SocketModeError(Exception):
    """No client is connected, or none acknowledged an envelope in time."""


@dataclass
class Ack:
    """A client's answer to one envelope: its id and, when the envelope accepts one, the response payload."""

    envelope_id: str
    payload: JSON | None


@dataclass
class _Link:
    ticket: str
    socket: web.WebSocketResponse
    open: bool = True


@dataclass
class SentEnvelope:
    """One envelope sent to the app, and the ack it got (None while unanswered)."""

    envelope: JSON
    link: str
    ack: Ack | None = None


@dataclass
class _Pending:
    future: asyncio.Future[Ack]
    sent: SentEnvelope


class SocketModeServer:
    """Slack's Socket Mode side: hands out links, sends envelopes to the newest connection, collects acks.

    Args:
        app_id: Named in each ``hello``.
        ack_timeout: Seconds an envelope waits for its ack (Slack waits 3 s before it retries).
    """

    def __init__(self, app_id: str, *, ack_timeout: float = 3.0) -> None:
        self.app_id = app_id
        self.ack_timeout = ack_timeout
        self.url: str | None = None
        self.sent: list[SentEnvelope] = []
        self.connections_opened = 0
        self._tickets: set[str] = set()
        self._links: list[_Link] = []
        self._pending: dict[str, _Pending] = {}
        self._ids = itertools.count(1)
        self._connected = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve on loopback for the block; yields the base ``ws://`` URL."""
        app = web.Application()
        app.router.add_get("/link/", self._link)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]
        self.url = f"ws://{host}:{bound}"
        try:
            yield self.url
        finally:
            for link in self._links:
                if link.open:
                    await link.socket.close()
            await runner.cleanup()
            self.url = None

    def open_connection(self) -> str:
        """A fresh one-use link for ``apps.connections.open``."""
        if self.url is None:
            raise SocketModeError("the Socket Mode server is not being served")
        ticket = secrets.token_hex(8)
        self._tickets.add(ticket)
        return f"{self.url}/link/?ticket={ticket}&app_id={self.app_id}"

    @property
    def connections(self) -> int:
        """How many links are open now."""
        return sum(1 for link in self._links if link.open)

    async def wait_for_connections(self, opened: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until ``opened`` connections in all have been made (and the newest is open)."""

        def ready() -> bool:
            return self.connections_opened >= opened and bool(self._links) and self._links[-1].open

        async with asyncio.timeout(timeout), self._connected:
            await self._connected.wait_for(ready)

    async def send(
        self,
        kind: str,
        payload: JSON,
        *,
        accepts_response_payload: bool = False,
        retry_attempt: int = 0,
        retry_reason: str = "",
        envelope_id: str | None = None,
    ) -> Ack:
        """Send one envelope to the newest connection and wait for its ack.

        Args:
            kind: ``events_api``, ``interactive`` or ``slash_commands``.
            payload: What Slack would have posted over HTTP (an event callback, an interaction, a command's fields).
            accepts_response_payload: Whether the ack's payload answers (view submissions, commands).
            retry_attempt: Slack's redelivery count (0 for the first delivery).
            retry_reason: Why it redelivers (``timeout``, say).
            envelope_id: Reuse an id; a fresh one by default.

        Raises:
            SocketModeError: No connection, or no ack within ``ack_timeout``.
        """
        link = self._newest()
        envelope_id = envelope_id or f"{next(self._ids):08d}-{secrets.token_hex(6)}"
        envelope: JSON = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if kind == "events_api":
            envelope |= {"retry_attempt": retry_attempt, "retry_reason": retry_reason}
        sent = SentEnvelope(envelope, link.ticket)
        self.sent.append(sent)
        pending = _Pending(asyncio.get_running_loop().create_future(), sent)
        self._pending[envelope_id] = pending
        await link.socket.send_str(json.dumps(envelope))
        try:
            async with asyncio.timeout(self.ack_timeout):
                return await pending.future
        except TimeoutError:
            raise SocketModeError(f"envelope {envelope_id} was not acknowledged in {self.ack_timeout} s") from None
        finally:
            self._pending.pop(envelope_id, None)

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the connected client to move to a new link, as Slack does every few hours."""
        link = self._newest()
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": HOST}}
        await link.socket.send_str(json.dumps(message))

    async def drop(self) -> None:
        """Close the newest connection abruptly (a network blip)."""
        link = self._newest()
        await link.socket.close()

    def _newest(self) -> _Link:
        for link in reversed(self._links):
            if link.open:
                return link
        raise SocketModeError("no Socket Mode client is connected")

    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid or used ticket")
        self._tickets.discard(ticket)
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        link = _Link(ticket, socket)
        self._links.append(link)
        hello = {
            "type": "hello",
            "num_connections": self.connections,
            "debug_info": {"host": HOST, "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }
        await socket.send_str(json.dumps(hello))
        async with self._connected:
            self.connections_opened += 1
            self._connected.notify_all()
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    self._acknowledged(message.data)
        finally:
            link.open = False
        return socket

    def _acknowledged(self, text: str) -> None:
        try:
            answer = json.loads(text)
        except ValueError:
            return
        if not isinstance(answer, dict) or not isinstance(answer.get("envelope_id"), str):
            return
        pending = self._pending.get(answer["envelope_id"])
        if pending is None or pending.future.done():
            return
        payload = answer.get("payload")
        ack = Ack(answer["envelope_id"], payload if isinstance(payload, dict) else None)
        pending.sent.ack = ack
        pending.future.set_result(ack)
