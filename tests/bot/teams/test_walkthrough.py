"""The whole guide on Teams over HTTP: real activities in, the loopback connector recording what the bot sends."""

from __future__ import annotations

import asyncio

import pytest

from bot.core import copy
from bot.fakes.slack import SlackApiSandbox
from bot.fakes.teams.connector import Sent
from bot.fakes.teams.driver import TeamsDriver, dialog_card
from conversations.events import Done, PostStep, Start
from dentally.sandbox import sample_keys
from tests.bot.harness import ONBOARDING, PUBLIC_BASE_URL, RunningBot
from tests.bot.teams.harness import latest_step, settle
from tests.bot.test_key_check import GUIDE

STILL = copy.STILL_STUCK

KEYS = sample_keys()


async def kickoff(teams: TeamsDriver) -> Sent:
    where = teams.world.shared
    response = await teams.say("staff", where, "onboard")
    assert response.status_code == 200
    return await teams.wait_for(
        lambda: next((m for m in teams.in_conversation(where) if "Start Dentally setup" in m.titles), None)
    )


async def start(teams: TeamsDriver, who: str, kickoff_card: Sent) -> Sent:
    await teams.click(who, teams.world.shared, kickoff_card, "Start Dentally setup")
    return await teams.wait_for(lambda: latest_step(teams, teams.world.shared, who))


async def walk_to_key_step(teams: TeamsDriver, who: str, step: Sent) -> Sent:
    for index in range(GUIDE.step_count - 1):
        assert f"Step {index + 1} of {GUIDE.step_count}" in step.text
        await teams.click(who, teams.world.shared, step, "Done, next step")
        previous = step
        step = await teams.wait_for(
            lambda p=previous: (s := latest_step(teams, teams.world.shared, who)) is not None and s.id != p.id and s
        )
        assert previous.text.startswith(f"✅ {index + 1}/{GUIDE.step_count}"), previous.text
        assert previous.titles == []
    return step


async def test_a_clinic_admin_walks_the_guide_and_verifies_a_key_in_a_shared_channel(
    teams: TeamsDriver, teams_bot: RunningBot, api: SlackApiSandbox
) -> None:
    where = teams.world.shared
    card = await kickoff(teams)
    first = await start(teams, "admin", card)
    assert first.thread is not None
    image = next(e for e in first.cards[0]["body"] if e["type"] == "Image")
    assert image["url"].startswith(f"{PUBLIC_BASE_URL}/guide-assets/")
    assert image["altText"] == GUIDE.steps[0].alt
    assert first.titles == ["Done, next step", "I'm stuck", "Someone else has the Dentally login"]

    # Back, then on again; I'm stuck tells support (in Slack) which platform the clinic uses.
    await teams.click("admin", where, first, "Done, next step")
    second = await teams.wait_for(lambda: (s := latest_step(teams, where, "admin")) and s.id != first.id and s)
    await teams.click("admin", where, second, "Back")
    again = await teams.wait_for(lambda: (s := latest_step(teams, where, "admin")) and s.id != second.id and s)
    assert "Here's where you are" in again.text
    assert "went back" in second.text
    await teams.click("admin", where, again, "I'm stuck")  # the step's troubles first, then a person
    offer = await teams.wait_for(lambda: next((m for m in teams.in_conversation(where) if STILL in m.titles), None))
    await teams.click("admin", where, offer, STILL)
    await teams.wait_for(lambda: any("asked the Aldense team" in m.text for m in teams.in_conversation(where)))

    key_step = await walk_to_key_step(teams, "admin", again)
    assert key_step.titles == ["Enter the key privately", "Back", "I'm stuck", "Someone else has the Dentally login"]
    opened = await teams.click("admin", where, key_step, "Enter the key privately")
    form = dialog_card(opened.json())
    key_input = next(e for e in form["body"] if e.get("id") == "api_key")
    assert key_input["type"] == "Input.Text"
    assert key_input["style"] == "Password"

    junk = await teams.submit_dialog(
        "admin", where, opened.json(), {"api_key": "not a key", "region": "uk"}, key_step.thread
    )
    again_form = dialog_card(junk.json())
    assert any(e.get("color") == "Attention" for e in again_form["body"])
    assert "not a key" not in junk.text

    verified = await teams.submit_dialog(
        "admin", where, opened.json(), {"api_key": KEYS["all_scopes"].key, "region": "uk"}, key_step.thread
    )
    assert "Dentally is connected" in str(dialog_card(verified.json()))
    await teams.wait_for(lambda: any("Dentally is connected" in m.text for m in teams.in_conversation(where)))
    await settle(teams_bot)

    clinic = await teams_bot.runtime.core.service.clinic("teams", where.id)
    assert clinic is not None
    assert clinic.credential is not None
    assert clinic.credential.verified_by == teams.world.member("admin").aad_object_id
    support = [m for m in api.messages(ONBOARDING)]
    assert any("Microsoft Teams" in str(m.blocks) and "Jane Admin" in str(m.blocks) for m in support)
    replies = [r for m in support for r in api.thread(ONBOARDING, m.ts)]
    assert any("stuck" in r.text and "teams.microsoft.com/l/message" in r.text for r in replies)
    assert all(call.authorized for call in teams.connector.calls)


