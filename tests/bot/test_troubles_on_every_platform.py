"""I'm stuck offers the step's troubles first, on Slack and on Teams: answered without a person, jumps, then a person.

Each scenario drives a real bot over signed HTTP through the platform's stand-in (``platform_worlds.py``); support's
side (its thread, the status card, App Home) is read back from the Slack sandbox, where support works.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.core import copy
from bot.core.moves import StepButton
from bot.fakes.slack import Message, SlackApiSandbox, SlackDriver
from conversations.conversation import Conversation
from tests.bot.harness import ONBOARDING, SIGNING_SECRET, STAFF, message_text
from tests.bot.platform_worlds import PLATFORMS, PlatformWorld, Shown, platform_world
from tests.bot.test_key_check import GUIDE


@pytest.fixture(params=PLATFORMS)
async def world(
    request: pytest.FixtureRequest, api: SlackApiSandbox, state_url: str, dentally_url: str
) -> AsyncIterator[PlatformWorld]:
    async with platform_world(request.param, api, state_url, dentally_url) as opened:
        yield opened


def live_step(world: PlatformWorld, index: int) -> Shown | None:
    return next((m for m in world.thread() if m.live and m.step == index), None)


def support_replies(api: SlackApiSandbox) -> list[Message]:
    return [r for m in api.messages(ONBOARDING) for r in api.thread(ONBOARDING, m.ts)[1:]]


def pages(api: SlackApiSandbox) -> list[Message]:
    return [r for r in support_replies(api) if ":sos:" in r.text]


def trouble_lines(api: SlackApiSandbox) -> list[Message]:
    return [r for r in support_replies(api) if "picked trouble" in r.text]


def card_text(api: SlackApiSandbox) -> str:
    cards = [m for m in api.messages(ONBOARDING) if not m.is_reply]
    assert len(cards) == 1
    return message_text(cards[0])


async def current(world: PlatformWorld) -> Conversation:
    state = await world.runtime.core.service.conversation(world.key)
    assert state is not None
    return state


async def metrics(world: PlatformWorld) -> str:
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{world.bot_url}/metrics")).text


async def test_im_stuck_shows_the_steps_troubles_privately_and_a_trouble_is_answered_without_paging(
    world: PlatformWorld, api: SlackApiSandbox
) -> None:
    first = await world.start()
    await world.idle()
    offer = await world.offer_troubles(first)
    step = GUIDE.steps[0]
    assert f"step 1, *{step.title}*" in offer or f"step 1, **{step.title}**" in offer
    assert [n for n in world.notes() if "Common problems" in n] == [offer]  # shown to the admin only
    assert not [m for m in world.thread() if "Common problems" in m.text]  # nothing in the thread for everyone

    assert await world.choose_trouble("forgot-password") == 200
    trouble = step.trouble("forgot-password")
    assert trouble is not None
    answer = await world.wait_for(lambda: next((n for n in world.notes() if "Forgot your password?" in n), None))
    assert trouble.label in answer
    await world.wait_for(lambda: trouble_lines(api) or None)
    await world.idle()

    assert pages(api) == []  # nobody paged
    assert [m for m in world.thread() if "asked the Aldense team" in m.text] == []
    assert ":sos:" not in card_text(api)
    lines = trouble_lines(api)
    assert len(lines) == 1
    assert trouble.label in lines[0].text
    assert "step 1/9" in lines[0].text
    assert (lines[0].reply_broadcast, "<!" in lines[0].text) == (False, False)  # one quiet line
    state = await current(world)
    assert (state.step_id, state.stuck_at) == (step.id, None)
    assert set(state.steps[step.id].troubles) == {"forgot-password"}
    assert 'aldense_troubles_chosen_total{step="sign-in",trouble="forgot-password"} 1.0' in await metrics(world)
    assert live_step(world, 0) is not None  # the step and its buttons stay


async def test_a_trouble_with_a_jump_takes_the_guide_to_its_step(world: PlatformWorld, api: SlackApiSandbox) -> None:
    first = await world.start()
    assert await world.click(StepButton.DONE, first) == 200
    second = await world.wait_for(lambda: live_step(world, 1))
    await world.idle()
    await world.offer_troubles(second)
    statuses = await asyncio.gather(world.choose_trouble("signed-out"), world.choose_trouble("signed-out"))
    assert statuses == [200, 200]
    await world.wait_for(lambda: live_step(world, 0) if live_step(world, 1) is None else None)
    await world.idle()

    state = await current(world)
    assert state.step_id == "sign-in"
    assert [m.step for m in world.thread() if m.step is not None] == [0, 1, 0]  # step 1 shown again, once
    left = next(m for m in world.thread() if m.step == 1)
    assert (left.live, "went to another step" in left.text) == (False, True)  # its buttons gone, and why
    answers = [n for n in world.notes() if "signed you out" in n]
    assert len(answers) == 1  # a double click is answered once
    assert "step 1 of 9" in answers[0]
    assert len(trouble_lines(api)) == 1
    assert "taken to step 1/9" in trouble_lines(api)[0].text
    assert pages(api) == []
    assert not [n for n in world.notes() if "earlier step" in n]  # the second click was a double click: silent


async def test_still_stuck_after_a_trouble_asks_a_person_and_a_jump_keeps_the_request_open(
    world: PlatformWorld, api: SlackApiSandbox
) -> None:
    first = await world.start()
    assert await world.click(StepButton.DONE, first) == 200
    second = await world.wait_for(lambda: live_step(world, 1))
    await world.idle()
    await world.offer_troubles(second)
    assert await world.choose_trouble("no-cog") == 200
    await world.wait_for(lambda: next((n for n in world.notes() if "settings cog" in n), None))
    assert await world.still_stuck() == 200  # on the answer
    await world.wait_for(lambda: pages(api) or None)
    await world.idle()
    assert len(pages(api)) == 1
    assert ":sos:" in card_text(api)
    state = await current(world)
    assert state.stuck_at is not None
    assert state.steps["open-settings"].asked_help == 1

    # A jump is not moving on: the request for help stays open, and pressing again pages nobody.
    await world.offer_troubles(second)
    assert await world.choose_trouble("signed-out") == 200
    await world.wait_for(lambda: live_step(world, 0) if live_step(world, 1) is None else None)
    await world.idle()
    assert (await current(world)).stuck_at == state.stuck_at
    assert len(pages(api)) == 1


async def test_a_trouble_from_an_earlier_step_is_stale_and_reports_nothing(
    world: PlatformWorld, api: SlackApiSandbox
) -> None:
    first = await world.start()
    await world.idle()
    await world.offer_troubles(first)
    assert await world.click(StepButton.DONE, first) == 200
    await world.wait_for(lambda: live_step(world, 1))
    await world.idle()
    assert await world.choose_trouble("forgot-password") == 200  # from the list of step 1
    note = await world.wait_for(lambda: next((n for n in world.notes() if "earlier step" in n), None))
    assert "step 2 of 9" in note
    await world.idle()
    assert trouble_lines(api) == []
    assert (await current(world)).steps["sign-in"].troubles == {}


async def test_a_hand_over_trouble_offers_the_hand_over_beside_its_answer(world: PlatformWorld) -> None:
    first = await world.start()
    await world.idle()
    await world.offer_troubles(first)
    assert await world.choose_trouble("colleague-has-login") == 200
    await world.wait_for(lambda: next((n for n in world.notes() if "Hand the guide to them" in n), None))
    await world.idle()
    assert world.note_buttons() == [copy.HAND_OVER_BUTTON, copy.STILL_STUCK]

    await world.hand_over_from_note("nurse")  # the existing hand-over, from the answer
    await world.wait_for(lambda: world.mentioned_in_thread("nurse") or None)
    await world.idle()
    nurse = await world.runtime.core.service.conversation(world.user_key("nurse"))
    assert nurse is not None
    assert nurse.step_id == GUIDE.steps[0].id
    assert (await current(world)).handed_to == nurse.user


async def test_app_home_funnel_counts_the_troubles_picked_and_the_people_asked(
    world: PlatformWorld, api: SlackApiSandbox
) -> None:
    first = await world.start()
    await world.idle()
    await world.offer_troubles(first)
    assert await world.choose_trouble("forgot-password") == 200
    await world.wait_for(lambda: trouble_lines(api) or None)
    world.clock.advance(60)  # past the double-click window
    await world.offer_troubles(first)
    assert await world.choose_trouble("not-sure-admin") == 200
    await world.wait_for(lambda: len(trouble_lines(api)) == 2 or None)
    assert await world.still_stuck() == 200
    await world.wait_for(lambda: pages(api) or None)
    await world.idle()

    home = await open_home_as_staff(api, world)  # App Home is Slack's, whichever platform the clinic uses
    rows = [b["text"]["text"] for b in home["blocks"] if b.get("type") == "section"]
    first_row = next(r for r in rows if r.startswith("*1/9 "))
    assert f"*1/9 {GUIDE.steps[0].title}*" in first_row  # the whole title, never cut
    assert "reached 1" in first_row
    assert "I can&#39;t sign in to Dentally ×1" in first_row or "I can't sign in to Dentally ×1" in first_row
    assert "I'm not sure my login is an administrator one ×1" in first_row.replace("&#39;", "'")
    assert "Still asked a person: 1 (1 after picking a trouble)" in first_row
    second_row = next(r for r in rows if r.startswith("*2/9 "))
    assert "Troubles" not in second_row
    assert "asked a person" not in second_row


async def open_home_as_staff(api: SlackApiSandbox, world: PlatformWorld) -> dict[str, Any]:
    """Aldense staff open App Home in Slack (the bot serves Slack whichever platform the clinic uses)."""
    async with httpx.AsyncClient(timeout=10) as http:
        driver = SlackDriver(world.bot_url, SIGNING_SECRET, api, http, clock=world.clock)
        assert (await driver.open_home(STAFF)).status_code == 200
        home = await driver.wait_for(lambda: driver.home(STAFF))
    return dict(home.payload)
