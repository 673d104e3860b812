"""uvicorn's HTTP/1.1 protocol with the limits it lacks: header and body deadlines, a cap on open bodies, keep-alive.

Why a uvicorn protocol class and not another server: uvicorn accepts a custom ``http`` protocol class, and its
h11 protocol exposes the three moments that matter (a connection opens, a request's header is complete, its body
is complete), so the limits are a few timers and a counter around code that is otherwise unchanged — the same
server, ASGI handling, logging and shutdown the bot already runs on. uvicorn alone bounds a header's size (h11's
16 KiB) and idle keep-alive time, but not how long a header or body may take: a client sending one byte a second
held its connection, and the body buffered so far, for ever. Hypercorn offers keep-alive and size limits too; we did
not verify that it has whole-request deadlines, and moving server would change every test's and the playground's
serving for this one gap. (Checked against uvicorn 0.54: ``H11Protocol`` is subclassed, ``httptools`` is not used.)

The limits (``HttpLimits``, from settings):

- **Header deadline**: from the first byte of a request (or the connection opening) to its complete header.
- **Body deadline**: from a complete header to the complete body. A signature can only be checked over the whole
  body, so until then a body is unauthenticated; none may take longer than this.
- **Open bodies**: at most this many bodies arrive at once in one server (a body that comes in the same read as
  its header is never counted). Another one waits, unread, for a place; when the oldest open body has been
  arriving for ``shed_after_seconds`` (a legitimate body takes milliseconds), it is cut to make room. So slow
  bodies cannot lock legitimate requests out for long, memory stays bounded (open bodies × the endpoints' body
  limits), and a client that is cut gets no quick answer to reconnect on: sheds are at most ``open_bodies`` per
  ``shed_after_seconds``, the rest wait out their body deadline (else a flood of reconnecting slow clients would
  become a flood of requests).
- **Keep-alive**: an idle connection closes after ``keepalive_seconds`` (uvicorn's timer), and a connection closes
  (``Connection: close``) after ``requests_per_connection`` requests.

A cut answers ``408 Request Timeout`` when no response has started, closes the connection and logs one INFO line.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.flow_control import CLOSE_HEADER
from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger(__name__)

# Set in a request's ASGI scope when the server cut it, so the app does not log the disconnect a second time.
CUT_EXTENSION = "aldense.cut"

_TIMEOUT_BODY = b"request timeout\n"
_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY)
)


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """How long a request may take to arrive, how many bodies may arrive at once, and keep-alive limits."""

    header_seconds: float = 10.0
    body_seconds: float = 10.0
    open_bodies: int = 32
    shed_after_seconds: float = 1.0
    keepalive_seconds: int = 5
    requests_per_connection: int = 1000


class OpenBodies:
    """The requests of one server whose body is still arriving (oldest first), and those waiting for a place."""

    def __init__(self, cap: int, shed_after: float) -> None:
        self._cap = cap
        self._shed_after = shed_after
        self._open: dict[GuardedH11Protocol, float] = {}  # insertion-ordered: the first is the oldest
        self._waiting: dict[GuardedH11Protocol, None] = {}
        self._check: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._open)

    def admit(self, protocol: GuardedH11Protocol) -> None:
        """Let ``protocol``'s body arrive now, or make it wait (not read) until a place is free."""
        self._waiting[protocol] = None
        protocol.transport.pause_reading()
        self._fill()

    def finished(self, protocol: GuardedH11Protocol) -> None:
        """``protocol``'s body arrived, was cut, or its connection went away: its place (if any) is free."""
        self._waiting.pop(protocol, None)
        if self._open.pop(protocol, None) is not None:
            self._fill()

    def _fill(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            if len(self._open) >= self._cap:
                oldest, since = next(iter(self._open.items()))
                if loop.time() - since < self._shed_after:
                    self._recheck(loop, since + self._shed_after)
                    return
                self._open.pop(oldest)
                oldest.cut("body shed: too many bodies arriving at once")
            protocol = next(iter(self._waiting))
            del self._waiting[protocol]
            self._open[protocol] = loop.time()
            protocol.transport.resume_reading()

    def _recheck(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._check is None or self._check.when() > when:
            if self._check is not None:
                self._check.cancel()
            self._check = loop.call_at(when, self._rechecked)

    def _rechecked(self) -> None:
        self._check = None
        self._fill()


class GuardedH11Protocol(H11Protocol):
    """``H11Protocol`` plus the deadlines and caps of ``HttpLimits``; built per server by ``guarded_protocol``."""

    limits: ClassVar[HttpLimits] = HttpLimits()
    bodies: ClassVar[OpenBodies] = OpenBodies(HttpLimits().open_bodies, HttpLimits().shed_after_seconds)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._in_body = False
        self._served = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Open the connection; its first request's header is due within the header deadline."""
        super().connection_made(transport)
        self._arm(self.limits.header_seconds, "header not complete in time")

    def data_received(self, data: bytes) -> None:
        """Bytes in: the first byte of a request starts its header deadline."""
        if self._deadline is None and (self.cycle is None or self.cycle.response_complete):
            self._arm(self.limits.header_seconds, "header not complete in time")
        super().data_received(data)

    def handle_events(self) -> None:
        """Let uvicorn parse, then follow the request from header to body to done."""
        before = self.cycle
        super().handle_events()
        cycle = self.cycle
        if cycle is not None and cycle is not before:  # a new request's header is complete
            self._disarm()
            self._served += 1
            if self._served >= self.limits.requests_per_connection:
                # uvicorn answers a request that asked to close with Connection: close, then closes.
                cycle.scope["headers"].append(CLOSE_HEADER)  # type: ignore[attr-defined]
            if cycle.more_body:
                self._in_body = True
                self.bodies.admit(self)
                self._arm(self.limits.body_seconds, "body not complete in time")
        if self._in_body and cycle is not None and not cycle.more_body:
            self._body_done()

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection closed: stop its timer and stop counting its body."""
        self._disarm()
        if self._in_body:
            self._body_done()
        super().connection_lost(exc)

    def cut(self, reason: str) -> None:
        """Close the connection (with 408 when no response has started) and log ``reason`` once."""
        self._disarm()
        in_body = self._in_body
        if in_body:
            self._body_done(cancel_timer=False)
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is None:  # the first request's header
            answering = True
        elif in_body:  # the app may have answered already (a 413 before the body's end, say)
            answering = not cycle.response_started
        else:  # a later request's header, after the previous response
            answering = cycle.response_complete
        if cycle is not None and not cycle.response_complete:
            extensions: dict[str, Any] = cycle.scope.setdefault("extensions", {})
            extensions[CUT_EXTENSION] = reason
        if answering:
            self.transport.write(_TIMEOUT)
        self.transport.close()
        logger.info("closed a slow connection: %s%s", reason, " (408)" if answering else "")

    def _body_done(self, cancel_timer: bool = True) -> None:
        self._in_body = False
        self.bodies.finished(self)
        if cancel_timer:
            self._disarm()

    def _arm(self, seconds: float, reason: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, reason)

    def _expired(self, reason: str) -> None:
        self._deadline = None
        self.cut(reason)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None


def guarded_protocol(limits: HttpLimits) -> type[GuardedH11Protocol]:
    """A protocol class for one server (``uvicorn.Config(http=…)``): its own limits and its own open-body count."""
    own = {"limits": limits, "bodies": OpenBodies(limits.open_bodies, limits.shed_after_seconds)}
    return type("GuardedH11Protocol", (GuardedH11Protocol,), own)
