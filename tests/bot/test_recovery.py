"""Work that was saved but never carried out (a replica died, Slack was down) is finished later, exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from bot.fakes.slack import SlackApiSandbox, SlackDriver
from bot.runtime import Runtime
from bot.slack import blocks
from conversations.addresses import ConversationKey
from conversations.events import KeySubmitted, Start
from tests.bot.harness import (
    ADMIN,
    CLINIC,
    SIGNING_SECRET,
    MovableClock,
    Scenario,
    action_ids,
    bot_settings,
    message_text,
    running_bot,
)
from tests.bot.test_key_check import GUIDE

KEY = ConversationKey("slack", "T0ALDENSE", CLINIC, ADMIN)


@dataclass
class World:
    api: SlackApiSandbox
    driver: SlackDriver
    scenario: Scenario
    runtime: Runtime
    clock: MovableClock


@pytest.fixture
async def world(api: SlackApiSandbox, state_url: str, dentally_url: str) -> AsyncIterator[World]:
    clock = MovableClock()
    async with (
        httpx.AsyncClient(timeout=10) as http,
        running_bot(bot_settings(api, state_url, dentally_url), clock) as bot,
    ):
        driver = SlackDriver(bot.url, SIGNING_SECRET, api, http, clock=clock)
        yield World(api, driver, Scenario(api, driver, None), bot.runtime, clock)  # type: ignore[arg-type]


async def test_a_replica_that_died_after_saving_leaves_work_another_finishes(world: World) -> None:
    service = world.runtime.core.service
    # What a replica does before it dies: the transition (with its outbox) is saved, nothing is posted.
    saved = await service.handle(KEY, Start(at=world.clock()))
    assert saved.batch is not None
    assert world.driver.user_thread(CLINIC, ADMIN) == []
    assert await world.runtime.scheduler.run_once() == 0  # within the grace period the owner may still finish
    world.clock.advance(service.outbox_grace + 1)
    assert await world.runtime.scheduler.run_once() == 1
    await world.runtime.core.tasks.drain(5)
    thread = world.driver.user_thread(CLINIC, ADMIN)
    assert len(thread) == 2
    assert f"Step 1 of {GUIDE.step_count}" in message_text(thread[1])
    state = await service.conversation(KEY)
    assert state is not None
    assert state.outbox == ()
    assert state.step_message_ref == thread[1].ts
    world.clock.advance(600)
    assert await world.runtime.scheduler.run_once() == 0  # nothing is done twice


async def test_slack_down_during_a_click_is_retried_and_posts_once(world: World) -> None:
    await world.driver.click(ADMIN, await world.scenario.kickoff(), blocks.ACTION_START)
    first = await world.scenario.latest_step(ADMIN)
    await world.runtime.core.tasks.drain(5)
    world.api.fail("chat.postMessage", status=503, times=20)
    await world.driver.click(ADMIN, first, blocks.ACTION_DONE)
    await world.runtime.core.tasks.drain(10)
    assert world.driver.latest_in_user_thread(CLINIC, ADMIN).ts == first.ts  # type: ignore[union-attr]
    state = await world.runtime.core.service.conversation(KEY)
    assert state is not None
    assert GUIDE.index_of(state.step_id) == 1
    assert len(state.outbox) == 1
    world.api.clear_faults()
    world.clock.advance(world.runtime.core.service.outbox_grace + 1)
    await world.runtime.scheduler.run_once()
    second = await world.scenario.latest_step(ADMIN, title=GUIDE.steps[1].title)
    await world.runtime.core.tasks.drain(5)
    assert [m for m in world.driver.user_thread(CLINIC, ADMIN) if GUIDE.steps[1].title in message_text(m)] == [second]
    state = await world.runtime.core.service.conversation(KEY)
    assert state is not None
    assert state.outbox == ()


async def test_a_long_slack_stall_is_never_recovered_while_its_own_task_still_retries(
    api: SlackApiSandbox, state_url: str, dentally_url: str
) -> None:
    # Real time throughout, with a grace period far shorter than Slack's back-off, so the batch falls due for
    # recovery while the click's own task is still waiting out Retry-After.
    settings = bot_settings(api, state_url, dentally_url, follow_up__outbox_retry_seconds=0.2)
    async with httpx.AsyncClient(timeout=10) as http, running_bot(settings) as bot:
        driver = SlackDriver(bot.url, SIGNING_SECRET, api, http)
        scenario = Scenario(api, driver, None)  # type: ignore[arg-type]
        runtime = bot.runtime
        await driver.click(ADMIN, await scenario.kickoff(), blocks.ACTION_START)
        first = await scenario.latest_step(ADMIN)
        await runtime.core.tasks.drain(5)
        api.fail("chat.postMessage", status=429, retry_after=1, times=3)
        await driver.click(ADMIN, first, blocks.ACTION_DONE)
        recoveries = 0
        # Recovery keeps looking while the original task backs off (three 1 s pauses); the deadline is far beyond
        # that, because a loaded machine stretches everything else the task does.
        deadline = asyncio.get_running_loop().time() + 30
        while runtime.core.tasks and asyncio.get_running_loop().time() < deadline:
            recoveries += await runtime.scheduler.run_once()
            await asyncio.sleep(0.05)
        assert not runtime.core.tasks, "the click's own task should finish after the three Retry-After pauses"
        assert recoveries > 0, "recovery must have looked at the batch while it was in flight"
        second = [m for m in driver.user_thread(CLINIC, ADMIN) if GUIDE.steps[1].title in message_text(m)]
        assert len(second) == 1
        state = await runtime.core.service.conversation(KEY)
        assert state is not None
        assert state.outbox == ()


async def test_a_key_check_cut_short_asks_for_the_key_again(world: World) -> None:
    await world.driver.click(ADMIN, await world.scenario.kickoff(), blocks.ACTION_START)
    await world.scenario.latest_step(ADMIN)
    await world.runtime.core.tasks.drain(5)
    service = world.runtime.core.service
    # The replica checking the key died: the key was only in its memory, and no live process holds the batch's
    # lease, so recovery does not wait for the check (once the grace period has passed).
    await service.handle(KEY, KeySubmitted("wxyz", world.clock()))
    world.clock.advance(service.outbox_grace + 1)
    await world.runtime.scheduler.run_once()
    await world.runtime.core.tasks.drain(5)
    told = world.driver.latest_in_user_thread(CLINIC, ADMIN)
    assert told is not None
    assert "couldn't finish checking your key" in told.text
    assert action_ids(told) == [blocks.ACTION_ENTER_KEY]
    state = await service.conversation(KEY)
    assert state is not None
    assert state.status.value == "awaiting_key"
    assert state.outbox == ()


async def test_a_check_still_running_elsewhere_holds_its_lease_and_is_left_alone(world: World) -> None:
    from bot.core import lease

    await world.driver.click(ADMIN, await world.scenario.kickoff(), blocks.ACTION_START)
    await world.scenario.latest_step(ADMIN)
    await world.runtime.core.tasks.drain(5)
    service = world.runtime.core.service
    saved = await service.handle(KEY, KeySubmitted("wxyz", world.clock()))
    assert saved.batch is not None
    # Another replica is checking the key (a slow Dentally, a rate-limit wait) long past the grace period, and has
    # just renewed the batch's lease, as its holder does every few seconds.
    world.clock.advance(service.outbox_grace + 600)
    assert await service.store.mark_once(lease.lease_key(KEY, saved.batch), lease.lease_for(service.outbox_grace))
    await world.runtime.scheduler.run_once()
    await world.runtime.core.tasks.drain(5)
    state = await service.conversation(KEY)
    assert state is not None
    assert state.status.value == "checking"
    # The holder died: its lease lapses, and recovery takes over.
    world.clock.advance(lease.lease_for(service.outbox_grace) + 1)
    await world.runtime.scheduler.run_once()  # the holder let go without settling: recovery takes over
    await world.runtime.core.tasks.drain(5)
    state = await service.conversation(KEY)
    assert state is not None
    assert state.status.value == "awaiting_key"


async def test_a_replica_that_died_between_posting_and_recording_is_not_posted_twice(world: World) -> None:
    from bot.slack import blocks as renderers
    from bot.slack.calls import post

    service = world.runtime.core.service
    client = world.runtime.slack.client
    saved = await service.handle(KEY, Start(at=world.clock()))
    assert saved.state is not None
    # The dying replica got as far as posting the opener and the first step, but recorded neither.
    opener = await post(client, CLINIC, renderers.thread_opener(ADMIN, GUIDE))
    text, step = renderers.step_message(GUIDE, 0, ADMIN, None)
    await post(client, CLINIC, text, step, thread_ts=opener)
    world.clock.advance(service.outbox_grace + 1)
    await world.runtime.scheduler.run_once()
    await world.runtime.core.tasks.drain(5)
    openers = [m for m in world.api.messages(CLINIC) if m.text == renderers.thread_opener(ADMIN, GUIDE)]
    assert len(openers) == 1
    assert len(world.api.thread(CLINIC, opener)) == 2
    state = await service.conversation(KEY)
    assert state is not None
    assert (state.thread_ref, state.outbox) == (opener, ())
    assert state.step_message_ref == world.api.thread(CLINIC, opener)[1].ts


async def test_a_reminder_posted_by_a_replica_that_died_before_recording_it_is_not_posted_twice(world: World) -> None:
    from bot.slack import blocks as renderers
    from bot.slack.calls import post
    from conversations.events import Nudged

    service = world.runtime.core.service
    client = world.runtime.slack.client
    await world.runtime.core.runner.carry_out(await service.handle(KEY, Start(at=world.clock())))
    started = await service.conversation(KEY)
    assert started is not None
    assert started.thread_ref is not None
    assert started.outbox == ()
    world.clock.advance(25 * 3600)  # quiet long enough for a reminder
    nudged = await service.handle(KEY, Nudged(world.clock()))
    assert nudged.refused is None
    # The dying replica got as far as posting the reminder, but recorded nothing.
    text, shown = renderers.reminder(GUIDE, 0, ADMIN, 1)
    posted = await post(client, CLINIC, text, shown, thread_ts=started.thread_ref)
    world.clock.advance(service.outbox_grace + 1)
    await world.runtime.scheduler.run_once()
    await world.runtime.core.tasks.drain(5)
    reminders = [m.ts for m in world.api.thread(CLINIC, started.thread_ref) if blocks.ACTION_RESUME in action_ids(m)]
    assert reminders == [posted]
    state = await service.conversation(KEY)
    assert state is not None
    assert state.outbox == ()
