"""Retried deliveries are handled once (Slack's Events API retries, Teams' redelivered activities), replays never."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable

from conversations.addresses import store_key
from conversations.store import Store, StoreUnavailable

logger = logging.getLogger(__name__)

# A delivery being handled blocks its retries this long; once handled, for an hour (Slack retries after about
# 0 s, 1 min and 5 min; the Bot Framework within seconds).
CLAIM_SECONDS = 50.0
DONE_SECONDS = 3600.0


class Deliveries:
    """Claims each delivery on receipt and marks it done after, in the store, so every replica sees it."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def once(self, platform: str, delivery_id: str | None, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` for a delivery unless it was already handled (or is being handled).

        A retry that overlaps the first delivery is dropped; a retry whose first delivery was claimed but never
        finished (its process died) is handled once the claim expires. Without an id, or with the store down,
        the work runs (a rare duplicate beats a lost message).
        """
        if not delivery_id:
            await work()
            return
        done = store_key("event", platform, delivery_id, "done")
        claim = store_key("event", platform, delivery_id, "claim")
        try:
            if await self._store.marked(done) or not await self._store.mark_once(claim, CLAIM_SECONDS):
                return
        except StoreUnavailable:
            logger.warning("de-duplication skipped: the state store is unreachable")
            await work()
            return
        try:
            await work()
        except BaseException:
            await self._store.unmark(claim)
            raise
        await self._store.mark_once(done, DONE_SECONDS)


# Slack accepts a signed request for 5 minutes either side of its timestamp; remember it a little longer.
REPLAY_WINDOW_SECONDS = 660.0


class Replays:
    """Remembers every accepted signed request for its validity window, in the store so every replica sees it.

    Anyone who captured a signed request (a proxy log, a leaked capture) could send it again within the window;
    the signature alone cannot tell. A replay is answered like the original and changes nothing.
    """

    def __init__(self, store: Store, window_seconds: float = REPLAY_WINDOW_SECONDS) -> None:
        self._store = store
        self._window = window_seconds

    async def first_time(self, platform: str, proof: bytes) -> bool:
        """Whether the request whose signature material is ``proof`` is seen for the first time.

        With the store unreachable the request is let through (and logged): the move it carries cannot be
        saved then anyway, and refusing every request would turn an outage into a denial.
        """
        digest = hashlib.sha256(proof).hexdigest()
        try:
            return await self._store.mark_once(store_key("seen", platform, digest), self._window)
        except StoreUnavailable:
            logger.warning("replay check skipped: the state store is unreachable")
            return True
