"""The per-channel pacer lets a burst through, then one post per interval, in arrival order."""

from __future__ import annotations

import asyncio

from bot.slack.pacing import Pacer


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


async def test_a_burst_goes_at_once_then_one_per_interval() -> None:
    time = FakeTime()
    pacer = Pacer(interval=1.0, burst=3, clock=time.clock, sleep=time.sleep)
    for _ in range(6):
        await pacer.wait("C1")
    assert time.slept == [1.0, 1.0, 1.0]
    assert time.now == 103.0


async def test_channels_are_paced_separately_and_tokens_refill() -> None:
    time = FakeTime()
    pacer = Pacer(interval=1.0, burst=1, clock=time.clock, sleep=time.sleep)
    await pacer.wait("C1")
    await pacer.wait("C2")
    assert time.slept == []
    time.now += 5
    await pacer.wait("C1")
    assert time.slept == []


async def test_waiters_go_in_arrival_order() -> None:
    time = FakeTime()
    pacer = Pacer(interval=1.0, burst=1, clock=time.clock, sleep=time.sleep)
    order: list[int] = []

    async def post(number: int) -> None:
        await pacer.wait("C1")
        order.append(number)

    await asyncio.gather(*(post(n) for n in range(5)))
    assert order == [0, 1, 2, 3, 4]
