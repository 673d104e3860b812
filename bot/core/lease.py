"""A lease on an outbox batch while a process carries it out, so recovery never runs the same batch at once.

The process that saved a batch holds its lease from the first effect until it settles, renewing it while slow
work runs (Slack's 429 back-off, a Dentally check); recovery takes a batch only when no live lease is held. If the
holder dies, its lease lapses within ``LEASE_SECONDS`` and recovery finishes the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from conversations.addresses import ConversationKey, store_key
from conversations.store import Store, StoreUnavailable

logger = logging.getLogger(__name__)

LEASE_SECONDS = 30.0
# A lapsed lease must not keep recovery waiting much longer than the outbox's own grace period.
SHORTEST_LEASE_SECONDS = 3.0


def lease_for(grace: float) -> float:
    """How long a batch's lease lasts for an outbox whose work is retried ``grace`` seconds after it was saved.

    The holder renews it three times per lease, so a live process never loses it; a dead one's lapses within about
    the grace period (at most ``LEASE_SECONDS``) and recovery takes over.
    """
    return min(LEASE_SECONDS, max(SHORTEST_LEASE_SECONDS, grace))


def lease_key(key: ConversationKey, batch: str) -> str:
    """Where the lease of ``batch`` of ``key``'s conversation is kept."""
    return store_key("lease", str(key), batch)


async def is_held(store: Store, key: ConversationKey, batch: str) -> bool:
    """Whether a live process holds the batch's lease (an unreachable store counts as not held)."""
    try:
        return await store.marked(lease_key(key, batch))
    except StoreUnavailable:
        return False


class Lease:
    """A held lease as its holder sees it: truthy when taken; ``lost`` once another process may be doing the work."""

    def __init__(self, taken: bool) -> None:
        self._taken = taken
        self._lost = asyncio.Event()

    def __bool__(self) -> bool:
        return self._taken

    @property
    def lost(self) -> bool:
        """Whether the lease lapsed or went to another process while the body ran (stop before the next step)."""
        return self._lost.is_set()

    def lose(self) -> None:
        """Record that the lease is no longer ours."""
        self._lost.set()


@contextlib.asynccontextmanager
async def hold(
    store: Store,
    key: ConversationKey,
    batch: str,
    lease_seconds: float = LEASE_SECONDS,
    renew_every: float | None = None,
    after: float = 0.0,
) -> AsyncIterator[Lease]:
    """Hold the batch's lease for the body; yields a falsy lease when another process holds it (then do nothing).

    With ``after`` the lease is taken only once the body has run that long: the process that saved the batch uses
    it, since recovery looks only after the outbox's grace period (longer than ``after``) and most batches are done in
    milliseconds, so they never touch the store for a lease. If by then a recovery holds it (this process stalled),
    the lease reads ``lost`` and the body stops before its next step. With the store unreachable the body runs
    without a lease (truthy): the work is in the outbox either way.
    """
    if after <= 0:
        async with hold_named(store, lease_key(key, batch), lease_seconds, renew_every) as held:
            yield held
        return
    name = lease_key(key, batch)
    held = Lease(True)
    taken = asyncio.Event()
    late = asyncio.create_task(
        _take_late(store, name, lease_seconds, renew_every or lease_seconds / 3, after, taken, held)
    )
    try:
        yield held
    finally:
        late.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await late
        if taken.is_set() and not held.lost:
            with contextlib.suppress(StoreUnavailable):
                await store.unmark(name)


async def _take_late(
    store: Store, name: str, lease_seconds: float, every: float, after: float, taken: asyncio.Event, held: Lease
) -> None:
    await asyncio.sleep(after)
    try:
        if not await store.mark_once(name, lease_seconds):
            logger.warning("an outbox batch still running here is being recovered elsewhere; leaving the rest to it")
            held.lose()
            return
    except StoreUnavailable:
        logger.warning("outbox lease skipped: the state store is unreachable")
        return
    taken.set()
    await _renew(store, name, lease_seconds, every, held)


@contextlib.asynccontextmanager
async def hold_named(
    store: Store,
    name: str,
    lease_seconds: float = LEASE_SECONDS,
    renew_every: float | None = None,
) -> AsyncIterator[Lease]:
    """Hold the lease at store address ``name`` (renewed while the body runs); falsy when another process holds it.

    With the store unreachable the body runs without a lease (truthy).
    """
    try:
        taken = await store.mark_once(name, lease_seconds)
    except StoreUnavailable:
        logger.warning("outbox lease skipped: the state store is unreachable")
        yield Lease(True)
        return
    if not taken:
        yield Lease(False)
        return
    held = Lease(True)
    renewal = asyncio.create_task(_renew(store, name, lease_seconds, renew_every or lease_seconds / 3, held))
    try:
        yield held
    finally:
        renewal.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewal
        if not held.lost:
            with contextlib.suppress(StoreUnavailable):
                await store.unmark(name)


async def _renew(store: Store, name: str, lease_seconds: float, every: float, held: Lease) -> None:
    """Extend the lease in place every ``every`` seconds; a lapsed one is lost (another process may have it now).

    Renewing is one atomic step, so a live lease is never free for a moment. A stall longer than the whole lease
    that another process used to take it is not seen here: leases outlast the longest stall by design (3 s and up).
    """
    while True:
        await asyncio.sleep(every)
        try:
            if not await store.renew_mark(name, lease_seconds):
                logger.warning("a lease lapsed before its renewal (this process stalled); leaving the work to others")
                held.lose()
                return
        except StoreUnavailable:
            logger.warning("outbox lease not renewed: the state store is unreachable")
