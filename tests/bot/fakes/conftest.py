"""Fixtures: the api sandbox served on loopback, a real AsyncWebClient pointed at it, and a tiny Bolt app."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.fakes.slack import SlackApiSandbox, SlackDriver, Workspace
from bot.serving import serve
from tests.bot.fakes.tiny_app import SIGNING_SECRET, TinyApp
from tests.quick_stop import QUICK_STOP


class FakeClock:
    """A clock tests move by hand, so expiry is tested without sleeping."""

    def __init__(self) -> None:
        # Start at the real time: the bot checks request signatures against its own clock.
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def workspace() -> Workspace:
    return Workspace()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def api(workspace: Workspace, clock: FakeClock) -> AsyncIterator[SlackApiSandbox]:
    sandbox = SlackApiSandbox(workspace, clock=clock)
    async with sandbox.serve():
        yield sandbox


@pytest.fixture
def client(api: SlackApiSandbox) -> AsyncWebClient:
    return AsyncWebClient(token=api.workspace.bot_token, base_url=api.api_url)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as session:
        yield session


@pytest.fixture
async def tiny(api: SlackApiSandbox) -> AsyncIterator[TinyApp]:
    app = TinyApp(api.api_url, api.workspace.bot_token)
    async with serve(app.asgi, poll_seconds=QUICK_STOP) as url:
        app.url = url
        yield app
    await app.drain()


@pytest.fixture
def driver(tiny: TinyApp, api: SlackApiSandbox, http: httpx.AsyncClient, clock: FakeClock) -> SlackDriver:
    return SlackDriver(tiny.url, SIGNING_SECRET, api, http, clock=clock)
