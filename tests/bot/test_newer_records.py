"""A record written by a newer release (a rolling deploy under way) is met like a store outage, never as a crash."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.fakes.slack import SlackApiSandbox, SlackDriver
from bot.slack import blocks
from bot.slack.support.desk import INCOMPATIBLE_FOR_STAFF
from conversations.addresses import ConversationKey, clinic_key
from dentally.sandbox import Sandbox
from tests.bot.harness import (
    ADMIN,
    CLINIC,
    ONBOARDING,
    SIGNING_SECRET,
    STAFF,
    MovableClock,
    Scenario,
    bot_settings,
    running_bot,
)
from tests.bot.test_key_check import GUIDE
from tests.bot.test_support import THURSDAY_10_LONDON, World, settle


@pytest.fixture
async def world(
    api: SlackApiSandbox, state_url: str, dentally: Sandbox, dentally_url: str, tmp_path: Path
) -> AsyncIterator[World]:
    clock = MovableClock(THURSDAY_10_LONDON)
    settings = bot_settings(api, state_url, dentally_url)
    async with httpx.AsyncClient(timeout=10) as http, running_bot(settings, clock) as running:
        driver = SlackDriver(running.url, SIGNING_SECRET, api, http, clock=clock)
        yield World(api, driver, Scenario(api, driver, tmp_path), running.runtime, clock, dentally)


async def relabel(world: World, address: str, schema_version: object) -> str:
    """Rewrite the record at ``address`` as another release would label it; returns what it held before."""
    store = world.runtime.store
    record = await store.get(address)
    assert record is not None
    await store.put(address, json.dumps({**json.loads(record.data), "schema_version": schema_version}), record.version)
    return record.data


async def test_a_move_on_a_newer_release_s_record_is_told_unavailable_and_applied_once_readable(world: World) -> None:
    driver, scenario = world.driver, world.scenario
    await driver.click(ADMIN, await scenario.kickoff(), blocks.ACTION_START)
    first = await scenario.latest_step(ADMIN)
    await settle(world)
    key = str(ConversationKey("slack", "T0ALDENSE", CLINIC, ADMIN))
    readable = await relabel(world, key, "3.0")

    delivery = await driver.click(ADMIN, first, blocks.ACTION_DONE)
    assert delivery.response.status_code == 200
    told = await driver.wait_for(lambda: driver.ephemeral(ADMIN, CLINIC))
    assert "temporarily unavailable" in told[-1].text

    # The deploy is rolled back (or this replica replaced): the record reads again and the retried move lands once.
    record = await world.runtime.store.get(key)
    assert record is not None
    await world.runtime.store.put(key, readable, record.version)
    second = await driver.wait_for(
        lambda: (m := driver.latest_in_user_thread(CLINIC, ADMIN)) and GUIDE.steps[1].title in m.text and m,
        timeout=20,
    )
    assert second.ts != first.ts
    await settle(world)
    state = await world.runtime.core.service.conversation(ConversationKey("slack", "T0ALDENSE", CLINIC, ADMIN))
    assert state is not None
    assert GUIDE.index_of(state.step_id) == 1


async def test_staff_commands_meeting_a_newer_release_s_record_say_so(world: World) -> None:
    await world.driver.click(ADMIN, await world.scenario.kickoff(), blocks.ACTION_START)
    await world.scenario.latest_step(ADMIN)
    await settle(world)
    await relabel(world, clinic_key("slack", CLINIC), 2)

    before = len(world.api.responses())
    await world.driver.run_command(STAFF, ONBOARDING, "/aldense", f"status <#{CLINIC}|clinic>", escape=False)
    answer = await world.driver.wait_for(lambda: world.api.responses()[before:])
    assert [reply.body.get("text") for reply in answer] == [INCOMPATIBLE_FOR_STAFF]
