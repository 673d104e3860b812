"""The shared queue of out-of-date status cards: folding, urgent first, one refresh across replicas, nothing lost."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from bot.slack.support.card_queue import CardQueue
from conversations.store import Store
from conversations.stores import open_store

Taken = Callable[[], Awaitable[None]]


class Cards:
    """A replica's card refreshes: each records the clinic and the state it would show when it goes out."""

    def __init__(self, state: dict[str, int], gate: asyncio.Event | None = None) -> None:
        self.state = state
        self.shown: list[tuple[str, int]] = []
        self.gate = gate
        self.tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def refresh(self, platform: str, channel: str, taken: Taken) -> None:
        if self.gate is not None:
            await self.gate.wait()
        await taken()
        self.shown.append((channel, self.state.get(channel, 0)))

    async def idle(self) -> None:
        while self.tasks:
            await asyncio.gather(*list(self.tasks))


async def test_ten_quick_changes_make_one_refresh_showing_the_last(store: Store) -> None:
    state: dict[str, int] = {}
    cards = Cards(state)
    queue = CardQueue(store, cards.refresh, cards.spawn, interval=0.3)
    for n in range(1, 11):
        state["C1"] = n
        await queue.mark("slack", "C1")
    assert cards.shown == []  # folded, waiting for the interval
    await cards.idle()
    assert cards.shown == [("C1", 10)]


async def test_a_steady_stream_of_changes_is_refreshed_once_per_interval_not_put_off(store: Store) -> None:
    state: dict[str, int] = {}
    cards = Cards(state)
    queue = CardQueue(store, cards.refresh, cards.spawn, interval=0.2)
    loop = asyncio.get_running_loop()
    began = loop.time()
    for n in range(1, 13):  # a change every 0.05 s for 0.6 s: a debounce would never refresh until it stopped
        state["C1"] = n
        await queue.mark("slack", "C1")
        await asyncio.sleep(0.05)
    refreshed_while_changing = len(cards.shown)
    await cards.idle()
    assert refreshed_while_changing >= 2, cards.shown
    assert len(cards.shown) <= 5, cards.shown  # about one per 0.2 s, not one per change
    assert cards.shown[-1] == ("C1", 12)
    assert loop.time() - began < 2.0


async def test_urgent_cards_go_before_cards_that_only_show_progress(store: Store) -> None:
    gate = asyncio.Event()
    cards = Cards({}, gate)
    queue = CardQueue(store, cards.refresh, cards.spawn, interval=0.0)
    await queue.mark("slack", "C1")  # claimed first; held at the gate while the rest queue up
    await asyncio.sleep(0.05)
    for channel in ("C2", "C3", "C4"):
        await queue.mark("slack", channel)
    await queue.mark("slack", "C5", urgent=True)
    await queue.mark("slack", "C3", urgent=True)  # already waiting for progress: it moves up, refreshed once
    gate.set()
    await cards.idle()
    assert [channel for channel, _ in cards.shown] == ["C1", "C5", "C3", "C2", "C4"]


async def test_two_replicas_refresh_each_card_once_and_the_change_after_a_refresh_is_not_lost(redis_url: str) -> None:
    state: dict[str, int] = {}
    stores = [open_store(redis_url), open_store(redis_url)]
    try:
        replicas = [Cards(state) for _ in stores]
        queues = [CardQueue(s, r.refresh, r.spawn, interval=0.3) for s, r in zip(stores, replicas, strict=True)]
        for n in range(1, 9):  # both replicas see every change of three clinics, as two load-balanced replicas do
            for channel in ("C1", "C2", "C3"):
                state[channel] = n
                await queues[n % 2].mark("slack", channel)
        await asyncio.gather(*(r.idle() for r in replicas))
        shown = sorted(s for r in replicas for s in r.shown)
        assert shown == [("C1", 8), ("C2", 8), ("C3", 8)]
        state["C1"] = 9  # a change after the refresh: one more, showing it
        await queues[1].mark("slack", "C1")
        await replicas[1].idle()
        assert replicas[1].shown[-1] == ("C1", 9)
    finally:
        for opened in stores:
            await opened.aclose()


async def test_a_card_claimed_by_a_replica_that_died_is_refreshed_by_another(redis_url: str) -> None:
    stores = [open_store(redis_url), open_store(redis_url)]
    try:
        dead = Cards({"C1": 1}, gate=asyncio.Event())  # claims the card and never refreshes it
        dying = CardQueue(stores[0], dead.refresh, dead.spawn, interval=0.0, claim_seconds=0.3)
        await dying.mark("slack", "C1", urgent=True)
        await asyncio.sleep(0.1)
        for task in list(dead.tasks):
            task.cancel()  # the replica is gone, its claim still in the store
        alive = Cards({"C1": 1})
        other = CardQueue(stores[1], alive.refresh, alive.spawn, interval=0.5, claim_seconds=0.3)
        await other.mark("slack", "C2")  # any later change there starts its drain, which finds the lapsed claim
        await alive.idle()
        assert sorted(alive.shown) == [("C1", 1), ("C2", 0)]
    finally:
        for opened in stores:
            await opened.aclose()


async def test_without_a_background_runner_the_card_is_refreshed_at_once(store: Store) -> None:
    cards = Cards({"C1": 3})
    queue = CardQueue(store, cards.refresh, None, interval=5.0)
    await queue.mark("slack", "C1")
    assert cards.shown == [("C1", 3)]


class SlowFirstLook:
    """A store whose first look for due cards (both queues) read them before a change made meanwhile landed."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.looks = 0
        self.looking = asyncio.Event()
        self.go_on = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def claim_due(self, queue: str, now: float, lease_seconds: float, limit: int) -> list[str]:
        self.looks += 1
        if self.looks == 1:
            self.looking.set()
            await self.go_on.wait()
        if self.looks <= 2:
            return []  # what a read made before the change's write finds
        return await self.inner.claim_due(queue, now, lease_seconds, limit)


async def test_a_change_marked_while_the_drain_looks_at_the_store_is_not_lost(store: Store) -> None:
    slow = SlowFirstLook(store)
    cards = Cards({"C1": 1})
    queue = CardQueue(slow, cards.refresh, cards.spawn, interval=0.0)  # type: ignore[arg-type]
    await queue.mark("slack", "C1")  # starts the drain, whose first look is held open
    await slow.looking.wait()
    await queue.mark("slack", "C2")  # lands after that look read the queues
    slow.go_on.set()
    await cards.idle()
    assert sorted(cards.shown) == [("C1", 1), ("C2", 0)]
