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
    """A driver for a bot that Aldense has added to its internal channel and to the clinic's shared channel.

    The shared channel's install event has the docs' recorded shape (its name, no type); the internal one's also
    says it is a standard channel, the only way the bot learns that a channel is Aldense's own.
    """
    driver = TeamsDriver(teams_bot.url, connector, world, http)
    assert (await driver.install(world.internal, shape="typed")).status_code == 200
    assert (await driver.install(world.shared)).status_code == 200
    return driver
