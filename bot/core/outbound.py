"""One outbound scheduler per platform: every call waits for its budget, and what people wait for goes first.

A call names the budgets it spends (a method's tier per workspace; a channel's or conversation's pace) and its
priority. Waiting calls that share a budget leave in priority order, oldest first within one priority: a clinic's
next step overtakes support's card refreshes, which overtake the support thread, which overtakes cosmetic edits.
Calls below ``CLINIC`` also leave a reserve in each budget, so a clinic that clicks next finds budget waiting.
A 429 pauses the budget it hit for its ``Retry-After``, shared through the store so every replica pauses, and the
call is queued again; no call is sent into a known 429 window.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import IntEnum
from itertools import count
from typing import Protocol, TypeVar

from bot.core.metrics import Metrics
from conversations.addresses import store_key

T = TypeVar("T")
logger = logging.getLogger(__name__)

# Share of a budget's burst that calls below CLINIC leave unspent.
RESERVE_SHARE = 0.2
# Share of a published rate the scheduler spends: the platform's clock starts its buckets when our calls arrive,
# a little later and unevenly, so spending exactly the published rate would now and then arrive a moment early.
RATE_MARGIN = 0.9
# Waits shorter than this are rounding (Unix time in a float keeps about a microsecond).
EPSILON = 1e-4
# How often a call is queued again after a 429 or a retryable answer before its error is raised.
ATTEMPTS = 4


class Priority(IntEnum):
    """Who is waiting for a call, most urgent first."""

    CLINIC = 0  # a person in a clinic: the next step, a key result, a modal
    CARD = 1  # support's status card
    THREAD = 2  # support's thread
    COSMETIC = 3  # tidying: closing old steps, marking an opener connected


_priority: ContextVar[Priority] = ContextVar("outbound_priority", default=Priority.CLINIC)


@contextlib.contextmanager
def priority(level: Priority) -> Iterator[None]:
    """Platform calls made inside this block are queued at ``level`` (``CLINIC`` outside any such block)."""
    token = _priority.set(level)
    try:
        yield
    finally:
        _priority.reset(token)


def current_priority() -> Priority:
    """The priority calls made here are queued at."""
    return _priority.get()


class Budget(Protocol):
    """A token bucket: ``burst`` calls at once, refilled at ``count`` per ``seconds``."""

    @property
    def count(self) -> int: ...

    @property
    def seconds(self) -> float: ...

    @property
    def burst(self) -> int: ...


class Pauses(Protocol):
    """Where replicas share the 429 windows they were told of (the state store)."""

    async def pause_until(self, key: str, until: float) -> float:
        """Record a pause of ``key`` until ``until`` (a later one stays); the pause in force, 0.0 for none."""
        ...


@dataclass(frozen=True, slots=True)
class Retry:
    """How long to wait before trying a failed call again, and whether the platform said "too many" (429)."""

    seconds: float
    rate_limited: bool


@dataclass(slots=True)
class _Bucket:
    rate: float
    burst: float
    tokens: float
    stamp: float

    def level(self, now: float) -> float:
        return min(self.burst, self.tokens + max(0.0, now - self.stamp) * self.rate)


@dataclass(eq=False, slots=True)
class _Ticket:
    level: Priority
    seq: int
    method: str
    budgets: tuple[tuple[str, Budget], ...]
    not_before: float = 0.0
    keys: frozenset[str] = field(default=frozenset())

    @property
    def order(self) -> tuple[int, int]:
        return (self.level, self.seq)


class Outbound:
    """The scheduler of one platform's outbound calls (one per process and platform)."""

    def __init__(
        self,
        platform: str,
        metrics: Metrics,
        retry: Callable[[BaseException, int], Retry | None],
        pauses: Pauses | None = None,
        share: float = 1.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        enabled: bool = True,
    ) -> None:
        """Args:
        platform: The platform's name (a metrics label, and the prefix of shared pauses).
        metrics: Where delays are counted.
        retry: How long to wait before retrying a call that failed with this error at this attempt (from 0); None:
            do not retry.
        pauses: Where 429 windows are shared with other replicas (None: this process alone).
        share: The part of every budget this replica may spend (0.5 for each of two replicas).
        clock: Unix time.
        sleep: How to wait (tests pass a fake clock's).
        enabled: False spends no budget (the stand-in enforces none); 429s are still honoured.
        """
        self._platform = platform
        self._metrics = metrics
        self._retry = retry
        self._pauses = pauses
        self._share = share
        self._clock = clock
        self._sleep = sleep
        self._enabled = enabled
        self._seq = count()
        self._buckets: dict[str, _Bucket] = {}
        self._paused: dict[str, float] = {}
        self._waiting: list[_Ticket] = []
        self._changed = asyncio.Event()

    async def send(
        self,
        method: str,
        budgets: Sequence[tuple[str, Budget]],
        call: Callable[[], Awaitable[T]],
        level: Priority | None = None,
    ) -> T:
        """Make ``call`` when ``budgets`` allow and nothing more urgent waits for them; retry what ``retry`` allows.

        Args:
            method: The platform method (a metrics label; e.g. ``chat.update``).
            budgets: (key, budget) pairs the call spends one of each; the first key is also the one a 429 pauses.
            call: The call.
            level: Its priority (the surrounding ``priority`` block's when None).
        """
        level = current_priority() if level is None else level
        ticket = _Ticket(level, next(self._seq), method, tuple(budgets))
        ticket.keys = frozenset(key for key, _ in ticket.budgets)
        entered = self._clock()
        waited = False
        for attempt in range(ATTEMPTS + 1):
            waited = await self._admit(ticket) or waited
            if attempt == 0:
                labels = (self._platform, method, level.name.lower())
                if waited:
                    self._metrics.outbound_queued.labels(*labels).inc()
                self._metrics.outbound_wait.labels(*labels).observe(max(0.0, self._clock() - entered))
            try:
                return await call()
            except Exception as exc:
                retry = self._retry(exc, attempt)
                if retry is None or attempt == ATTEMPTS:
                    raise
                if retry.rate_limited:
                    self._metrics.outbound_ratelimited.labels(self._platform, method).inc()
                    logger.warning("%s %s answered 429; pausing it %.1f s", self._platform, method, retry.seconds)
                    await self.pause(self._pause_key(ticket), self._clock() + retry.seconds)
                else:
                    ticket.not_before = self._clock() + retry.seconds
        raise AssertionError("unreachable")  # pragma: no cover

    async def pause(self, key: str, until: float) -> None:
        """No call spending ``key`` goes out before ``until`` (Unix seconds), in this replica or any other."""
        self._paused[key] = max(until, self._paused.get(key, 0.0))
        if self._pauses is not None:
            try:
                await self._pauses.pause_until(self._shared(key), until)
            except Exception as exc:  # the store down must not stop this replica from honouring the pause
                logger.warning("could not share a 429 pause: %s", type(exc).__name__)

    def _pause_key(self, ticket: _Ticket) -> str:
        return ticket.budgets[0][0] if ticket.budgets else ticket.method

    def _shared(self, key: str) -> str:
        return store_key("pause", self._platform, key)

    async def _admit(self, ticket: _Ticket) -> bool:
        """Wait until ``ticket`` is first in line for its budgets and they allow it; spend them. True if it waited."""
        self._waiting.append(ticket)
        waited = False
        try:
            while True:
                delay = self._delay(ticket, self._clock())
                if delay == 0.0 and await self._shared_pause(ticket):
                    continue  # another replica was told of a 429 window: honour it
                if delay == 0.0:
                    self._spend(ticket, self._clock())
                    return waited
                waited = True
                await self._nap(delay)
        finally:
            self._waiting.remove(ticket)
            self._changed.set()

    def _delay(self, ticket: _Ticket, now: float) -> float:
        """0.0 to go now, else seconds until its budgets allow it with a token left for each more urgent call waiting.

        A more urgent (or, within one priority, older) call waiting for a shared budget keeps a token of it, so a
        card refresh never takes the token a clinic's next step is waiting for; a budget no such call shares is
        spent freely (support's thread does not wait for a clinic channel's pace).
        """
        delay = max(0.0, ticket.not_before - now)
        for key in (self._pause_key(ticket), *ticket.keys):
            delay = max(delay, self._paused.get(key, 0.0) - now)
        if self._enabled:
            ahead: dict[str, int] = {}
            for other in self._waiting:
                if other is not ticket and other.order < ticket.order:
                    for key in other.keys & ticket.keys:
                        ahead[key] = ahead.get(key, 0) + 1
            for key, budget in ticket.budgets:
                bucket = self._bucket(key, budget, now)
                need = 1.0 + ahead.get(key, 0)
                if ticket.level > Priority.CLINIC and bucket.burst > 1:
                    need += RESERVE_SHARE * bucket.burst
                level = bucket.level(now)
                if level < need:
                    delay = max(delay, (need - level) / bucket.rate)
        return delay if delay > EPSILON else 0.0

    async def _shared_pause(self, ticket: _Ticket) -> bool:
        """Whether the store holds a pause of this ticket's budget that this replica did not know (now learnt)."""
        if self._pauses is None:
            return False
        key = self._pause_key(ticket)
        try:
            until = await self._pauses.pause_until(self._shared(key), 0.0)
        except Exception as exc:
            logger.warning("could not read shared 429 pauses: %s", type(exc).__name__)
            return False
        if until > self._clock() and until > self._paused.get(key, 0.0):
            self._paused[key] = until
            return True
        return False

    def _bucket(self, key: str, budget: Budget, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            burst = max(1.0, budget.burst * self._share)
            rate = budget.count * self._share * RATE_MARGIN / budget.seconds
            bucket = self._buckets[key] = _Bucket(rate, burst, burst, now)
        return bucket

    def _spend(self, ticket: _Ticket, now: float) -> None:
        if not self._enabled:
            return
        for key, budget in ticket.budgets:
            bucket = self._bucket(key, budget, now)
            bucket.tokens = bucket.level(now) - 1.0
            bucket.stamp = now

    async def _nap(self, delay: float) -> None:
        """Sleep ``delay`` seconds, or until a waiting call leaves (which may make this one first in line)."""
        self._changed.clear()
        changed = asyncio.ensure_future(self._changed.wait())
        napping = asyncio.ensure_future(self._sleep(delay))
        try:
            await asyncio.wait({changed, napping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            changed.cancel()
            napping.cancel()


def jittered(attempt: int, base: float = 0.5, cap: float = 8.0) -> float:
    """Full-jitter exponential back-off: a random wait up to ``base * 2**attempt`` seconds (at most ``cap``)."""
    return random.uniform(0.0, min(cap, base * 2**attempt))  # noqa: S311 - spreading retries, not a secret
