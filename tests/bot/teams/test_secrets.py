"""On Teams too, the Dentally key never leaks: not to logs at any level, the connector, dialog answers, or the store."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.fakes.slack import SlackApiSandbox
from bot.fakes.teams.connector import TeamsConnector
from bot.fakes.teams.driver import TeamsDriver, TeamsWorld, dialog_card
from bot.serving import serve
from dentally.sandbox import Sandbox, SandboxKey, sample_keys
from tests.bot.harness import every_logger_at
from tests.bot.shipped import ShippedLogs
from tests.bot.teams.harness import latest_step, running_teams_bot, settle, teams_settings
from tests.bot.teams.test_walkthrough import kickoff, start, walk_to_key_step
from tests.bot.test_secrets import CANARY, REQUIRED, assert_shipped_clean, leaks
from tests.quick_stop import QUICK_STOP


@pytest.fixture
def dentally() -> Sandbox:
    keys = sample_keys()
    keys["canary"] = SandboxKey("canary", CANARY, "the leak canary", "uk", (*REQUIRED, "practice:read"))
    return Sandbox(keys=keys)


@pytest.fixture
async def dentally_url(dentally: Sandbox) -> AsyncIterator[str]:
    async with serve(dentally, poll_seconds=QUICK_STOP) as url:
        yield url


async def test_the_key_appears_nowhere_after_a_whole_teams_flow(
    api: SlackApiSandbox,
    tmp_path: Path,
    dentally: Sandbox,
    dentally_url: str,
    world: TeamsWorld,
    connector: TeamsConnector,
    caplog: pytest.LogCaptureFixture,
    shipped_logs: ShippedLogs,
) -> None:
    caplog.set_level(logging.DEBUG)
    state_url = f"sqlite:///{tmp_path}/state.sqlite3"
    settings = teams_settings(api, state_url, dentally_url, world, log_level="DEBUG")
    answers: list[str] = []
    # Every logger at DEBUG from when the SDK's exist until the bot has stopped; then back as they were.
    with contextlib.ExitStack() as debug:
        async with httpx.AsyncClient(timeout=10) as http, running_teams_bot(settings) as bot:
            debug.enter_context(every_logger_at(logging.DEBUG))  # after the SDK is imported, so its loggers are here
            teams = TeamsDriver(bot.url, connector, world, http)
            where = world.shared
            key_step = await walk_to_key_step(teams, "admin", await start(teams, "admin", await kickoff(teams)))
            opened = await teams.click("admin", where, key_step, "Enter the key privately")
            # Junk around the key is refused inline, and the form never carries what was typed.
            junk = await teams.submit_dialog("admin", where, opened.json(), {"api_key": CANARY + " !", "region": "uk"})
            answers.append(junk.text)
            assert dialog_card(junk.json())
            # Dentally down: the key is kept encrypted for "Check again"; then it verifies.
            dentally.switches.server_error = 502
            down = await teams.submit_dialog("admin", where, opened.json(), {"api_key": CANARY, "region": "uk"})
            answers.append(down.text)
            await settle(bot)
            result = await teams.wait_for(lambda: latest_step(teams, where, "admin"))
            assert "Check again" in result.titles
            dentally.switches.server_error = None
            await teams.click("admin", where, result, "Check again")
            await teams.wait_for(lambda: any("Dentally is connected" in m.text for m in teams.in_conversation(where)))
            # A submission from someone else, and one with a malformed body: refused, never logged.
            other = await teams.submit_dialog("nurse", where, opened.json(), {"api_key": CANARY, "region": "uk"})
            answers.append(other.text)
            broken = await teams.post({"type": "invoke", "name": "task/submit", "value": {"data": {"api_key": CANARY}}})
            assert broken.status_code == 400
            answers.append(broken.text)
            await settle(bot)

    assert caplog.records, "logging was captured"
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "") + repr(record.args)
        assert leaks(text) == [], f"{record.name}: {text[:3000]}"
    assert_shipped_clean(shipped_logs)
    if shipped_logs.format == "json":  # Teams activities' lines name their platform, conversation and sender
        assert any(line.get("platform") == "teams" and "user" in line for line in shipped_logs.records())
    for answer in answers:
        assert leaks(answer) == []
    for body in connector.bodies():
        assert leaks(body) == []
    for call in api.calls():
        assert leaks(json.dumps(call.params, default=str)) == [], call.method
    path = Path(state_url.removeprefix("sqlite:///"))
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert leaks(raw.decode("latin-1")) == []
    with sqlite3.connect(path) as db:
        rows = [row[0] for row in db.execute("SELECT data FROM records").fetchall()]
    assert any("credential" in row for row in rows)
