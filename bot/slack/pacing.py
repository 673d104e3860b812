"""A per-channel token bucket, so bursts of posts stay within Slack's ~1 message per second per channel."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable


class Pacer:
    """Lets ``burst`` posts through at once, then one per ``interval`` seconds, first come first served."""

    def __init__(
        self,
        interval: float = 1.0,
        burst: int = 4,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = interval
        self._burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens: dict[str, float] = defaultdict(lambda: float(burst))
        self._stamp: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def wait(self, channel: str) -> None:
        """Return when a post to ``channel`` may go out."""
        async with self._locks[channel]:
            now = self._clock()
            elapsed = now - self._stamp.get(channel, now)
            tokens = min(float(self._burst), self._tokens[channel] + elapsed / self._interval)
            if tokens < 1.0:
                await self._sleep((1.0 - tokens) * self._interval)
                tokens = 1.0
                now = self._clock()
            self._tokens[channel] = tokens - 1.0
            self._stamp[channel] = now
