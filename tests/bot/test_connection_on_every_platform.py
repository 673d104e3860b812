"""One clinic, one connection, on Slack and on Teams: end to end over signed HTTP through each platform's stand-in.

Two people in one clinic: the second is told the clinic is connected; a key of another practice is held until a
staff member accepts it; a new key of the same practice and user replaces the old one cleanly; old buttons retire
and a late click on one says "this is done"; a reset says whether it reset a guide or the connection; and a key
whose region was chosen wrongly is verified in its own region without the clinic noticing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.fakes.slack import SlackApiSandbox
from bot.slack.support import blocks as support_blocks
from conversations.connection import ConnectionState
from conversations.conversation import Status
from dentally.sandbox import Sandbox, sample_keys
from tests.bot.connection_sides import ClinicSide, Staff, side_of, staff_of
from tests.bot.harness import ADMIN, ONBOARDING, STAFF
from tests.bot.platform_worlds import PLATFORMS, PlatformWorld, platform_world

KEYS = sample_keys()
HOUR = 3600.0
MAPLE = KEYS["all_scopes"].key  # Priya Shah at Maple Leaf Dental (UK)
MAPLE_AGAIN = KEYS["no_clinic_scopes"].key  # the same Dentally user and practice, another key
HARBOUR = KEYS["au_all_scopes"].key  # Harbourside Dental Studio (Australia & New Zealand)
MAPLE_COLLEAGUE = KEYS["colleague_all_scopes"].key  # Maple Leaf Dental, made by another Dentally user


@pytest.fixture(params=PLATFORMS)
async def world(
    request: pytest.FixtureRequest, api: SlackApiSandbox, state_url: str, dentally_url: str
) -> AsyncIterator[PlatformWorld]:
    async with platform_world(request.param, api, state_url, dentally_url) as opened:
        yield opened


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
def clinic(world: PlatformWorld) -> ClinicSide:
    return side_of(world)


@pytest.fixture
def staff(world: PlatformWorld, api: SlackApiSandbox, http: httpx.AsyncClient) -> Staff:
    return staff_of(world, api, http)


async def connected_by_jane(clinic: ClinicSide) -> None:
    await clinic.walk_to_key_step("jane")
    shown = await clinic.enter_key("jane", MAPLE, "uk")
    assert "Dentally is connected" in shown


async def test_the_opener_turns_into_connected_in_place_once_the_key_connects(
    world: PlatformWorld, clinic: ClinicSide
) -> None:
    await clinic.walk_to_key_step("jane")
    [opener] = clinic.openers("jane")
    assert f"{clinic.person('jane')} is connecting Dentally" in opener
    shown = await clinic.enter_key("jane", MAPLE, "uk")
    assert "Dentally is connected" in shown
    connected = await world.wait_for(lambda: [t for t in clinic.openers("jane") if "connected Dentally" in t])
    assert len(connected) == 1
    assert f"{clinic.person('jane')} connected Dentally" in connected[0]
    assert "✅" in connected[0] or ":white_check_mark:" in connected[0]
    assert len(clinic.openers("jane")) == 1, "the opener was edited in place, not posted again"


async def test_the_second_person_is_told_who_connected_it_and_a_different_practice_waits_for_staff(
    world: PlatformWorld, clinic: ClinicSide, staff: Staff, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    service = world.runtime.core.service
    await connected_by_jane(clinic)
    await world.idle()

    # Priya presses Start: she is told, privately, who connected Dentally and when, with nothing to do.
    await clinic.start("priya")
    note = await world.wait_for(lambda: next((n for n in clinic.notes("priya") if "already connected" in n.text), None))
    assert clinic.person("jane") in note.text
    assert "UTC" in note.text
    assert "Maple Leaf Dental" in note.text
    assert "Replace the key" in note.buttons
    await world.idle()
    assert clinic.thread("priya") == [], "no guide was started for her"

    # She chooses Replace the key and enters a key of another practice: it is held, and she is told so.
    await clinic.press("priya", note, "Replace the key")
    await world.wait_for(lambda: any("Enter the key privately" in s.buttons for s in clinic.thread("priya")))
    shown = await clinic.enter_key("priya", HARBOUR, "au")
    assert "Harbourside Dental Studio" in shown
    assert "Aldense team confirms" in shown
    assert "Dentally is connected!" not in shown
    result = await world.wait_for(lambda: next((s for s in clinic.thread("priya") if "confirms" in s.text), None))
    assert "Maple Leaf Dental" in result.text
    assert result.buttons == ()

    # Nothing changed: the connection is Jane's Maple Leaf key, the Harbourside key only held (encrypted).
    record = await service.clinic(world.name, world.key.channel)
    assert record is not None
    assert record.connection is not None
    assert record.name == "Maple Leaf Dental"
    assert record.connection.identity.practice_name == "Maple Leaf Dental"
    assert record.connection.connected_by == clinic.user_id("jane")
    assert record.connection.pending is not None
    assert HARBOUR not in record.model_dump_json()
    assert record.credential == record.connection.key

    # Support sees both identities side by side, with the pending replacement first on the card.
    alert = await staff.held_alert()
    alert_text = str(alert.blocks)
    assert "Maple Leaf Dental" in alert_text
    assert "Harbourside Dental Studio" in alert_text
    await world.wait_for(lambda: "Replacement waiting" in staff.card_outcome())
    assert staff.card_outcome().index("Replacement waiting") < staff.card_outcome().index("Connected")
    assert "verified, in use" in staff.card_people()
    assert "verified, waiting for staff" in staff.card_people()

    # A clinic user cannot accept it (the buttons are staff only); nothing changes.
    staff.api.add_member(ONBOARDING, ADMIN)
    await staff.decide(ADMIN, accepted=True)
    await staff.driver.wait_for(lambda: any("Only the Aldense team" in e.text for e in staff.driver.ephemeral(ADMIN)))
    await world.idle()
    record = await service.clinic(world.name, world.key.channel)
    assert record is not None
    assert record.connection is not None
    assert record.connection.identity.practice_name == "Maple Leaf Dental"

    # /aldense status lists the clinic (it needs attention), the pending replacement first.
    await staff.driver.run_command(STAFF, ONBOARDING, "/aldense", "status", escape=False)
    status = await staff.driver.wait_for(
        lambda: next(
            (text for r in staff.api.responses() if "in progress" in (text := json.dumps(r.body, ensure_ascii=False))),
            None,
        )
    )
    assert "Replacement waiting" in status
    assert status.index("Replacement waiting") < status.index("Connected ·")

    # Re-checks keep using the key in use while the other waits.
    maple = record.connection.fingerprint
    await staff.driver.click(STAFF, staff.card(), support_blocks.ACTION_RECHECK)
    recheck = await staff.driver.wait_for(lambda: next((t for t in staff.thread_texts() if "Re-check by" in t), None))
    assert f"…{maple}" in recheck
    assert "Maple Leaf Dental" in recheck

    # A staff member accepts: the Harbourside key is now the connection, and Priya is told in her thread.
    await staff.decide(STAFF, accepted=True)
    told = await world.wait_for(
        lambda: next((s for s in clinic.thread("priya") if "confirmed the new key" in s.text), None)
    )
    assert "Harbourside Dental Studio" in told.text
    assert "revoke" in told.text
    await world.idle()
    record = await service.clinic(world.name, world.key.channel)
    assert record is not None
    assert record.connection is not None
    assert record.connection.identity.practice_name == "Harbourside Dental Studio"
    assert record.connection.connected_by == clinic.user_id("priya")
    assert record.connection.pending is None
    assert record.name == "Harbourside Dental Studio"
    await world.wait_for(lambda: "Harbourside Dental Studio" in staff.card_outcome())
    assert "Replacement waiting" not in staff.card_outcome()
    await staff.driver.wait_for(lambda: "verified, not in use" in staff.card_people())  # Jane's key, replaced
    assert any("accepted key" in t for t in staff.thread_texts())

    # The held key was only ever encrypted: in no platform call, no log line at any level.
    said = json.dumps([c.params for c in staff.api.calls()]) + "".join(teams_bodies(world))
    logged = "".join(r.getMessage() + (r.exc_text or "") + repr(r.args) for r in caplog.records)
    assert caplog.records
    for piece in {HARBOUR[i : i + 8] for i in range(len(HARBOUR) - 7)}:
        assert piece not in said
        assert piece not in logged


def teams_bodies(world: PlatformWorld) -> list[str]:
    """What the bot sent the Teams connector (nothing on a Slack-only world)."""
    driver = getattr(world, "driver", None)
    connector = getattr(driver, "connector", None)
    return list(connector.bodies()) if connector is not None else []


async def test_a_rejected_replacement_keeps_the_connection_and_tells_the_clinic(
    world: PlatformWorld, clinic: ClinicSide, staff: Staff
) -> None:
    await connected_by_jane(clinic)
    await clinic.start("priya")
    note = await world.wait_for(
        lambda: next((n for n in clinic.notes("priya") if "Replace the key" in n.buttons), None)
    )
    await clinic.press("priya", note, "Replace the key")
    await world.wait_for(lambda: any("Enter the key privately" in s.buttons for s in clinic.thread("priya")))
    await clinic.enter_key("priya", HARBOUR, "au")
    await staff.decide(STAFF, accepted=False)
    told = await world.wait_for(
        lambda: next((s for s in clinic.thread("priya") if "kept the existing" in s.text), None)
    )
    assert "Maple Leaf Dental" in told.text
    await world.idle()
    record = await world.runtime.core.service.clinic(world.name, world.key.channel)
    assert record is not None
    assert record.connection is not None
    assert record.connection.identity.practice_name == "Maple Leaf Dental"
    assert record.connection.pending is None
    assert "Replacement waiting" not in staff.card_outcome()


async def test_a_new_key_of_the_same_practice_and_user_replaces_the_old_one_cleanly(
    world: PlatformWorld, clinic: ClinicSide, staff: Staff
) -> None:
    await connected_by_jane(clinic)
    old = await world.runtime.core.service.clinic(world.name, world.key.channel)
    assert old is not None
    assert old.connection is not None
    await clinic.start("priya")
    note = await world.wait_for(
        lambda: next((n for n in clinic.notes("priya") if "Replace the key" in n.buttons), None)
    )
    await clinic.press("priya", note, "Replace the key")
    await world.wait_for(lambda: any("Enter the key privately" in s.buttons for s in clinic.thread("priya")))
    shown = await clinic.enter_key("priya", MAPLE_AGAIN, "uk")
    assert "Dentally is connected" in shown
    assert f"…{old.connection.fingerprint}" in shown
    assert "revoke" in shown
    await world.idle()
    record = await world.runtime.core.service.clinic(world.name, world.key.channel)
    assert record is not None
    assert record.connection is not None
    assert record.connection.replaced_fingerprint == old.connection.fingerprint
    assert record.connection.fingerprint != old.connection.fingerprint
    assert record.connection.connected_by == clinic.user_id("priya")
    assert record.connection.identity.practice_name == "Maple Leaf Dental"
    assert record.connection.pending is None
    await staff.driver.wait_for(lambda: any("replaced the key" in t for t in staff.thread_texts()))
    assert not any(support_blocks.ACTION_ACCEPT_KEY in str(m.blocks) for m in staff.thread_messages())


async def test_a_key_of_the_same_practice_by_another_dentally_user_waits_for_staff(
    world: PlatformWorld, clinic: ClinicSide, staff: Staff
) -> None:
    await connected_by_jane(clinic)
    old = await world.runtime.core.service.clinic(world.name, world.key.channel)
    assert old is not None
    assert old.connection is not None
    await clinic.start("priya")
    note = await world.wait_for(
        lambda: next((n for n in clinic.notes("priya") if "Replace the key" in n.buttons), None)
    )
    await clinic.press("priya", note, "Replace the key")
    await world.wait_for(lambda: any("Enter the key privately" in s.buttons for s in clinic.thread("priya")))
    shown = await clinic.enter_key("priya", MAPLE_COLLEAGUE, "uk")
    # The same practice, but another person's Dentally access: only Aldense staff may swap whose key is used.
    assert "Aldense team confirms" in shown
    assert "Dentally is connected!" not in shown
    alert = await staff.held_alert()
    assert "Tom Baker" in str(alert.blocks)
    await world.idle()
    record = await world.runtime.core.service.clinic(world.name, world.key.channel)
    assert record is not None
    assert record.connection is not None
    assert record.connection.fingerprint == old.connection.fingerprint
    assert record.connection.connected_by == clinic.user_id("jane")
    assert record.connection.pending is not None

    await staff.decide(STAFF, accepted=True)
    await world.wait_for(lambda: next((s for s in clinic.thread("priya") if "confirmed the new key" in s.text), None))
    await world.idle()
    record = await world.runtime.core.service.clinic(world.name, world.key.channel)
    assert record is not None
    assert record.connection is not None
    assert record.connection.connected_by == clinic.user_id("priya")
    assert record.connection.identity.practice_name == "Maple Leaf Dental"
    assert record.connection.pending is None


async def test_old_buttons_retire_after_success_and_a_late_click_says_this_is_done(
    world: PlatformWorld, clinic: ClinicSide
) -> None:
    await clinic.walk_to_key_step("jane")
    refused = await clinic.enter_key("jane", "A" * 43, "ca")
    assert "didn't accept" in refused
    # The form remembers the region chosen last time.
    assert await clinic.form_region("jane") == "ca"
    first = next(s for s in clinic.thread("jane") if "Try another key" in s.buttons)
    late = await clinic.open_key_form_late("jane", first.ref, "Try another key")

    assert "Dentally is connected" in await clinic.enter_key("jane", MAPLE, "uk")
    await world.idle()
    thread = clinic.thread("jane")
    retired = next(s for s in thread if s.ref == first.ref)
    assert retired.buttons == ()
    assert "earlier result" in retired.text
    assert all(s.buttons == () for s in thread), [(s.text[:40], s.buttons) for s in thread]

    # A click on the old button from a client that still shows it: a polite "this is done", never the form.
    told = await late()
    assert "This is done" in told
    assert "Maple Leaf Dental" in told
    state = await world.runtime.core.service.conversation(world.key)
    assert state is not None
    assert state.status is Status.VERIFIED
    assert [s.text for s in clinic.thread("jane")].count("didn't accept") == 0


async def test_a_reset_says_whether_it_reset_the_guides_or_the_clinics_connection(
    world: PlatformWorld, clinic: ClinicSide, staff: Staff
) -> None:
    await connected_by_jane(clinic)
    await world.idle()
    await staff.driver.click(STAFF, staff.card(), support_blocks.ACTION_RESET)
    confirm = await staff.driver.wait_for(lambda: staff.driver.open_view(STAFF))
    assert "The Dentally connection is *kept*" in str(confirm.payload)
    assert "Maple Leaf Dental" in str(confirm.payload)
    await staff.driver.submit_view(STAFF, confirm)
    told = await world.wait_for(lambda: next((s for s in clinic.thread("jane") if "reset your guide" in s.text), None))
    assert "Dentally stays connected" in told.text
    assert told.buttons == ()
    await staff.driver.wait_for(lambda: any("connection is kept" in t for t in staff.thread_texts()))
    record = await world.runtime.core.service.clinic(world.name, world.key.channel)
    assert record is not None
    assert record.connection is not None

    # Jane starts again (told it is connected), replaces nothing; staff now reset the connection itself.
    await clinic.start("jane")
    await world.wait_for(lambda: any("already connected" in n.text for n in clinic.notes("jane")))
    await staff.driver.click(STAFF, staff.card(), support_blocks.ACTION_RESET)
    confirm = await staff.driver.wait_for(
        lambda: (v := staff.driver.open_view(STAFF)) and v.callback_id == support_blocks.RESET_VIEW and v
    )
    await staff.driver.submit_view(
        STAFF,
        confirm,
        {support_blocks.BLOCK_RESET_SCOPE: {support_blocks.ACTION_RESET_SCOPE: support_blocks.RESET_CONNECTION}},
    )
    await staff.driver.wait_for(lambda: any("Dentally connection*" in t for t in staff.thread_texts()))
    await world.idle()
    record = await world.runtime.core.service.clinic(world.name, world.key.channel)
    assert record is not None
    assert record.connection is None
    assert record.credential is None
    assert "Connected" not in staff.card_outcome()


async def test_a_key_made_in_another_region_is_verified_there_without_the_clinic_noticing(
    world: PlatformWorld, clinic: ClinicSide, dentally_url: str
) -> None:
    await clinic.walk_to_key_step("jane")
    shown = await clinic.enter_key("jane", HARBOUR, "uk")
    assert "Dentally is connected" in shown
    assert "Australia & New Zealand" in shown
    results = [
        s for s in clinic.thread("jane") if "Dentally" in s.text and ("connected" in s.text or "accept" in s.text)
    ]
    assert len(results) == 1, [s.text[:60] for s in results]
    assert "Australia & New Zealand" in results[0].text
    assert "didn't accept" not in results[0].text
    record = await world.runtime.core.service.clinic(world.name, world.key.channel)
    assert record is not None
    assert record.connection is not None
    assert record.connection.key.region == "au"
    assert record.connection.state is ConnectionState.CONNECTED


async def test_a_reminder_whose_moment_passed_retires_and_its_late_resume_says_this_is_done(
    world: PlatformWorld, clinic: ClinicSide
) -> None:
    await clinic.walk_to_key_step("jane")
    for _ in range(12):  # quiet for a day or more, until it is working hours for Jane
        if any("Resume" in s.buttons for s in clinic.thread("jane")):
            break
        world.clock.advance(6 * HOUR)
        await world.runtime.scheduler.run_once()
        await world.idle()
    reminder = next(s for s in clinic.thread("jane") if "Resume" in s.buttons)
    late = clinic.press_late("jane", reminder, "Resume")

    assert "Dentally is connected" in await clinic.enter_key("jane", MAPLE, "uk")
    await world.idle()
    retired = next(s for s in clinic.thread("jane") if s.ref == reminder.ref)
    assert retired.buttons == ()
    assert "earlier reminder" in retired.text
    told = await late()
    assert "This is done" in told
    assert "Maple Leaf Dental" in told


async def test_staff_can_reset_one_persons_guide_and_the_others_keep_theirs(
    world: PlatformWorld, clinic: ClinicSide, staff: Staff
) -> None:
    await clinic.start("jane")
    await clinic.start("priya")
    await world.wait_for(lambda: clinic.thread("jane") and clinic.thread("priya"))
    await world.idle()
    await staff.driver.click(STAFF, staff.card(), support_blocks.ACTION_RESET)
    confirm = await staff.driver.wait_for(lambda: staff.driver.open_view(STAFF))
    shown = str(confirm.payload)
    assert "Everyone's guide only" in shown
    assert "Guides and the clinic's connection" not in shown  # nothing is connected to reset
    only_priya = f"{support_blocks.RESET_PERSON}{clinic.user_id('priya')}"
    assert only_priya in shown
    await staff.driver.submit_view(
        STAFF, confirm, {support_blocks.BLOCK_RESET_SCOPE: {support_blocks.ACTION_RESET_SCOPE: only_priya}}
    )
    told = await world.wait_for(lambda: next((s for s in clinic.thread("priya") if "reset your guide" in s.text), None))
    assert "Dentally isn't connected yet" in told.text
    assert "Start Dentally setup" in told.buttons
    await staff.driver.wait_for(lambda: any("reset only" in t for t in staff.thread_texts()))
    await world.idle()
    service = world.runtime.core.service
    jane = await service.conversation(world.key)
    assert jane is not None
    assert jane.status is Status.ACTIVE
    assert not any("reset your guide" in s.text for s in clinic.thread("jane"))
    priya_key = type(world.key)(world.key.platform, world.key.team, world.key.channel, clinic.user_id("priya"))
    priya = await service.conversation(priya_key)
    assert priya is not None
    assert priya.status is Status.ABANDONED


async def test_a_key_dentally_stops_accepting_needs_a_new_key_and_a_same_practice_key_connects_again(
    world: PlatformWorld, clinic: ClinicSide, staff: Staff, dentally: Sandbox
) -> None:
    await connected_by_jane(clinic)
    await world.idle()
    dentally.revoke("all_scopes")
    world.clock.advance(7 * 24 * HOUR + 60)
    await world.runtime.scheduler.run_once()
    await world.idle()
    record = await world.runtime.core.service.clinic(world.name, world.key.channel)
    assert record is not None
    assert record.connection is not None
    assert record.connection.state is ConnectionState.NEEDS_NEW_KEY
    await staff.driver.wait_for(lambda: "Needs a new key" in staff.card_outcome())

    await clinic.start("priya")
    note = await world.wait_for(
        lambda: next((n for n in clinic.notes("priya") if "Replace the key" in n.buttons), None)
    )
    assert "no longer accepts" in note.text
    await clinic.press("priya", note, "Replace the key")
    await world.wait_for(lambda: any("Enter the key privately" in s.buttons for s in clinic.thread("priya")))
    assert "Dentally is connected" in await clinic.enter_key("priya", MAPLE_AGAIN, "uk")
    await world.idle()
    record = await world.runtime.core.service.clinic(world.name, world.key.channel)
    assert record is not None
    assert record.connection is not None
    assert record.connection.state is ConnectionState.CONNECTED
    assert record.connection.pending is None
    await staff.driver.wait_for(lambda: staff.card_outcome().startswith(":white_check_mark: Connected"))

    # The dead key's "Set up a new key", clicked late: the clinic is connected again, so no new guide starts.
    dead = clinic.in_channel("Set up a new key")
    assert dead is not None
    before = len(clinic.notes("jane"))
    await clinic.press("jane", dead, "Set up a new key")
    note = await world.wait_for(lambda: clinic.notes("jane")[before:])
    assert "already connected" in note[-1].text
    await world.idle()
    jane = await world.runtime.core.service.conversation(world.key)
    assert jane is not None
    assert jane.status is Status.VERIFIED
