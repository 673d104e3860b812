"""``POST /slack/events``: a size limit, Slack's signature and a shape check before Bolt sees a request.

Slack's certificate check (a form with ``ssl_check=1``) is answered 200 before the signature check, as Bolt does:
it carries nothing and the bot does nothing for it.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Sequence

from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import extract_channel_id, extract_user_id
from slack_sdk.signature import Clock, SignatureVerifier
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.core.deliveries import Replays
from bot.logs import bind_ids
from bot.slack import envelope

logger = logging.getLogger(__name__)

PATH = "/slack/events"
PLATFORM = "slack"
# Slack's largest bodies (a modal's view with its state) are far below this.
MAX_BODY_BYTES = 512 * 1024


class _Clock(Clock):
    """slack_sdk's verifier asks a clock object for ``now()``; this one reads an injected function."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


class SlackEndpoint:
    """``POST /slack/events``: size limit, signature check and shape check, then Bolt. Bodies are never logged."""

    def __init__(
        self,
        bolt: AsyncApp,
        signing_secret: str,
        clock: Callable[[], float] = time.time,
        replays: Replays | None = None,
    ) -> None:
        self._bolt = bolt
        self._replays = replays
        self._verifier = SignatureVerifier(signing_secret, clock=_Clock(clock))

    async def handle(self, request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            return _error(413, "request body too large")
        received = bytearray()
        async for chunk in request.stream():
            received += chunk
            if len(received) > MAX_BODY_BYTES:
                return _error(413, "request body too large")
        body = bytes(received)
        if envelope.is_ssl_check(request.headers.get("content-type", ""), body):
            # Slack checks the certificate when a request URL is saved; it wants a 200 and nothing is done.
            return Response(status_code=200)
        if not self._signed(body, request.headers):
            logger.warning("rejected a request with a missing, forged or stale Slack signature")
            return _error(401, "invalid request")
        try:
            parsed = envelope.parse(request.headers.get("content-type", ""), body)
        except envelope.EnvelopeError as exc:
            logger.warning("rejected a signed request: %s", exc)
            return _error(400, str(exc))
        _bind_ids(parsed.fields)
        if await self._replayed(parsed, request.headers):
            logger.warning("ignored a replayed Slack request (its signature was already used)")
            return Response(status_code=200)
        # Bolt gets the checked fields as JSON whatever the form, so it dispatches exactly what was checked.
        headers: dict[str, str | Sequence[str]] = {**request.headers, "content-type": envelope.JSON_TYPE}
        try:
            bolt_request = AsyncBoltRequest(body=parsed.json_text, query=str(request.query_params), headers=headers)
            return to_starlette_response(await self._bolt.async_dispatch(bolt_request))
        except Exception as exc:
            # Exception messages can quote the body; log where it failed, never what it said.
            where = "".join(traceback.format_tb(exc.__traceback__))
            logger.error("Bolt failed on a signed request with %s (message withheld):\n%s", type(exc).__name__, where)
            return _error(500, "internal error")

    async def _replayed(self, parsed: envelope.Envelope, headers: Headers) -> bool:
        """Whether a click, form or command was already accepted with this very signature.

        Events API deliveries are left to ``event_id`` de-duplication: whether Slack re-signs a retry is not
        documented, and a retry whose first delivery was never processed must still be handled.
        """
        if self._replays is None or parsed.fields.get("type") == "event_callback":
            return False
        return not await self._replays.first_time(PLATFORM, _proof(headers))

    @property
    def route(self) -> Route:
        """``POST /slack/events`` for the HTTP app."""
        return Route(PATH, self.handle, methods=["POST"])

    def _signed(self, body: bytes, headers: Headers) -> bool:
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        # slack_sdk raises ValueError (a 500) for a timestamp that is not a number or a body that is not UTF-8.
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            return False
        try:
            return bool(self._verifier.is_valid(body, timestamp, signature))
        except ValueError:
            return False


def _proof(headers: Headers) -> bytes:
    """What makes a signed request unique: its timestamp and signature (which covers the body)."""
    return f"{headers.get('x-slack-request-timestamp', '')}:{headers.get('x-slack-signature', '')}".encode()


def _bind_ids(fields: dict[str, object]) -> None:
    """This request's log lines (and the work it starts) carry its platform, channel and user ids."""
    try:  # Bolt's own readers, over a body whose id fields the envelope check has shape-checked
        channel, user = extract_channel_id(fields), extract_user_id(fields)
    except (AttributeError, KeyError, TypeError, IndexError):
        channel = user = None
    bind_ids(
        platform="slack",
        channel=channel if isinstance(channel, str) else None,
        user=user if isinstance(user, str) else None,
    )


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=status)
