"""Rate limits as token buckets: the numbers a platform publishes, and a pure keyed bucket that enforces them.

A ``Limit`` is a bucket of capacity ``burst`` that refills ``count`` tokens every ``seconds`` (so ``count/seconds``
a second). ``Buckets`` keeps one bucket per key (a method in a workspace, a channel, a conversation) and answers,
for a call at time ``now``, either 0.0 (allowed, a token taken) or how long until a token is there — the value a
platform sends back as ``Retry-After``. Time is passed in, never read, so the same code serves stand-ins, the
scheduler and tests.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """``count`` calls per ``seconds``, with up to ``burst`` at once; ``source`` says where the numbers come from."""

    count: int
    seconds: float
    burst: int
    source: str

    def __post_init__(self) -> None:
        if self.count < 1 or self.seconds <= 0 or self.burst < 1:
            raise ValueError(f"a limit needs a positive count, period and burst: {self!r}")

    @property
    def rate(self) -> float:
        """Tokens refilled per second."""
        return self.count / self.seconds


def retry_after(seconds: float) -> int:
    """The whole seconds a ``Retry-After`` header says for a wait of ``seconds`` (rounded up, at least 1)."""
    return max(1, math.ceil(seconds))


@dataclass
class _Bucket:
    tokens: float
    at: float


class Buckets:
    """One token bucket per ``(key, limit)``; a new key starts full."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[Hashable, Limit], _Bucket] = {}

    def _refilled(self, key: Hashable, limit: Limit, now: float) -> _Bucket:
        bucket = self._buckets.get((key, limit))
        if bucket is None:
            bucket = self._buckets[(key, limit)] = _Bucket(tokens=float(limit.burst), at=now)
        elif now > bucket.at:
            bucket.tokens = min(float(limit.burst), bucket.tokens + (now - bucket.at) * limit.rate)
            bucket.at = now
        return bucket

    def wait(self, key: Hashable, limit: Limit, now: float) -> float:
        """Seconds until a call under ``limit`` for ``key`` would be allowed (0.0 now), taking nothing."""
        bucket = self._refilled(key, limit, now)
        return 0.0 if bucket.tokens >= 1.0 else (1.0 - bucket.tokens) / limit.rate

    def take(self, key: Hashable, limit: Limit, now: float) -> float:
        """Take a token for ``key`` at ``now``: 0.0 when allowed, else the seconds until it would be (nothing taken)."""
        bucket = self._refilled(key, limit, now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / limit.rate

    def take_all(self, keyed: list[tuple[Hashable, Limit]], now: float) -> float:
        """Take one token from every bucket at once, or none: 0.0 when all allow it, else the longest wait.

        A call that counts against several limits (a channel and its workspace; a conversation's three windows)
        is refused without spending the others' tokens.
        """
        longest = max((self.wait(key, limit, now) for key, limit in keyed), default=0.0)
        if longest > 0.0:
            return longest
        for key, limit in keyed:
            self._buckets[(key, limit)].tokens -= 1.0
        return 0.0

    def clear(self) -> None:
        """Forget every bucket (all start full again)."""
        self._buckets.clear()
