"""The outbound scheduler: budgets, priority order, reserves, 429 pauses shared through a real store, metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from bot.core.metrics import Metrics
from bot.core.outbound import RATE_MARGIN, Outbound, Priority, Retry, priority
from conversations.store import Store


@dataclass(frozen=True)
class Budget:
    count: int
    seconds: float
    burst: int


class FakeTime:
    """A clock that moves only when every task is waiting on it: then to the earliest wake-up asked for."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + seconds, future))
        try:
            await future
        finally:
            self._sleepers = [s for s in self._sleepers if s[1] is not future]

    async def wake(self) -> None:
        """Wake every sleeper whose time has come."""
        for due, future in list(self._sleepers):
            if due <= self.now and not future.done():
                future.set_result(None)
        await asyncio.sleep(0)

    async def run(self, work: Awaitable[object], limit: float = 600.0) -> None:
        """Run ``work`` to its end, moving time whenever nothing else can run."""
        task = asyncio.ensure_future(work)
        start = self.now
        while not task.done():
            for _ in range(20):  # let everything that can run, run
                await asyncio.sleep(0)
            await asyncio.sleep(0.002)  # and what waits on real I/O (a store)
            if task.done():
                break
            live = [(at, f) for at, f in self._sleepers if not f.done()]
            assert live, "every task waits, and not on time"
            assert self.now - start < limit, "time ran away"
            at = min(at for at, _ in live)
            self.now = max(self.now, at)
            for due, future in live:
                if due <= self.now:
                    future.set_result(None)
        await task


class Refused(Exception):
    def __init__(self, retry: Retry) -> None:
        self.retry = retry


def retry_of(exc: BaseException, attempt: int) -> Retry | None:
    return exc.retry if isinstance(exc, Refused) else None


