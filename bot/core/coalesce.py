"""Folds bursts of requests for the same work into one run per key, at most one per interval: the latest wins."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

logger = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, None], str], None]


class Coalescer:
    """Runs the latest work asked for each key ``interval`` seconds after it was first asked for.

    Requests that arrive while a key waits replace its work, so ten quick changes make one run that sees the last.
    A request that arrives while the work runs makes one more run, an interval later: the final state is never
    lost. Without ``spawn`` (a one-off tool) work runs at once.
    """

    def __init__(
        self,
        interval: float,
        spawn: Spawn | None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        name: str = "coalesced",
    ) -> None:
        self._interval = interval
        self._spawn = spawn
        self._sleep = sleep
        self._name = name
        self._latest: dict[str, Callable[[], Awaitable[None]]] = {}
        self._waiting: set[str] = set()

    async def request(self, key: str, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` for ``key`` soon, unless later work for ``key`` replaces it first."""
        if self._spawn is None:
            await work()
            return
        self._latest[key] = work
        if key not in self._waiting:
            self._waiting.add(key)
            self._spawn(self._run(key), self._name)

    async def _run(self, key: str) -> None:
        try:
            while key in self._latest:
                await self._sleep(self._interval)
                work = self._latest.pop(key)
                try:
                    await work()
                except Exception:
                    logger.exception("coalesced work failed")
        finally:
            self._waiting.discard(key)
