"""Teams answers 429 when a conversation is over its limit: the bot's next step waits for it, and is never dropped."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.fakes.slack import SlackApiSandbox
from bot.fakes.teams.connector import Sent, TeamsConnector
from bot.fakes.teams.driver import TeamsDriver, TeamsWorld
from bot.teams.limits import PER_CONVERSATION
from tests.bot.harness import RunningBot
from tests.bot.teams.harness import LOCAL_AUTH, latest_step, running_teams_bot, teams_settings
from tests.bot.teams.test_walkthrough import kickoff, start


def next_step(teams: TeamsDriver, after: Sent) -> Sent | None:
    step = latest_step(teams, teams.world.shared, "admin")
    return step if step is not None and step.id != after.id else None


class StoppedClock:
    """The connector's clock, moved only by the test, so its buckets refill exactly when told."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> StoppedClock:
    return StoppedClock()


@pytest.fixture
async def connector(world: TeamsWorld, clock: StoppedClock) -> AsyncIterator[TeamsConnector]:
    connector = TeamsConnector(LOCAL_AUTH.token, world.roster(), clock=clock)
    async with connector.serve():
        yield connector


@pytest.fixture
async def teams_bot(
    api: SlackApiSandbox, state_url: str, dentally_url: str, world: TeamsWorld, connector: TeamsConnector
) -> AsyncIterator[RunningBot]:
    settings = teams_settings(
        api,
        state_url,
        dentally_url,
        world,
        follow_up__outbox_retry_seconds=1.0,
        follow_up__due_work_interval_seconds=0.3,
    )
    async with running_teams_bot(settings) as running:
        yield running


async def test_a_429_delays_the_next_step_until_the_conversation_has_budget_and_it_arrives_once(
    teams: TeamsDriver, teams_bot: RunningBot, clock: StoppedClock, http: httpx.AsyncClient
) -> None:
    where = teams.world.shared
    first = await start(teams, "admin", await kickoff(teams))
    connector = teams.connector
    connector.switch_rate_limits(True)
    # Other messages in the conversation spend its two-second budget.
    for _ in range(PER_CONVERSATION[0].burst):
        sent = await http.post(
            f"{connector.url}/v3/conversations/{where.id}/activities",
            json={"type": "message", "text": "busy"},
            headers={"Authorization": f"Bearer {LOCAL_AUTH.token}"},
        )
        assert sent.status_code == 201

    await teams.click("admin", where, first, "Done, next step")
    await teams.wait_for(lambda: any(call.status == 429 for call in connector.calls))
    assert latest_step(teams, where, "admin") == first

    clock.now += 60.0  # the conversation has budget again
    # The outbox keeps the work (a 429 is not a refusal); recovery carries it out once its grace period is over.
    deadline = asyncio.get_running_loop().time() + 20
    while (second := next_step(teams, first)) is None and asyncio.get_running_loop().time() < deadline:
        await teams_bot.runtime.scheduler.run_once()
        await asyncio.sleep(0.1)
    assert second is not None, [(c.method, c.status) for c in connector.calls[-5:]]
    assert second.text.count("Step 2 of") == 1
    assert sum("Step 2 of" in m.text for m in teams.in_conversation(where)) == 1
