"""Fixtures for the Teams tests: the loopback connector, a world of two tenants, and a bot with Teams on."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from bot.fakes.slack import SlackApiSandbox
from bot.fakes.teams.connector import TeamsConnector
from bot.fakes.teams.driver import TeamsDriver, TeamsWorld
from tests.bot.harness import RunningBot
from tests.bot.teams.harness import LOCAL_AUTH, running_teams_bot, teams_settings


@pytest.fixture
def world() -> TeamsWorld:
    return TeamsWorld()


@pytest.fixture
async def connector(world: TeamsWorld) -> AsyncIterator[TeamsConnector]:
    connector = TeamsConnector(LOCAL_AUTH.token, world.roster())
    async with connector.serve():
        yield connector


@pytest.fixture
async def teams_bot(
    api: SlackApiSandbox, state_url: str, dentally_url: str, world: TeamsWorld, connector: TeamsConnector
) -> AsyncIterator[RunningBot]:
    async with running_teams_bot(teams_settings(api, state_url, dentally_url, world)) as running:
        yield running


@pytest.fixture
async def teams(
    teams_bot: RunningBot, connector: TeamsConnector, world: TeamsWorld, http: httpx.AsyncClient
) -> TeamsDriver:
    """A driver for a bot that Aldense has added to its internal channel and to the clinic's shared channel."""
    driver = TeamsDriver(teams_bot.url, connector, world, http)
    for where in (world.internal, world.shared):
        assert (await driver.install(where)).status_code == 200
    return driver