async def test_a_second_user_gets_their_own_guide_and_cannot_drive_another(
    teams: TeamsDriver, teams_bot: RunningBot
) -> None:
    where = teams.world.shared
    card = await kickoff(teams)
    admin_step = await start(teams, "admin", card)
    await teams.click("nurse", where, admin_step, "Done, next step")
    notice = await teams.wait_for(
        lambda: next((m for m in teams.in_conversation(where) if "belongs to Jane Admin" in m.text), None)
    )
    assert notice.targeted_to == teams.world.member("nurse").account_id
    assert latest_step(teams, where, "admin") == admin_step  # nothing moved
    nurse_step = await start(teams, "nurse", card)
    assert nurse_step.thread != admin_step.thread
    opened = await teams.click("nurse", where, admin_step, "I'm stuck")
    assert opened.status_code == 200
    # The key dialog refuses someone else's guide too.
    await walk_to_key_step(teams, "admin", admin_step)
    key_step = latest_step(teams, where, "admin")
    assert key_step is not None
    refused = await teams.click("nurse", where, key_step, "Enter the key privately")
    assert "belongs to Jane Admin" in str(dialog_card(refused.json()))
    await settle(teams_bot)


async def test_a_double_submit_checks_once_and_a_stale_click_changes_nothing(
    teams: TeamsDriver, teams_bot: RunningBot
) -> None:
    where = teams.world.shared
    first = await start(teams, "admin", await kickoff(teams))
    key_step = await walk_to_key_step(teams, "admin", first)
    opened = await teams.click("admin", where, key_step, "Enter the key privately")
    inputs = {"api_key": KEYS["all_scopes"].key, "region": "uk"}
    one, two = await asyncio.gather(
        teams.submit_dialog("admin", where, opened.json(), inputs, key_step.thread),
        teams.submit_dialog("admin", where, opened.json(), inputs, key_step.thread),
    )
    answers = sorted([str(dialog_card(one.json())), str(dialog_card(two.json()))])
    assert sum("Dentally is connected" in a for a in answers) == 1
    assert sum("already being checked" in a for a in answers) == 1
    await settle(teams_bot)
    results = [m for m in teams.in_conversation(where) if "Dentally is connected" in m.text]
    assert len(results) == 1
    # A button of an old card (as a client that has not refreshed still shows it): nothing changes.
    stale = Sent(first.id, first.conversation, first.thread, [first.versions[0]])
    await teams.click("admin", where, stale, "I'm stuck")
    await settle(teams_bot)
    assert not any("asked the Aldense team" in m.text for m in teams.in_conversation(where))


async def test_every_card_the_bot_sends_validates(teams: TeamsDriver, teams_bot: RunningBot) -> None:
    from tests.bot.teams import cardschema

    where = teams.world.shared
    key_step = await walk_to_key_step(teams, "admin", await start(teams, "admin", await kickoff(teams)))
    await teams.click("admin", where, key_step, "I'm stuck")  # its troubles, and one answer with two buttons
    offer = await teams.wait_for(lambda: next((m for m in teams.in_conversation(where) if STILL in m.titles), None))
    await teams.click("admin", where, offer, GUIDE.steps[-1].troubles[0].label)
    await teams.wait_for(lambda: sum(STILL in m.titles for m in teams.in_conversation(where)) == 2 or None)
    opened = await teams.click("admin", where, key_step, "Enter the key privately")
    missing = KEYS["missing_appointment_delete"].key
    answered = await teams.submit_dialog("admin", where, opened.json(), {"api_key": missing})
    await teams.wait_for(lambda: any("weren't ticked" in m.text for m in teams.in_conversation(where)))
    await settle(teams_bot)
    sent = [
        card for message in teams.connector.sent.values() for version in message.versions for card in _cards(version)
    ]
    assert len(sent) > 2 * 9
    for card in [*sent, dialog_card(opened.json()), dialog_card(answered.json())]:
        assert cardschema.problems(card) == []


def _cards(body: dict[str, object]) -> list[dict[str, object]]:
    attachments = body.get("attachments") or []
    assert isinstance(attachments, list)
    return [a["content"] for a in attachments if a.get("contentType") == "application/vnd.microsoft.card.adaptive"]


@pytest.mark.parametrize("recorded_first", ["next step", "repost"])
async def test_a_start_while_the_next_step_card_is_being_posted_leaves_one_live_card(
    recorded_first: str, teams: TeamsDriver, teams_bot: RunningBot
) -> None:
    """Teams' side of the race (see the Slack walkthrough): whichever step card is recorded second closes the other."""
    world = teams.world
    await start(teams, "admin", await kickoff(teams))
    await settle(teams_bot)
    core = teams_bot.runtime.core
    service = core.service
    (started,) = await service.conversations("teams", world.aldense_tenant, world.shared.id)
    key = started.key
    done = await service.handle(key, Done(GUIDE.steps[0].id, at=service.clock()))
    again = await service.handle(key, Start(at=service.clock()))
    assert again.effects == (PostStep(GUIDE.steps[1].id, again=True),)  # no card of step 2 recorded yet

    moves = [done, again] if recorded_first == "next step" else [again, done]
    for outcome in moves:
        await core.runner.carry_out(outcome)
    await settle(teams_bot)

    live = [m for m in teams.in_conversation(world.shared) if m.thread is not None and "Done, next step" in m.titles]
    assert len(live) == 1
    assert GUIDE.steps[1].title in live[0].text
    state = await service.conversation(key)
    assert state is not None
    assert (state.step_message_ref, state.outbox) == (live[0].id, ())
