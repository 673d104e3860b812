"""Work that was saved but never carried out (a replica died, Slack was down) is finished later, exactly once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from bot import blocks
from bot.runtime import Runtime
from bot.sandbox import SlackApiSandbox, SlackDriver
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
    service = world.runtime.context.service
    # What a replica does before it dies: the transition (with its outbox) is saved, nothing is posted.
    saved = await service.handle(KEY, Start(at=world.clock()))
    assert saved.batch is not None
    assert world.driver.user_thread(CLINIC, ADMIN) == []
    assert await world.runtime.scheduler.run_once() == 0  # within the grace period the owner may still finish
    world.clock.advance(service.outbox_grace + 1)
    assert await world.runtime.scheduler.run_once() == 1
    await world.runtime.context.tasks.drain(5)
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
    await world.runtime.context.tasks.drain(5)
    world.api.fail("chat.postMessage", status=503, times=20)
    await world.driver.click(ADMIN, first, blocks.ACTION_DONE)
    await world.runtime.context.tasks.drain(10)
    assert world.driver.latest_in_user_thread(CLINIC, ADMIN).ts == first.ts  # type: ignore[union-attr]
    state = await world.runtime.context.service.conversation(KEY)
    assert state is not None
    assert state.step_index == 1
    assert len(state.outbox) == 1
    world.api.clear_faults()
    world.clock.advance(world.runtime.context.service.outbox_grace + 1)
    await world.runtime.scheduler.run_once()
    second = await world.scenario.latest_step(ADMIN, title=GUIDE.steps[1].title)
    await world.runtime.context.tasks.drain(5)
    assert [m for m in world.driver.user_thread(CLINIC, ADMIN) if GUIDE.steps[1].title in message_text(m)] == [second]
    state = await world.runtime.context.service.conversation(KEY)
    assert state is not None
    assert state.outbox == ()


async def test_a_key_check_cut_short_asks_for_the_key_again(world: World) -> None:
    await world.driver.click(ADMIN, await world.scenario.kickoff(), blocks.ACTION_START)
    await world.scenario.latest_step(ADMIN)
    await world.runtime.context.tasks.drain(5)
    service = world.runtime.context.service
    # The replica checking the key died: the key was only in its memory.
    await service.handle(KEY, KeySubmitted("wxyz", world.clock()))
    world.clock.advance(60)
    await world.runtime.scheduler.run_once()
    state = await service.conversation(KEY)
    assert state is not None
    assert state.status.value == "checking"  # a check may legitimately still be running
    world.clock.advance(200)
    await world.runtime.scheduler.run_once()
    await world.runtime.context.tasks.drain(5)
    told = world.driver.latest_in_user_thread(CLINIC, ADMIN)
    assert told is not None
    assert "couldn't finish checking your key" in told.text
    assert action_ids(told) == [blocks.ACTION_ENTER_KEY]
    state = await service.conversation(KEY)
    assert state is not None
    assert state.status.value == "awaiting_key"
    assert state.outbox == ()


async def test_a_replica_that_died_between_posting_and_recording_is_not_posted_twice(world: World) -> None:
    from bot import blocks as renderers
    from bot.slack_calls import post

    service = world.runtime.context.service
    client = world.runtime.context.client
    saved = await service.handle(KEY, Start(at=world.clock()))
    assert saved.state is not None
    # The dying replica got as far as posting the opener and the first step, but recorded neither.
    opener = await post(client, CLINIC, renderers.thread_opener(ADMIN, GUIDE))
    text, step = renderers.step_message(GUIDE, 0, ADMIN, None)
    await post(client, CLINIC, text, step, thread_ts=opener)
    world.clock.advance(service.outbox_grace + 1)
    await world.runtime.scheduler.run_once()
    await world.runtime.context.tasks.drain(5)
    openers = [m for m in world.api.messages(CLINIC) if m.text == renderers.thread_opener(ADMIN, GUIDE)]
    assert len(openers) == 1
    assert len(world.api.thread(CLINIC, opener)) == 2
    state = await service.conversation(KEY)
    assert state is not None
    assert (state.thread_ref, state.outbox) == (opener, ())
    assert state.step_message_ref == world.api.thread(CLINIC, opener)[1].ts
