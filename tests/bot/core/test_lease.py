"""Outbox leases on a real store: renewal never opens a gap another process could take, and a holder learns it lost."""

from __future__ import annotations

import asyncio

from bot.core import lease
from conversations.addresses import ConversationKey
from conversations.store import Store

KEY = ConversationKey("slack", "T0ALDENSE", "C0CLINIC", "U0ADMIN")


async def test_a_renewed_lease_is_never_free_for_a_recovery_to_take(store: Store) -> None:
    name = lease.lease_key(KEY, "batch-renewed")
    await store.unmark(name)
    taken_by_recovery = 0

    async def recovery() -> None:
        nonlocal taken_by_recovery
        for _ in range(300):
            if await store.mark_once(name, 5):
                taken_by_recovery += 1
                await store.unmark(name)
            await asyncio.sleep(0)

    async with lease.hold_named(store, name, lease_seconds=0.3, renew_every=0.01) as held:
        assert held
        await recovery()
        assert not held.lost
    assert taken_by_recovery == 0
    assert not await store.marked(name), "the holder gives its lease back when done"


async def test_a_holder_that_stalls_past_its_lease_learns_it_lost_and_leaves_the_lease_alone(store: Store) -> None:
    name = lease.lease_key(KEY, "batch-stalled")
    await store.unmark(name)
    async with lease.hold_named(store, name, lease_seconds=0.2, renew_every=0.4) as held:
        await asyncio.sleep(0.6)  # the lease lapsed before its first renewal, which finds it gone
        assert held.lost
        assert await store.mark_once(name, 30), "a recovery takes the lapsed lease"
    assert await store.marked(name), "the loser must not remove the recovery's lease"


async def test_the_saver_taking_its_lease_late_learns_a_recovery_holds_it(store: Store) -> None:
    await store.unmark(lease.lease_key(KEY, "batch-late"))
    assert await store.mark_once(lease.lease_key(KEY, "batch-late"), 30)  # a recovery got there first
    async with lease.hold(store, KEY, "batch-late", lease_seconds=3, after=0.05) as held:
        assert held
        assert not held.lost
        await asyncio.sleep(0.3)
        assert held.lost
    assert await store.marked(lease.lease_key(KEY, "batch-late"))
