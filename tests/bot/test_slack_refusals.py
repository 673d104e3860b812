"""When Slack refuses part of what the bot sends, the rest still reaches people: pictures, closing a deleted step."""

from __future__ import annotations

from bot.fakes.slack import SlackApiSandbox, SlackDriver
from bot.slack import blocks
from conversations.addresses import ConversationKey
from conversations.guide import load_guide
from tests.bot.harness import ADMIN, CLINIC, ONBOARDING, RunningBot, Scenario, ask_aldense, has_buttons, message_text

GUIDE = load_guide()


async def test_when_slack_cannot_fetch_pictures_steps_and_the_sos_still_arrive_as_text(
    scenario: Scenario, api: SlackApiSandbox, driver: SlackDriver, bot: RunningBot
) -> None:
    api.images_fail = True
    await driver.click(ADMIN, await scenario.kickoff(), blocks.ACTION_START)
    first = await scenario.latest_step(ADMIN, title=GUIDE.steps[0].title)
    assert not any(block["type"] == "image" for block in first.blocks)
    assert GUIDE.steps[0].alt in message_text(first)  # the picture's description stands in for it
    await ask_aldense(driver, ADMIN, first)
    await driver.wait_for(lambda: any("asked the Aldense team" in m.text for m in driver.user_thread(CLINIC, ADMIN)))
    await scenario.idle(bot)
    cards = [m for m in api.messages(ONBOARDING) if not m.is_reply]
    support = [m for card in cards for m in api.thread(ONBOARDING, card.ts) if m.is_reply]
    sos = [m for m in support if ":sos:" in m.text]
    assert len(sos) == 1
    assert GUIDE.steps[0].title in sos[0].text
    assert not any(block.get("type") == "image" for block in sos[0].blocks)
    # Slack was asked with the picture first each time, and refused it.
    refusals = [c for c in api.calls("chat.postMessage") if c.error == "invalid_blocks"]
    assert len(refusals) == 2


async def test_a_step_message_that_cannot_be_closed_does_not_hold_back_the_next_step(
    scenario: Scenario, api: SlackApiSandbox, driver: SlackDriver, bot: RunningBot
) -> None:
    await driver.click(ADMIN, await scenario.kickoff(), blocks.ACTION_START)
    first = await scenario.latest_step(ADMIN, title=GUIDE.steps[0].title)
    # Someone deleted the step message after clicking (Slack then refuses to edit it).
    api.fail("chat.update", error="message_not_found")
    await driver.click(ADMIN, first, blocks.ACTION_DONE)
    second = await scenario.latest_step(ADMIN, title=GUIDE.steps[1].title)
    assert has_buttons(second)
    await scenario.idle(bot)
    assert [c.error for c in api.calls("chat.update") if not c.ok] == ["message_not_found"]
    assert driver.ephemeral(ADMIN) == []  # nothing went wrong that the user has to hear about
    await driver.click(ADMIN, second, blocks.ACTION_DONE)
    await scenario.latest_step(ADMIN, title=GUIDE.steps[2].title)


async def test_an_unreachable_slack_while_closing_still_leaves_the_move_in_the_outbox(
    scenario: Scenario, api: SlackApiSandbox, driver: SlackDriver, bot: RunningBot
) -> None:
    await driver.click(ADMIN, await scenario.kickoff(), blocks.ACTION_START)
    first = await scenario.latest_step(ADMIN, title=GUIDE.steps[0].title)
    api.fail("chat.update", status=503, times=None)
    api.fail_response_urls = True  # the click's own response_url refused too, so closing falls back to chat.update
    await driver.click(ADMIN, first, blocks.ACTION_DONE)
    await scenario.idle(bot)
    state = await bot.runtime.core.service.conversation(ConversationKey("slack", "T0ALDENSE", CLINIC, ADMIN))
    assert state is not None
    assert state.outbox != ()  # retried later by the due queue (tests/bot/test_recovery.py shows the retry)
    assert not any(GUIDE.steps[1].title in message_text(m) for m in driver.user_thread(CLINIC, ADMIN))
