"""Out-of-date status cards: one queue in the store shared by every replica, drained as Slack's budget allows.

A change marks its clinic's card out of date; marks fold into one entry per clinic, due at the earliest time any
of them asked for (``Store.schedule_by``), so a clinic clicking every few seconds is refreshed once per interval
and never pushed back. What a person waits on (a key result, a request for help, a staff action) goes in the urgent
queue and is refreshed before any card that only shows progress. Each replica drains both queues one card at a
time, claiming a card only from the store, so two replicas never queue the same refresh; a replica that dies holding
one releases it when its claim lapses.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from conversations.addresses import CARD_QUEUE, URGENT_CARD_QUEUE, clinic_key, parse_clinic_key
from conversations.store import Store, StoreUnavailable

logger = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, None], str], None]
# Takes the card's clinic (platform, channel) and ``taken``, to await once the refresh may go out, before reading
# the clinic: a change after that point marks the card again, so the final state is never lost.
Refresh = Callable[[str, str, Callable[[], Awaitable[None]]], Awaitable[None]]

# An urgent change waits this long (or the interval, if shorter), so a key result and its connection note fold.
URGENT_FOLD_SECONDS = 1.0
# A claimed card no replica refreshed within this long (its replica died) is due again.
CLAIM_SECONDS = 60.0
# How long to wait before trying again when the store does not answer.
STORE_RETRY_SECONDS = 1.0


class CardQueue:
    """Which clinics' status cards are out of date, urgent ones first, shared by every replica through the store."""

    def __init__(
        self,
        store: Store,
        refresh: Refresh,
        spawn: Spawn | None,
        interval: float,
        clock: Callable[[], float] = time.time,
        claim_seconds: float = CLAIM_SECONDS,
    ) -> None:
        """Args:
        store: Where the queue lives (every replica's).
        refresh: Re-renders one clinic's card.
        spawn: Runs the drain in the background; None (a one-off tool) refreshes at once.
        interval: A card that only shows progress is refreshed at most this often (seconds).
        clock: Unix time.
        claim_seconds: How long a claimed card stays hidden from other replicas before it is due again.
        """
        self._store = store
        self._refresh = refresh
        self._spawn = spawn
        self._interval = max(0.0, interval)
        self._clock = clock
        self._claim_seconds = claim_seconds
        self._promised: list[float] = []  # due times this replica asked for: its drain runs until they pass
        self._marked = asyncio.Event()
        self._draining = False

    async def mark(self, platform: str, channel: str, urgent: bool = False) -> None:
        """The clinic's card is out of date: refresh it within the interval (within a second when ``urgent``)."""
        if self._spawn is None:
            await self._refresh(platform, channel, _nothing)
            return
        due = self._clock() + (min(URGENT_FOLD_SECONDS, self._interval) if urgent else self._interval)
        queue = URGENT_CARD_QUEUE if urgent else CARD_QUEUE
        try:
            await self._store.schedule_by(queue, clinic_key(platform, channel), due)
        except StoreUnavailable as exc:  # the card reads the store too: it is refreshed by the next change
            logger.warning("status card not queued for a refresh: %s", exc)
            return
        heapq.heappush(self._promised, due)
        self._marked.set()
        if not self._draining:
            self._draining = True
            self._spawn(self._drain(), "status_cards")

    async def _drain(self) -> None:
        """Refresh due cards one at a time until every due time this replica asked for has passed."""
        try:
            while True:
                self._marked.clear()
                now = self._clock()
                try:
                    item = await self._claim(now)
                except StoreUnavailable as exc:
                    logger.warning("status cards not claimed: %s", exc)
                    await asyncio.sleep(STORE_RETRY_SECONDS)
                    item = None
                if item is not None:
                    await self._refresh_one(item)
                    continue
                if self._marked.is_set():
                    continue  # a card was marked while the store was read: it may not have been there yet
                while self._promised and self._promised[0] <= now:
                    heapq.heappop(self._promised)  # due and not ours to claim: another replica has it
                if not self._promised:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._marked.wait(), self._promised[0] - now)
        finally:
            self._draining = False

    async def _claim(self, now: float) -> str | None:
        for queue in (URGENT_CARD_QUEUE, CARD_QUEUE):
            claimed = await self._store.claim_due(queue, now, self._claim_seconds, 1)
            if claimed:
                return claimed[0]
        return None

    async def _refresh_one(self, item: str) -> None:
        try:
            platform, channel = parse_clinic_key(item)
        except ValueError:
            logger.warning("dropped a status card entry that names no clinic")
            await self._settle(item)
            return

        async def taken() -> None:
            await self._settle(item)

        try:
            await self._refresh(platform, channel, taken)
        except StoreUnavailable as exc:
            logger.warning("status card refresh put off: %s", exc)
            await self.mark(platform, channel)
        except Exception:
            logger.exception("status card refresh failed")

    async def _settle(self, item: str) -> None:
        """Take the card off both queues: the refresh about to go out shows every change marked so far."""
        await self._store.unschedule(URGENT_CARD_QUEUE, item)
        await self._store.unschedule(CARD_QUEUE, item)


async def _nothing() -> None:
    """Nothing to take off the queue: the card was refreshed at once."""
