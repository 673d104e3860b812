"""Tracked background tasks: listeners ack at once and hand the rest here; shutdown drains what is running."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

logger = logging.getLogger(__name__)


class BackgroundTasks:
    """Keeps a strong reference to every task it starts and logs (never loses) their failures."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, None], name: str = "work") -> None:
        """Run ``work`` in the background under ``name`` (used in logs).

        The task runs in a copy of the caller's context (asyncio's default, relied on here): its log lines carry
        the ids of the request that started it (``bot.logs.bind_ids``).
        """
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()
        if not task.cancelled() and (error := task.exception()) is not None:
            logger.error("background task %s failed", task.get_name(), exc_info=error)

    async def drain(self, grace_seconds: float) -> bool:
        """Wait until every task has finished; after ``grace_seconds`` cancel the rest. True if all finished."""
        try:
            await asyncio.wait_for(self._idle.wait(), grace_seconds)
            return True
        except TimeoutError:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            return False
