"""Forgetting a clinic end to end (signed Slack command and confirmation, and the command line), and export."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redis

from bot.fakes.slack import SlackApiSandbox, SlackDriver
from bot.slack.support import blocks as support_blocks
from conversations.addresses import ConversationKey, clinic_key
from conversations.clinic import Clinic
from conversations.events import Abandon, Start
from dentally.sandbox import Sandbox
from tests.bot.harness import (
    ADMIN,
    CLINIC,
    NURSE,
    ONBOARDING,
    SIGNING_SECRET,
    STAFF,
    MovableClock,
    Scenario,
    bot_settings,
    message_text,
    running_bot,
)
from tests.bot.test_support import KEYS, THURSDAY_10_LONDON, World, cards, settle, verified_clinic

ROOT = Path(__file__).resolve().parents[2]
KEY = KEYS["all_scopes"].key
DAY = 86400.0
RETENTION_DAYS = 180


@pytest.fixture(params=["sqlite", "redis"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/state.sqlite3"
    return str(request.getfixturevalue("redis_url"))


@pytest.fixture
async def world(
    api: SlackApiSandbox, state_url: str, dentally: Sandbox, dentally_url: str, tmp_path: Path
) -> AsyncIterator[World]:
    clock = MovableClock(THURSDAY_10_LONDON)
    settings = bot_settings(api, state_url, dentally_url)
    async with httpx.AsyncClient(timeout=10) as http, running_bot(settings, clock) as running:
        driver = SlackDriver(running.url, SIGNING_SECRET, api, http, clock=clock)
        yield World(api, driver, Scenario(api, driver, tmp_path), running.runtime, clock, dentally)


def everything_stored(url: str) -> list[str]:
    """Every record, mark and queue entry in the store, a line each, read past the bot (SQLite rows, Redis keys)."""
    if url.startswith("sqlite:"):
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
            rows = [
                *db.execute("SELECT 'record', key, data FROM records"),
                *db.execute("SELECT 'mark', key, '' FROM marks"),
                *db.execute("SELECT 'due', queue, item FROM due"),
            ]
        return [" ".join(str(part) for part in row) for row in rows]
    client = redis.Redis.from_url(url, decode_responses=True)
    lines = []
    try:
        for key in client.scan_iter():
            kind = client.type(key)
            if kind == "hash":
                lines.append(f"{key} {client.hgetall(key)}")
            elif kind == "zset":
                lines.append(f"{key} {client.zrange(key, 0, -1)}")
            else:
                lines.append(f"{key} {client.get(key)}")
    finally:
        client.close()
    return lines


def about_the_clinic(lines: list[str], ciphertext: str) -> list[str]:
    found = ("Maple Leaf", CLINIC, ADMIN, KEY, KEY[-4:], ciphertext)
    return [line for line in lines if any(text in line for text in found)]


async def stored_ciphertext(world: World) -> str:
    record = await world.runtime.store.get(clinic_key("slack", CLINIC))
    assert record is not None
    credential = Clinic.model_validate_json(record.data).credential
    assert credential is not None
    return credential.ciphertext


def response_with(api: SlackApiSandbox, text: str) -> str | None:
    for response in reversed(api.responses()):
        body = json.dumps(response.body)
        if text in body:
            return body
    return None


async def test_staff_forget_a_clinic_with_confirmation_and_nothing_about_it_is_left(
    world: World, state_url: str
) -> None:
    await verified_clinic(world)
    ciphertext = await stored_ciphertext(world)
    assert about_the_clinic(everything_stored(state_url), ciphertext)  # the scan sees the clinic before
    driver, api = world.driver, world.api

    await driver.run_command(STAFF, ONBOARDING, "/aldense", f"forget <#{CLINIC}|clinic>", escape=False)
    confirm = await driver.wait_for(lambda: driver.open_view(STAFF))
    assert confirm.callback_id == support_blocks.FORGET_VIEW
    assert "Maple Leaf Dental" in json.dumps(confirm.blocks)
    assert "stored Dentally key" in json.dumps(confirm.blocks)
    tick = {support_blocks.FORGET_TELL_BLOCK: {support_blocks.FORGET_TELL_ACTION: [support_blocks.FORGET_TELL_VALUE]}}
    await driver.submit_view(STAFF, confirm, tick)
    done = await driver.wait_for(lambda: (v := driver.open_view(STAFF)) and "Done:" in json.dumps(v.blocks) and v)
    assert "erased 1 conversation(s), the clinic record (with the stored key)" in json.dumps(done.blocks)
    await settle(world)

    assert about_the_clinic(everything_stored(state_url), ciphertext) == []
    card = cards(api)[0]
    assert "erased on" in message_text(card)
    assert f"by <@{STAFF}>" in message_text(card)
    assert "Maple Leaf" not in message_text(card)
    told = [m for m in api.messages(CLINIC) if "erased what I kept" in m.text]
    assert len(told) == 1

    # Idempotent: a second forget finds nothing, says so, and opens no confirmation.
    before = api.open_view(STAFF)
    await driver.run_command(STAFF, ONBOARDING, "/aldense", f"forget <#{CLINIC}|clinic>", escape=False)
    assert await driver.wait_for(lambda: response_with(api, "Nothing is stored for"))
    assert api.open_view(STAFF) == before


async def test_forget_is_refused_to_a_clinic_user_and_erases_nothing(world: World) -> None:
    await verified_clinic(world)
    await world.driver.run_command(ADMIN, CLINIC, "/aldense", f"forget <#{CLINIC}|clinic>", escape=False, force=True)
    assert await world.driver.wait_for(lambda: response_with(world.api, "for the Aldense team only"))
    assert all(view.callback_id != support_blocks.FORGET_VIEW for view in world.api.modal_stack(ADMIN))
    conversations, clinic = await world.runtime.core.erasure.stored("slack", CLINIC)
    assert conversations == 1
    assert clinic is not None


async def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ALDENSE_", "DENTALLY_", "TEAMS_"))}
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        cwd=ROOT,
        env=clean | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(child.communicate(), 60)
    assert child.returncode is not None
    return child.returncode, out.decode(), err.decode()


async def test_export_then_forget_from_the_command_line(world: World, state_url: str) -> None:
    await verified_clinic(world)
    ciphertext = await stored_ciphertext(world)
    env = {
        "STATE_URL": state_url,
        "SLACK_BOT_TOKEN": world.api.workspace.bot_token,
        "SLACK_API_URL": world.api.api_url,
        "ALDENSE_ONBOARDING_CHANNEL": ONBOARDING,
    }

    code, out, err = await run_cli("export", "--channel", CLINIC, env=env)
    assert code == 0, err
    held = json.loads(out)
    assert held["clinic"]["name"] == "Maple Leaf Dental"
    assert held["clinic"]["credential"]["fingerprint"] == KEY[-4:]
    assert "ciphertext" not in held["clinic"]["credential"]
    assert [c["user"] for c in held["conversations"]] == [ADMIN]
    assert KEY not in out
    assert ciphertext not in out
    assert "email" not in json.dumps(held["clinic"]["last_check"]["user"])

    code, out, err = await run_cli("forget", "--channel", CLINIC, env=env)
    assert code == 0, err
    assert "erased 1 conversation(s), the clinic record (with the stored key)" in out
    assert "Status card retired." in out
    assert about_the_clinic(everything_stored(state_url), ciphertext) == []
    assert "aldense-guide forget" in message_text(cards(world.api)[0])

    code, out, _ = await run_cli("forget", "--channel", CLINIC, env=env)
    assert code == 1
    assert "Nothing is stored" in out
    code, _, err = await run_cli("export", "--channel", CLINIC, env=env)
    assert code == 1
    assert "Nothing is stored" in err


async def test_retention_erases_unmoved_guides_and_idle_clinics_without_a_key(world: World, state_url: str) -> None:
    await verified_clinic(world)  # Maple Leaf: the admin's guide is finished and the key is stored
    service, clock = world.runtime.core.service, world.clock
    team = await world.runtime.slack.workspace.installing_team()

    async def begin(key: ConversationKey, name: str) -> None:
        outcome = await service.handle(key, Start(at=clock()))
        assert outcome.batch is not None
        await service.settle(key, outcome.batch)  # as if posted: this test is about what is kept, not Slack
        await service.update_clinic("slack", key.channel, lambda c: c.model_copy(update={"team": team, "name": name}))

    idle = ConversationKey("slack", team, "C0IDLE", "U0IDLER")
    await begin(idle, "Idle Dental")
    abandoned = ConversationKey("slack", team, CLINIC, NURSE)
    await begin(abandoned, "Maple Leaf Dental")
    await service.handle(abandoned, Abandon(clock()))
    clock.advance(RETENTION_DAYS * DAY - 2 * DAY)
    recent = ConversationKey("slack", team, "C0RECENT", "U0RECENT")
    await begin(recent, "Recent Dental")
    clock.advance(3 * DAY)  # past the period for the first guides, not for the recent one
    gone = ("C0IDLE", "U0IDLER", "Idle Dental", NURSE)
    assert [line for line in everything_stored(state_url) if any(text in line for text in gone)]

    await world.runtime.scheduler.run_once()
    await settle(world)

    lines = everything_stored(state_url)
    assert [line for line in lines if any(text in line for text in gone)] == []
    assert await service.conversation(recent) is not None
    assert await service.conversation(ConversationKey("slack", team, CLINIC, ADMIN)) is not None
    kept = await service.clinic("slack", CLINIC)
    assert kept is not None
    assert kept.credential is not None
    assert await service.clinic("slack", "C0RECENT") is not None
    # The stored check result names no one: the Dentally user's id stays, their name and e-mail do not.
    assert kept.last_check is not None
    user = kept.last_check["user"]
    assert isinstance(user, dict)
    assert user.get("id") is not None
    assert not {"first_name", "last_name", "email"} & set(user)


async def test_retention_cleans_names_from_check_results_kept_before_the_rule(world: World) -> None:
    await verified_clinic(world)
    service = world.runtime.core.service
    named = {"id": 7, "first_name": "Jane", "last_name": "Admin", "email": "jane@maple.example"}

    def older(clinic: Clinic) -> Clinic:
        return clinic.model_copy(update={"last_check": {**(clinic.last_check or {}), "user": named}})

    await service.update_clinic("slack", CLINIC, older)
    swept = await world.runtime.scheduler.retention.sweep(world.clock(), force=True)
    assert swept.checks_cleaned == 1
    clinic = await service.clinic("slack", CLINIC)
    assert clinic is not None
    assert clinic.last_check is not None
    assert clinic.last_check["user"] == {"id": 7}