@dataclass
class World:
    time: FakeTime
    metrics: Metrics
    sent: list[tuple[float, str]]

    def outbound(self, pauses: Store | None = None) -> Outbound:
        return Outbound("slack", self.metrics, retry_of, pauses, clock=self.time, sleep=self.time.sleep)

    def call(self, name: str) -> Callable[[], Awaitable[str]]:
        async def send() -> str:
            self.sent.append((self.time.now, name))
            return name

        return send

    def sample(self, metric: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(metric, labels)
        return 0.0 if value is None else value


@pytest.fixture
def world() -> World:
    return World(FakeTime(), Metrics(), [])


TIER3 = Budget(count=50, seconds=60.0, burst=1)


async def test_a_clinics_call_overtakes_card_refreshes_queued_before_it(world: World) -> None:
    outbound = world.outbound()
    budget = [("chat.update", TIER3)]

    async def scene() -> None:
        await outbound.send("chat.update", budget, world.call("card 0"), Priority.CARD)  # spends the burst
        cards = [
            asyncio.ensure_future(outbound.send("chat.update", budget, world.call(f"card {i}"), Priority.CARD))
            for i in (1, 2, 3)
        ]
        await asyncio.sleep(0)
        with priority(Priority.CLINIC):
            clinic = asyncio.ensure_future(outbound.send("chat.update", budget, world.call("next step")))
        await asyncio.gather(clinic, *cards)

    await world.time.run(scene())
    assert [name for _, name in world.sent] == ["card 0", "next step", "card 1", "card 2", "card 3"]
    gaps = [b - a for (a, _), (b, _) in zip(world.sent, world.sent[1:], strict=False)]
    assert all(gap == pytest.approx(1.2 / RATE_MARGIN) for gap in gaps)  # 50 a minute, never faster
    assert world.sample("aldense_outbound_queued_total", platform="slack", method="chat.update", priority="card") == 3
    assert world.sample(
        "aldense_outbound_wait_seconds_sum", platform="slack", method="chat.update", priority="clinic"
    ) == pytest.approx(1.2 / RATE_MARGIN)


async def test_calls_on_other_budgets_do_not_wait_for_each_other(world: World) -> None:
    outbound = world.outbound()

    async def scene() -> None:
        await asyncio.gather(
            *(
                outbound.send("chat.postMessage", [(f"post:C{i}", TIER3)], world.call(f"C{i}"), Priority.THREAD)
                for i in range(5)
            )
        )

    await world.time.run(scene())
    assert {at for at, _ in world.sent} == {world.time.now}


async def test_calls_below_clinic_leave_a_reserve_a_clinic_may_spend(world: World) -> None:
    outbound = world.outbound()
    budget = [("views.update", Budget(count=100, seconds=60.0, burst=10))]

    async def scene() -> None:
        start = world.time.now
        for i in range(8):
            await outbound.send("views.update", budget, world.call(f"card {i}"), Priority.CARD)
        assert all(at == start for at, _ in world.sent)  # 8 of 10 at once: 2 kept back
        await outbound.send("views.update", budget, world.call("modal"), Priority.CLINIC)
        assert world.sent[-1] == (start, "modal")  # the clinic spends the reserve at once
        await outbound.send("views.update", budget, world.call("card 8"), Priority.CARD)
        assert world.sent[-1][0] > start

    await world.time.run(scene())


async def test_a_429_pauses_the_budget_for_its_retry_after_and_the_call_is_sent_again(world: World) -> None:
    outbound = world.outbound()
    budget = [("chat.update", Budget(count=100, seconds=1.0, burst=100))]
    answers = [Refused(Retry(7.5, rate_limited=True))]

    async def flaky() -> str:
        world.sent.append((world.time.now, "flaky"))
        if answers:
            raise answers.pop()
        return "ok"

    async def scene() -> None:
        start = world.time.now
        first = asyncio.ensure_future(outbound.send("chat.update", budget, flaky))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        second = asyncio.ensure_future(outbound.send("chat.update", budget, world.call("second"), Priority.CARD))
        assert await first == "ok"
        await second
        assert [(at - start, name) for at, name in world.sent] == [(0.0, "flaky"), (7.5, "flaky"), (7.5, "second")]

    await world.time.run(scene())
    assert world.sample("aldense_outbound_ratelimited_total", platform="slack", method="chat.update") == 1


async def test_an_error_that_is_not_retryable_is_raised_at_once(world: World) -> None:
    outbound = world.outbound()

    async def refused() -> str:
        raise ValueError("channel_not_found")

    async def scene() -> None:
        with pytest.raises(ValueError, match="channel_not_found"):
            await outbound.send("chat.update", [("chat.update", TIER3)], refused)

    await world.time.run(scene())


async def test_a_429_one_replica_was_told_of_holds_back_another_replica(world: World, store: Store) -> None:
    first, second = world.outbound(store), world.outbound(store)
    budget = [("chat.update", Budget(count=100, seconds=1.0, burst=100))]
    world.time.now = time.time()  # the store keeps pauses in Unix time
    start = world.time.now

    async def limited() -> str:
        raise Refused(Retry(30.0, rate_limited=True))

    told = asyncio.ensure_future(first.send("chat.update", budget, limited))
    for _ in range(500):  # the store's own I/O runs in real time
        if await store.pause_until("aldense:v1:pause:slack:chat.update", 0.0) > 0.0:
            break
        await asyncio.sleep(0.01)
    told.cancel()
    held = asyncio.ensure_future(second.send("chat.update", budget, world.call("other replica")))
    await asyncio.sleep(0.2)
    assert world.sent == []  # the second replica never saw the 429, yet waits
    world.time.now = start + 29.0
    await world.time.wake()
    await asyncio.sleep(0.2)
    assert world.sent == []
    world.time.now = start + 30.0
    await world.time.wake()
    await asyncio.wait_for(held, 5)
    assert world.sent == [(start + 30.0, "other replica")]


async def test_a_call_waits_for_more_urgent_calls_only_on_the_budgets_they_are_short_of(world: World) -> None:
    outbound = world.outbound()
    channel, workspace = Budget(count=1, seconds=1.0, burst=1), Budget(count=300, seconds=60.0, burst=30)

    async def scene() -> None:
        start = world.time.now
        posts = [
            asyncio.ensure_future(
                outbound.send(
                    "chat.postMessage",
                    [("chat.postMessage:C1", channel), ("chat.postMessage", workspace)],
                    world.call(f"clinic {n}"),
                )
            )
            for n in range(3)
        ]
        await asyncio.sleep(0)
        support = outbound.send(
            "chat.postMessage",
            [("chat.postMessage:C0SUPPORT", channel), ("chat.postMessage", workspace)],
            world.call("support thread"),
            Priority.THREAD,
        )
        await support
        assert world.sent[-1] == (start, "support thread")  # not behind the clinic channel's pace
        await asyncio.gather(*posts)
        assert [at - start for at, name in world.sent if name.startswith("clinic")] == pytest.approx(
            [0.0, 1 / RATE_MARGIN, 2 / RATE_MARGIN]
        )

    await world.time.run(scene())
