"""End to end over signed HTTP: the status card, milestones, staff commands and buttons, reminders, keep-alive."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.fakes.slack import SlackApiSandbox, SlackDriver
from bot.fakes.slack.api import Message
from bot.runtime import Runtime
from bot.slack import blocks
from bot.slack.support import blocks as support_blocks
from conversations.addresses import ConversationKey
from conversations.events import Start
from dentally.sandbox import Sandbox, sample_keys
from tests.bot.harness import (
    ADMIN,
    CLINIC,
    NURSE,
    ONBOARDING,
    SIGNING_SECRET,
    STAFF,
    MovableClock,
    Scenario,
    action_ids,
    ask_aldense,
    bot_settings,
    message_text,
    running_bot,
)
from tests.bot.test_key_check import GUIDE, open_modal, reach_key_step, submit_key

KEYS = sample_keys()
# Thursday 5 March 2026, 10:00 in London (UTC+0 in March): inside the working window there.
THURSDAY_10_LONDON = datetime(2026, 3, 5, 10, 0, tzinfo=UTC).timestamp()
HOUR = 3600.0


@dataclass
class World:
    api: SlackApiSandbox
    driver: SlackDriver
    scenario: Scenario
    runtime: Runtime
    clock: MovableClock
    dentally: Sandbox


@pytest.fixture
async def world(
    api: SlackApiSandbox, state_url: str, dentally: Sandbox, dentally_url: str, tmp_path: Path
) -> AsyncIterator[World]:
    clock = MovableClock(THURSDAY_10_LONDON)
    settings = bot_settings(api, state_url, dentally_url)
    async with httpx.AsyncClient(timeout=10) as http, running_bot(settings, clock) as running:
        driver = SlackDriver(running.url, SIGNING_SECRET, api, http, clock=clock)
        yield World(api, driver, Scenario(api, driver, tmp_path), running.runtime, clock, dentally)


def cards(api: SlackApiSandbox) -> list[Message]:
    """Top-level messages of the onboarding channel (broadcast thread replies show there too, but are replies)."""
    return [m for m in api.messages(ONBOARDING) if not m.is_reply]


def thread_texts(api: SlackApiSandbox) -> list[str]:
    return [m.text for card in cards(api) for m in api.thread(ONBOARDING, card.ts) if m.is_reply]


async def settle(world: World) -> None:
    await world.runtime.core.tasks.drain(10)


async def verified_clinic(world: World) -> None:
    await open_modal(world.driver, await reach_key_step(world.scenario))
    await submit_key(world.driver, KEYS["all_scopes"].key)
    await world.driver.wait_for(
        lambda: any("Dentally is connected" in message_text(m) for m in world.driver.user_thread(CLINIC, ADMIN))
    )
    await settle(world)


async def test_one_card_per_clinic_edited_through_the_whole_guide(world: World) -> None:
    await verified_clinic(world)
    assert len(cards(world.api)) == 1
    card = cards(world.api)[0]
    # Edited in place as the guide went on (changes that met a refresh on its way folded into the next one).
    assert any("In progress" in version.text for version in card.edits), card.edits
    text = message_text(card)
    assert "Maple Leaf Dental" in text
    assert f"<#{CLINIC}>" in text
    assert "Connected · Priya Shah at Maple Leaf Dental · UK & Ireland" in text
    assert f"`…{KEYS['all_scopes'].key[-4:]}`" in text
    assert "<!date^" in text
    texts = thread_texts(world.api)
    assert sum("started the Dentally guide" in t for t in texts) == 1
    assert sum("finished step" in t for t in texts) == 0  # progress is on the card, not in the thread
    assert f"{GUIDE.step_count - 1}: " in message_text(card)  # the card's time per step
    assert any("entered a key ending" in t for t in texts)
    assert any("Key check for" in t and "verified" in t for t in texts)


async def test_stuck_shows_on_the_card_with_a_link_and_the_steps_picture(world: World) -> None:
    driver = world.driver
    await driver.click(ADMIN, await world.scenario.kickoff(), blocks.ACTION_START)
    await ask_aldense(driver, ADMIN, await world.scenario.latest_step(ADMIN))
    await driver.wait_for(lambda: any(":sos:" in t for t in thread_texts(world.api)))
    await settle(world)
    stuck = next(
        m for c in cards(world.api) for m in world.api.thread(ONBOARDING, c.ts) if ":sos:" in m.text and m.is_reply
    )
    assert "Open their thread" in stuck.text
    image = next(b for b in stuck.blocks if b["type"] == "image")
    assert image["alt_text"] == GUIDE.steps[0].alt
    assert ":sos: Stuck" in message_text(cards(world.api)[0])
    assert len(cards(world.api)) == 1


async def test_status_lists_clinics_longest_idle_first_and_details_one(world: World) -> None:
    driver, api = world.driver, world.api
    await driver.click(ADMIN, await world.scenario.kickoff(), blocks.ACTION_START)
    await driver.click(ADMIN, await world.scenario.latest_step(ADMIN), blocks.ACTION_DONE)
    await world.scenario.latest_step(ADMIN, title=GUIDE.steps[1].title)
    await settle(world)
    world.clock.advance(5 * HOUR)
    await driver.run_command(STAFF, ONBOARDING, "/aldense", "status", escape=False)
    body = await driver.wait_for(lambda: _response_with(api, "in progress"))
    assert "1 clinic(s) in progress" in body
    assert f"step 2/{GUIDE.step_count}" in body
    assert "idle 5 h" in body
    await driver.run_command(STAFF, ONBOARDING, "/aldense", f"status <#{CLINIC}|clinic>", escape=False)
    text = await driver.wait_for(lambda: _response_with(api, "Started <!date^"))
    assert f"<@{ADMIN}>" in text
    assert f"• 1. {GUIDE.steps[0].title}: 0 s" in text  # time spent per step, not timestamps
    assert f"• 2. {GUIDE.steps[1].title}: on it for 5 h" in text
    assert "reached <!date^" not in text


async def test_status_with_more_clinics_than_fit_says_so(world: World) -> None:
    service = world.runtime.core.service
    team = await world.runtime.slack.workspace.installing_team()
    for index in range(support_blocks.MAX_LISTED + 5):
        channel = f"C0MANY{index:03d}"
        await service.update_clinic("slack", channel, lambda c: c.model_copy(update={"team": team}))
        await service.handle(ConversationKey("slack", team, channel, f"U{index:04d}"), Start(at=world.clock()))
    await world.driver.run_command(STAFF, ONBOARDING, "/aldense", "status", escape=False)
    listing = await world.driver.wait_for(lambda: world.api.responses())
    blocks_sent = listing[-1].body["blocks"]
    assert len(blocks_sent) <= 50
    assert "…and 5 more clinic(s) not shown" in json.dumps(blocks_sent, ensure_ascii=False)


async def test_staff_commands_are_refused_to_clinic_users_and_help_lists_them(world: World) -> None:
    await world.driver.run_command(ADMIN, CLINIC, "/aldense", "status", escape=False, force=True)
    refused = await world.driver.wait_for(lambda: world.api.responses())
    assert "for the Aldense team only" in json.dumps(refused[-1].body)
    await world.driver.run_command(STAFF, ONBOARDING, "/aldense", "help", escape=False)
    helped = await world.driver.wait_for(lambda: len(world.api.responses()) > 1 and world.api.responses())
    assert "/aldense status #clinic-channel" in json.dumps(helped[-1].body)


async def test_card_buttons_refuse_clinic_users_and_change_nothing(world: World) -> None:
    await verified_clinic(world)
    card = cards(world.api)[0]
    assert action_ids(card) == [
        support_blocks.ACTION_RECHECK,
        support_blocks.ACTION_RESET,
        support_blocks.ACTION_OPEN_THREAD,
    ]
    # Say a clinic user ends up in the internal channel (a guest invited by mistake): the buttons still refuse.
    world.api.add_member(ONBOARDING, ADMIN)
    before = len(world.api.calls())
    modal_before = world.driver.open_view(ADMIN)
    await world.driver.click(ADMIN, card, support_blocks.ACTION_RESET)
    note = await world.driver.wait_for(lambda: world.driver.ephemeral(ADMIN, ONBOARDING))
    assert "Only the Aldense team" in note[-1].text
    await settle(world)
    assert world.driver.open_view(ADMIN) == modal_before
    assert [c.method for c in world.api.calls()[before:]] == ["chat.postEphemeral"]


async def test_staff_recheck_and_reset_with_confirmation(world: World) -> None:
    await verified_clinic(world)
    card = cards(world.api)[0]
    await world.driver.click(STAFF, card, support_blocks.ACTION_RECHECK)
    await world.driver.wait_for(lambda: any("Re-check by" in t for t in thread_texts(world.api)))
    await world.driver.click(STAFF, cards(world.api)[0], support_blocks.ACTION_RESET)
    confirm = await world.driver.wait_for(lambda: world.driver.open_view(STAFF))
    assert confirm.callback_id == support_blocks.RESET_VIEW
    await world.driver.submit_view(STAFF, confirm)
    told = await world.driver.wait_for(
        lambda: next((m for m in world.driver.user_thread(CLINIC, ADMIN) if "reset your guide" in m.text), None)
    )
    # The default scope is the guides only: the clinic reads that Dentally stays connected, with nothing to do.
    assert "Dentally stays connected" in told.text
    assert blocks.ACTION_START not in action_ids(told)
    await settle(world)
    state = await world.runtime.core.service.conversation(ConversationKey("slack", "T0ALDENSE", CLINIC, ADMIN))
    assert state is not None
    assert state.status.value == "abandoned"
    assert any("reset every guide (the connection is kept)" in t for t in thread_texts(world.api))
    clinic = await world.runtime.core.service.clinic("slack", CLINIC)
    assert clinic is not None
    assert clinic.connection is not None


async def test_reminders_follow_the_users_working_hours_and_stop_at_the_maximum(world: World) -> None:
    driver, scheduler = world.driver, world.runtime.scheduler
    kickoff = await world.scenario.kickoff()
    await driver.click(ADMIN, kickoff, blocks.ACTION_START)  # London
    await driver.click(NURSE, kickoff, blocks.ACTION_START)  # Sydney
    await world.scenario.latest_step(ADMIN)
    await world.scenario.latest_step(NURSE)
    await settle(world)

    def reminders(user: str) -> list[Message]:
        """Every reminder posted to ``user``, live or retired (an older one closes when a newer one is posted)."""
        return [
            m
            for m in driver.user_thread(CLINIC, user)
            if blocks.ACTION_RESUME in action_ids(m) or "An earlier reminder" in message_text(m)
        ]

    world.clock.advance(23 * HOUR)  # Friday 09:00 London: not quiet long enough yet
    await scheduler.run_once()
    assert reminders(ADMIN) == []
    world.clock.advance(2 * HOUR)  # Friday 11:00 London = 22:00 Sydney
    await scheduler.run_once()
    await settle(world)
    assert len(reminders(ADMIN)) == 1
    assert reminders(NURSE) == []  # night-time in Sydney
    assert "Resume" in json.dumps(reminders(ADMIN)[0].blocks)
    assert sum("Reminder 1 sent" in t for t in thread_texts(world.api)) == 1

    world.clock.advance(24 * HOUR)  # Saturday 11:00 London: weekend for both
    await scheduler.run_once()
    await settle(world)
    assert len(reminders(ADMIN)) == 1
    assert reminders(NURSE) == []
    world.clock.advance(36 * HOUR)  # Sunday 23:00 London = Monday 10:00 Sydney
    await scheduler.run_once()
    await settle(world)
    assert len(reminders(ADMIN)) == 1
    assert len(reminders(NURSE)) == 1
    world.clock.advance(12 * HOUR)  # Monday 11:00 London
    await scheduler.run_once()
    await settle(world)
    assert len(reminders(ADMIN)) == 2
    assert len(reminders(NURSE)) == 1
    world.clock.advance(72 * HOUR)  # Thursday: the admin is capped at two
    await scheduler.run_once()
    await settle(world)
    assert len(reminders(ADMIN)) == 2
    # Only the newest reminder keeps its button: the older one's moment passed.
    assert [blocks.ACTION_RESUME in action_ids(m) for m in reminders(ADMIN)] == [False, True]
    # Resume shows the current step again.
    await driver.click(ADMIN, reminders(ADMIN)[-1], blocks.ACTION_RESUME)
    await driver.wait_for(lambda: "Here's where you are" in message_text(driver.user_thread(CLINIC, ADMIN)[-1]))


async def test_keepalive_keeps_the_key_alive_and_reports_a_revoked_key(world: World) -> None:
    await verified_clinic(world)
    service = world.runtime.core.service
    world.clock.advance(7 * 24 * HOUR + 60)
    before = len(world.dentally.requests)
    assert await world.runtime.scheduler.run_once() >= 1
    pings = [r for r in world.dentally.requests[before:] if r.path.endswith("/v1/user")]
    assert len(pings) == 1
    clinic = await service.clinic("slack", CLINIC)
    assert clinic is not None
    assert clinic.credential is not None
    assert clinic.credential.keepalive_result == "ok"
    assert clinic.credential.last_keepalive == pytest.approx(world.clock(), abs=5)

    world.dentally.revoke("all_scopes")
    world.clock.advance(7 * 24 * HOUR + 60)
    await world.runtime.scheduler.run_once()
    await settle(world)
    told = [m for m in world.api.messages(CLINIC) if blocks.ACTION_NEW_KEY in action_ids(m)]
    assert len(told) == 1
    assert "no longer accepts the key" in told[0].text
    assert any("no longer accepts the stored key" in t for t in thread_texts(world.api))
    assert "expired or revoked" in message_text(cards(world.api)[0])
    # The button starts the guide again at the token step.
    await world.driver.click(ADMIN, told[0], blocks.ACTION_NEW_KEY)
    step = await world.scenario.latest_step(ADMIN, title=GUIDE.steps[GUIDE.index_of(GUIDE.new_key_step)].title)
    assert f"Step {GUIDE.index_of(GUIDE.new_key_step) + 1} of" in message_text(step)


async def test_app_home_shows_staff_the_funnel_and_others_an_explanation(world: World) -> None:
    await verified_clinic(world)
    await world.driver.open_home(STAFF)
    home = await world.driver.wait_for(lambda: world.driver.home(STAFF))
    text = json.dumps(home.payload)
    assert "Funnel" in text
    assert "Connections" in text
    assert "Maple Leaf Dental" in text
    assert "Connected · Priya Shah at Maple Leaf Dental" in json.dumps(home.payload, ensure_ascii=False)
    await world.driver.open_home(ADMIN)
    other = await world.driver.wait_for(lambda: world.driver.home(ADMIN))
    assert "Funnel" not in json.dumps(other.payload)


async def test_metrics_are_exposed_after_a_run(world: World) -> None:
    await verified_clinic(world)
    async with httpx.AsyncClient() as http:
        response = await http.get(world.driver.url.replace("/slack/events", "/metrics"))
    body = response.text
    assert response.status_code == 200
    assert "aldense_guides_started_total 1.0" in body
    assert 'aldense_steps_reached_total{step="enter-key"} 1.0' in body
    assert 'aldense_key_checks_total{verdict="verified"} 1.0' in body
    assert "aldense_request_seconds_count" in body


def _response_with(api: SlackApiSandbox, needle: str) -> str | None:
    for response in reversed(api.responses()):
        text = json.dumps(response.body, ensure_ascii=False)
        if needle in text:
            return text
    return None


async def test_an_undecryptable_stored_key_shows_on_the_card_and_support_is_told_once(world: World) -> None:
    from conversations.vault import KeyVault, new_secret

    await verified_clinic(world)
    service = world.runtime.core.service
    clinic = await service.clinic("slack", CLINIC)
    assert clinic is not None
    assert clinic.credential is not None
    working = clinic.credential.ciphertext
    # The key was stored under an encryption key that is no longer configured (removed before `keys rotate`).
    foreign = KeyVault([new_secret()]).encrypt(world.runtime.core.vault.decrypt(working))  # type: ignore[union-attr]

    def swap(ciphertext: str):  # type: ignore[no-untyped-def]
        return lambda c: c.model_copy(update={"credential": c.credential.model_copy(update={"ciphertext": ciphertext})})

    await service.update_clinic("slack", CLINIC, swap(foreign))
    for _ in range(3):  # keep-alive rounds, each finding the key undecryptable
        world.clock.advance(7 * 24 * HOUR + 60)
        await world.runtime.scheduler.run_once()
        await settle(world)
    await world.driver.click(STAFF, cards(world.api)[0], support_blocks.ACTION_RECHECK)
    await world.driver.wait_for(
        lambda: any("can't be decrypted" in e.text for e in world.driver.ephemeral(STAFF, ONBOARDING))
    )
    await settle(world)

    notes = [t for t in thread_texts(world.api) if "can't be decrypted with the configured" in t]
    assert len(notes) == 1
    assert "keys rotate" in notes[0]
    assert "can't be decrypted" in message_text(cards(world.api)[0])
    assert ":white_check_mark: Connected" not in message_text(cards(world.api)[0])

    # The old encryption key is put back (here: the key as it was): the next keep-alive clears the state.
    await service.update_clinic("slack", CLINIC, swap(working))
    world.clock.advance(2 * HOUR)
    await world.runtime.scheduler.run_once()
    await settle(world)
    assert ":white_check_mark: Connected" in message_text(cards(world.api)[0])
    clinic = await service.clinic("slack", CLINIC)
    assert clinic is not None
    assert clinic.credential is not None
    assert clinic.credential.undecryptable_at is None
    assert clinic.credential.keepalive_result == "ok"
