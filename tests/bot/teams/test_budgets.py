"""Teams calls go through the outbound scheduler: a fast walk stays within the connector's limits without one 429,
and 412/429/502/504 answers are retried with jittered back-off until the connector takes the call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.fakes.slack import SlackApiSandbox
from bot.fakes.teams.connector import TeamsConnector
from bot.fakes.teams.driver import TeamsDriver, TeamsWorld
from bot.teams.limits import PER_CONVERSATION
from tests.bot.harness import RunningBot
from tests.bot.teams.harness import latest_step, running_teams_bot, teams_settings
from tests.bot.teams.test_walkthrough import kickoff, start, walk_to_key_step


@pytest.fixture
async def teams_bot(
    api: SlackApiSandbox, state_url: str, dentally_url: str, world: TeamsWorld, connector: TeamsConnector
) -> AsyncIterator[RunningBot]:
    settings = teams_settings(api, state_url, dentally_url, world, support__outbound_budgets=True)
    async with running_teams_bot(settings) as running:
        yield running


async def test_a_fast_walk_spends_the_conversations_budget_without_a_429(
    teams: TeamsDriver, connector: TeamsConnector
) -> None:
    connector.switch_rate_limits(True)
    first = await start(teams, "admin", await kickoff(teams))
    await walk_to_key_step(teams, "admin", first)
    where = teams.world.shared.id
    sent = [c for c in connector.calls if where in c.path and c.method in ("POST", "PUT")]
    assert len(sent) > PER_CONVERSATION[0].burst  # more than one burst: the limit was really in play
    assert [c.status for c in connector.calls if c.status == 429] == []


async def test_412_and_502_answers_are_retried_until_the_connector_takes_the_call(
    teams: TeamsDriver, connector: TeamsConnector, http: httpx.AsyncClient
) -> None:
    first = await start(teams, "admin", await kickoff(teams))
    connector.refuse_with = 412
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, setattr, connector, "refuse_with", 502)
    loop.call_later(0.6, setattr, connector, "refuse_with", None)
    await teams.click("admin", teams.world.shared, first, "Done, next step")
    second = await teams.wait_for(
        lambda: (s := latest_step(teams, teams.world.shared, "admin")) is not None and s.id != first.id and s,
        timeout=15,
    )
    assert "Step 2" in second.text
    statuses = [c.status for c in connector.calls]
    assert 412 in statuses
    assert statuses[-1] < 300
