"""A running bot with Teams on: the real runtime, the loopback connector, and the Slack and Dentally sandboxes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from bot.fakes.slack import SlackApiSandbox
from bot.fakes.teams.connector import Sent
from bot.fakes.teams.driver import Conversation, TeamsDriver, TeamsWorld
from bot.runtime import open_runtime
from bot.serving import serve
from bot.settings import Settings
from bot.teams.sdk import UnsafeLocalAuth
from tests.bot.harness import RunningBot, bot_settings
from tests.quick_stop import QUICK_STOP

CLIENT_ID = "0a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"
CLIENT_SECRET = "teams-client-secret-not-real"
LOCAL_AUTH = UnsafeLocalAuth()


def teams_settings(
    api: SlackApiSandbox, state_url: str, dentally_url: str, world: TeamsWorld, **overrides: Any
) -> Settings:
    """Slack for support, Teams for the clinic, Dentally on loopback."""
    values: dict[str, Any] = {
        "teams__client_id": CLIENT_ID,
        "teams__client_secret": CLIENT_SECRET,
        "teams__tenant_id": world.aldense_tenant,
    }
    values.update(overrides)
    return bot_settings(api, state_url, dentally_url, **values)


@contextlib.asynccontextmanager
async def running_teams_bot(
    settings: Settings, local_auth: UnsafeLocalAuth | None = LOCAL_AUTH, clock: Callable[[], float] | None = None
) -> AsyncIterator[RunningBot]:
    """Serve the real bot with Teams on; unauthenticated activities are accepted only through ``local_auth``."""
    kwargs: dict[str, Any] = {"clock": clock} if clock else {}
    async with (
        open_runtime(settings, teams_local_auth=local_auth, **kwargs) as runtime,
        serve(runtime.http_app, poll_seconds=QUICK_STOP) as url,
    ):
        yield RunningBot(runtime, url)


async def settle(bot: RunningBot) -> None:
    """Wait until the bot has finished the work it acknowledged, on both platforms."""
    assert bot.runtime.teams is not None
    await bot.runtime.core.tasks.drain(10)
    await bot.runtime.core.tasks.drain(10)


def latest_step(driver: TeamsDriver, where: Conversation, who: str) -> Sent | None:
    """The newest card with buttons in the thread that ``who``'s guide runs in."""
    name = driver.world.member(who).name
    openers = [
        m for m in driver.in_conversation(where) if m.thread is None and name in m.text and "connecting" in m.text
    ]
    if not openers:
        return None
    thread = openers[-1].id
    steps = [m for m in driver.connector.messages(where.id, thread) if m.titles and m.targeted_to is None]
    return steps[-1] if steps else None
