"""Fixtures for the bot's end-to-end tests: Slack sandbox, a running bot on SQLite, and a signed driver."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from bot.fakes.slack import SlackApiSandbox, SlackDriver, Workspace
from bot.serving import serve
from dentally.sandbox import Sandbox
from tests.bot.harness import SIGNING_SECRET, RunningBot, Scenario, bot_settings, running_bot
from tests.bot.shipped import ShippedLogs
from tests.quick_stop import QUICK_STOP


@pytest.fixture
async def api() -> AsyncIterator[SlackApiSandbox]:
    sandbox = SlackApiSandbox(Workspace())
    async with sandbox.serve():
        yield sandbox


@pytest.fixture
def state_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/state.sqlite3"


@pytest.fixture
def dentally() -> Sandbox:
    return Sandbox()


@pytest.fixture
async def dentally_url(dentally: Sandbox) -> AsyncIterator[str]:
    async with serve(dentally, poll_seconds=QUICK_STOP) as url:
        yield url


@pytest.fixture
async def bot(api: SlackApiSandbox, state_url: str, dentally_url: str) -> AsyncIterator[RunningBot]:
    async with running_bot(bot_settings(api, state_url, dentally_url)) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
def driver(bot: RunningBot, api: SlackApiSandbox, http: httpx.AsyncClient) -> SlackDriver:
    return SlackDriver(bot.url, SIGNING_SECRET, api, http)


@pytest.fixture
def scenario(api: SlackApiSandbox, driver: SlackDriver, tmp_path: Path) -> Scenario:
    return Scenario(api, driver, tmp_path)


@pytest.fixture(params=["text", "json"])
def shipped_logs(request: pytest.FixtureRequest) -> Iterator[ShippedLogs]:
    """The bot's log handler in each format (``LOG_FORMAT``), on the root logger for the test's duration."""
    shipped = ShippedLogs(request.param)
    root = logging.getLogger()
    root.addHandler(shipped.handler)
    try:
        yield shipped
    finally:
        root.removeHandler(shipped.handler)
        if shipped.format == "json":
            shipped.records()  # every line the test produced parses, whatever the test asserted
