"""The driver with Socket Mode in place of signed HTTP: every request a person causes goes to the app as an envelope."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import httpx

from bot.fakes.slack.api import SlackApiSandbox
from bot.fakes.slack.driver import ACK_DEADLINE, Delivery, DriverError, SlackDriver
from bot.fakes.slack.socket_mode import SocketModeServer


def envelope_kind(payload: Mapping[str, Any]) -> tuple[str, bool]:
    """The envelope ``type`` Slack wraps ``payload`` in, and whether the ack's payload answers it."""
    if "command" in payload:
        return "slash_commands", True
    if payload.get("type") == "event_callback":
        return "events_api", False
    return "interactive", payload.get("type") == "view_submission"


class SocketModeDriver(SlackDriver):
    """Acts for users like :class:`SlackDriver`, delivering over the sandbox's Socket Mode instead of HTTP.

    Args:
        api: A served api sandbox made with ``socket_mode=True``, whose link the app has connected to.
        http: A client (for the response_urls a test may post to).
        clock: Unix time for event times.
        ack_deadline: Seconds Slack waits for an ack.
    """

    def __init__(
        self,
        api: SlackApiSandbox,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.time,
        ack_deadline: float = ACK_DEADLINE,
    ) -> None:
        if api.socket is None:
            raise ValueError("the api sandbox serves no Socket Mode (make it with socket_mode=True)")
        super().__init__("http://socket-mode.invalid", "", api, http, clock=clock, ack_deadline=ack_deadline)
        self.socket: SocketModeServer = api.socket

    async def deliver(self, *args: Any, **kwargs: Any) -> httpx.Response:
        """Socket Mode carries no signed HTTP bodies."""
        raise DriverError("Socket Mode delivers envelopes, not signed HTTP bodies")

    async def _send(
        self,
        payload: Mapping[str, Any],
        encoded: tuple[bytes, str],
        *,
        headers: Mapping[str, str] | None = None,
        trigger_id: str | None = None,
        response_url: str | None = None,
    ) -> Delivery:
        kind, accepts = envelope_kind(payload)
        retry = dict(headers or {})
        loop = asyncio.get_running_loop()
        started = loop.time()
        ack = await self.socket.send(
            kind,
            dict(payload),
            accepts_response_payload=accepts,
            retry_attempt=int(retry.get("X-Slack-Retry-Num", "0")),
            retry_reason=retry.get("X-Slack-Retry-Reason", ""),
        )
        response = httpx.Response(200, json=ack.payload) if ack.payload is not None else httpx.Response(200)
        response.elapsed = timedelta(seconds=loop.time() - started)
        body, content_type = encoded
        return Delivery(
            response, ack.payload, payload, body, content_type, retry, trigger_id, response_url, self.ack_deadline
        )
