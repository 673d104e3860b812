"""Every HTTP request gets an id: in its log lines, in the work it starts, and in its ``X-Request-Id`` response header.

An incoming ``X-Request-Id`` (from a load balancer or proxy) is kept when it is well formed: exactly one such header,
8 to 128 characters, each an ASCII letter, digit, ``-``, ``_``, ``.`` or ``:`` (UUIDs, ULIDs, hex and most proxies'
ids). Anything else is never echoed, into a header or a log line: the request gets a fresh id instead.
"""

from __future__ import annotations

import logging
import re
import uuid

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.guarded_http import CUT_EXTENSION
from bot.logs import ids_scope

logger = logging.getLogger(__name__)

HEADER = "X-Request-Id"
_HEADER = HEADER.lower().encode("ascii")
WELL_FORMED = re.compile(rb"[A-Za-z0-9._:-]{8,128}")


def request_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The request's id: its well-formed ``X-Request-Id`` if it has exactly one, else a fresh one."""
    given = [value for name, value in headers if name.lower() == _HEADER]
    if len(given) == 1 and WELL_FORMED.fullmatch(given[0]):
        return given[0].decode("ascii")
    return uuid.uuid4().hex


class RequestIds:
    """ASGI middleware: binds the request id for the request's task (and tasks it starts) and sets the header.

    It also turns a client that went away mid-body (Starlette's ``ClientDisconnect``, which would otherwise reach
    uvicorn as a 40-line traceback at ERROR) into one INFO line.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        rid = request_id(scope["headers"])
        header = (_HEADER, rid.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(name, value) for name, value in message.get("headers", []) if name.lower() != _HEADER]
                message = {**message, "headers": [*kept, header]}
            await send(message)

        with ids_scope(request_id=rid):
            try:
                await self._app(scope, receive, send_with_id)
            except ClientDisconnect:
                # The server already logged a request it cut itself (a deadline, or too many bodies at once).
                if CUT_EXTENSION not in scope.get("extensions", {}):
                    logger.info("the client went away before its request was complete (%s %s)", *_where(scope))


_PATH = re.compile(r"[\w/.-]{1,200}", re.ASCII)


def _where(scope: Scope) -> tuple[str, str]:
    path = str(scope.get("path", ""))
    # The path is the client's text: only a plain one goes into the line.
    return str(scope.get("method", "?"))[:16], path if _PATH.fullmatch(path) else "(path withheld)"
