"""End to end over signed HTTP: kick-off, an external admin walks the whole guide to the key step, and the edges."""

from __future__ import annotations

import pytest

from bot.core import copy
from bot.core.runner import Trigger
from bot.fakes.slack import SlackApiSandbox, SlackDriver
from bot.slack import blocks
from bot.slack.mrkdwn import mention
from conversations.addresses import ConversationKey
from conversations.events import Done, PostStep, Start
from conversations.guide import load_guide
from tests.bot.harness import (
    ADMIN,
    CLINIC,
    NURSE,
    ONBOARDING,
    PUBLIC_BASE_URL,
    STAFF,
    MovableClock,
    RunningBot,
    Scenario,
    action_ids,
    ask_aldense,
    bot_settings,
    has_buttons,
    message_text,
    running_bot,
)

GUIDE = load_guide()
TOTAL = GUIDE.step_count


def no_failed_calls(api: SlackApiSandbox) -> None:
    failed = [(call.method, call.error) for call in api.calls() if not call.ok]
    assert failed == []


async def test_staff_kickoff_posts_in_the_clinic_channel(scenario: Scenario, api: SlackApiSandbox) -> None:
    kickoff = await scenario.kickoff()
    text = message_text(kickoff)
    assert "about 5 minutes" in text
    assert action_ids(kickoff) == [blocks.ACTION_START]
    replies = await scenario.driver.wait_for(lambda: api.responses())
    assert "Kick-off posted" in str(replies[-1].body)


async def test_external_admin_walks_every_step_to_the_key_step(
    scenario: Scenario, api: SlackApiSandbox, driver: SlackDriver, bot: RunningBot
) -> None:
    kickoff = await scenario.kickoff()
    await driver.click(ADMIN, kickoff, blocks.ACTION_START)
    opener = await driver.wait_for(lambda: driver.user_thread(CLINIC, ADMIN))
    assert f"<@{ADMIN}> is connecting Dentally" in opener[0].text

    for index, step in enumerate(GUIDE.steps):
        message = await scenario.latest_step(ADMIN, title=step.title)
        text = message_text(message)
        assert f"Step {index + 1} of {TOTAL}" in text
        image = next(block for block in message.blocks if block["type"] == "image")
        assert image["image_url"].startswith(f"{PUBLIC_BASE_URL}/guide-assets/{step.image}")
        assert image["alt_text"] == step.alt
        expected = [blocks.ACTION_ENTER_KEY] if step is GUIDE.steps[-1] else [blocks.ACTION_DONE]
        expected += [blocks.ACTION_BACK] if index else []
        assert action_ids(message) == [*expected, blocks.ACTION_STUCK, blocks.ACTION_HAND_OVER]
        if step is GUIDE.steps[-1]:
            break
        await driver.click(ADMIN, message, blocks.ACTION_DONE)
        closed = await driver.wait_for(
            lambda m=message: (fresh := api.message(CLINIC, m.ts)) and not has_buttons(fresh) and fresh
        )
        assert message_text(closed).startswith(f":white_check_mark: {index + 1}/{TOTAL} {step.title}")

    await scenario.idle(bot)
    state = await bot.runtime.core.service.conversation(await _key(bot, ADMIN))
    assert state is not None
    assert GUIDE.index_of(state.step_id) == TOTAL - 1
    assert state.status.value == "awaiting_key"
    assert len(driver.user_thread(CLINIC, ADMIN)) == 1 + TOTAL  # opener + exactly one message per step
    no_failed_calls(api)


async def test_support_hears_of_the_start_and_of_someone_stuck(
    scenario: Scenario, api: SlackApiSandbox, driver: SlackDriver, bot: RunningBot
) -> None:
    await driver.click(ADMIN, await scenario.kickoff(), blocks.ACTION_START)
    first = await scenario.latest_step(ADMIN)
    await driver.click(ADMIN, first, blocks.ACTION_DONE)
    second = await scenario.latest_step(ADMIN, title=GUIDE.steps[1].title)
    await ask_aldense(driver, ADMIN, second)
    reply = await driver.wait_for(
        lambda: next((m for m in driver.user_thread(CLINIC, ADMIN) if "asked the Aldense team" in m.text), None)
    )
    assert "step 2" in reply.text
    parents = await driver.wait_for(lambda: [m for m in api.messages(ONBOARDING)] or None)
    assert len(parents) >= 1
    await scenario.idle(bot)
    support = api.thread(ONBOARDING, parents[0].ts)
    texts = [m.text for m in support]
    assert any("started the Dentally guide" in text for text in texts)
    stuck = [m for m in support if m.is_reply and ":sos:" in m.text]
    assert len(stuck) == 1
    assert f"<@{ADMIN}>" in stuck[0].text
    assert GUIDE.steps[1].title in stuck[0].text
    assert "Open their thread" in stuck[0].text
    assert stuck[0].reply_broadcast is True
    # Stuck changes no step: the guide is still on step 2 and its buttons still work.
    await driver.click(ADMIN, second, blocks.ACTION_DONE)
    await scenario.latest_step(ADMIN, title=GUIDE.steps[2].title)


async def test_back_reposts_the_previous_step(scenario: Scenario, driver: SlackDriver, api: SlackApiSandbox) -> None:
    await driver.click(ADMIN, await scenario.kickoff(), blocks.ACTION_START)
    first = await scenario.latest_step(ADMIN)
    await driver.click(ADMIN, first, blocks.ACTION_DONE)
    second = await scenario.latest_step(ADMIN, title=GUIDE.steps[1].title)
    await driver.click(ADMIN, second, blocks.ACTION_BACK)
    again = await scenario.latest_step(ADMIN, title=GUIDE.steps[0].title)
    assert again.ts != first.ts
    assert "Here's where you are" in message_text(again)
    closed = api.message(CLINIC, second.ts)
    assert closed is not None
    assert "went back" in closed.text
    assert not has_buttons(closed)


async def test_someone_elses_click_changes_nothing_and_offers_their_own_guide(
    scenario: Scenario, driver: SlackDriver, bot: RunningBot
) -> None:
    await driver.click(ADMIN, await scenario.kickoff(), blocks.ACTION_START)
    first = await scenario.latest_step(ADMIN)
    await driver.click(NURSE, first, blocks.ACTION_DONE)
    note = await driver.wait_for(lambda: driver.ephemeral(NURSE, CLINIC))
    assert note[-1].text == copy.not_your_guide(mention(ADMIN))
    await scenario.idle(bot)
    state = await bot.runtime.core.service.conversation(await _key(bot, ADMIN))
    assert state is not None
    assert GUIDE.index_of(state.step_id) == 0
    assert await bot.runtime.core.service.conversation(await _key(bot, NURSE)) is None
    # The offered button starts the nurse's own guide, in a thread of their own.
    await driver.click(NURSE, note[-1], blocks.ACTION_START)
    own = await scenario.latest_step(NURSE)
    assert f"Step 1 of {TOTAL}" in message_text(own)


async def test_a_double_click_advances_once(scenario: Scenario, driver: SlackDriver, bot: RunningBot) -> None:
    import asyncio

    await driver.click(ADMIN, await scenario.kickoff(), blocks.ACTION_START)
    first = await scenario.latest_step(ADMIN)
    await asyncio.gather(driver.click(ADMIN, first, blocks.ACTION_DONE), driver.click(ADMIN, first, blocks.ACTION_DONE))
    await scenario.latest_step(ADMIN, title=GUIDE.steps[1].title)
    await scenario.idle(bot)
    state = await bot.runtime.core.service.conversation(await _key(bot, ADMIN))
    assert state is not None
    assert GUIDE.index_of(state.step_id) == 1
    assert len(driver.user_thread(CLINIC, ADMIN)) == 3  # opener, step 1 (closed), step 2
    assert driver.ephemeral(ADMIN, CLINIC) == []  # a double click is not worth a message


async def test_a_stale_click_changes_nothing_and_says_where_you_are(api: SlackApiSandbox, state_url: str) -> None:
    import httpx

    from tests.bot.harness import SIGNING_SECRET

    clock = MovableClock()
    async with httpx.AsyncClient(timeout=10) as client, running_bot(bot_settings(api, state_url), clock) as bot:
        driver = SlackDriver(bot.url, SIGNING_SECRET, api, client)
        scenario = Scenario(api, driver, None)  # type: ignore[arg-type]
        await driver.click(ADMIN, await scenario.kickoff(), blocks.ACTION_START)
        await driver.click(ADMIN, await scenario.latest_step(ADMIN), blocks.ACTION_DONE)
        second = await scenario.latest_step(ADMIN, title=GUIDE.steps[1].title)
        stale_copy = api.message(CLINIC, second.ts)
        assert stale_copy is not None
        buttons_then = [dict(block) for block in stale_copy.blocks]
        await driver.click(ADMIN, second, blocks.ACTION_DONE)
        await scenario.latest_step(ADMIN, title=GUIDE.steps[2].title)
        await scenario.idle(bot)
        clock.advance(60)  # well past a double click
        # Slack can deliver a click from a message rendered before its edit: replay one with the old buttons.
        stale_copy.blocks = buttons_then
        await driver.click(ADMIN, stale_copy, blocks.ACTION_BACK)
        note = await driver.wait_for(lambda: driver.ephemeral(ADMIN, CLINIC))
        assert "earlier step" in note[-1].text
        assert f"step 3 of {TOTAL}" in note[-1].text
        state = await bot.runtime.core.service.conversation(await _key(bot, ADMIN))
        assert state is not None
        assert GUIDE.index_of(state.step_id) == 2


async def test_start_again_reposts_the_current_step_without_a_second_thread(
    scenario: Scenario, driver: SlackDriver, api: SlackApiSandbox
) -> None:
    kickoff = await scenario.kickoff()
    await driver.click(ADMIN, kickoff, blocks.ACTION_START)
    first = await scenario.latest_step(ADMIN)
    await driver.click(ADMIN, first, blocks.ACTION_DONE)
    second = await scenario.latest_step(ADMIN, title=GUIDE.steps[1].title)
    await driver.click(ADMIN, kickoff, blocks.ACTION_START)
    again = await driver.wait_for(
        lambda: (m := scenario.driver.latest_in_user_thread(CLINIC, ADMIN)) and m.ts != second.ts and m
    )
    assert GUIDE.steps[1].title in message_text(again)
    note = await driver.wait_for(lambda: driver.ephemeral(ADMIN, CLINIC))
    assert note[-1].text == copy.ALREADY_GOING
    # Exactly one step message keeps its buttons. Usually the old one is closed before the repost; when Start
    # arrived while step 2 was being posted, the second of the two posts to be recorded closes the other, a moment
    # after the repost shows up, so wait for it rather than look once.
    live = await driver.wait_for(
        lambda: len(shown := [m for m in driver.user_thread(CLINIC, ADMIN) if has_buttons(m)]) == 1 and shown
    )
    assert GUIDE.steps[1].title in message_text(live[0])
    openers = [m for m in api.messages(CLINIC) if "is connecting Dentally" in m.text]
    assert len(openers) == 1


@pytest.mark.parametrize("recorded_first", ["next step", "repost"])
async def test_a_start_while_the_next_step_is_being_posted_leaves_one_live_step_message(
    recorded_first: str, scenario: Scenario, driver: SlackDriver, bot: RunningBot
) -> None:
    """The race behind the test above once being flaky, in a fixed order: Start is saved after Done, before the
    next step's message is recorded, so its repost has nothing to close; whichever post is recorded second closes
    the other."""
    ctx = bot.runtime.core
    key = ConversationKey("slack", "T0ALDENSE", CLINIC, ADMIN)
    await driver.click(ADMIN, await scenario.kickoff(), blocks.ACTION_START)
    first = await scenario.latest_step(ADMIN)
    await ctx.tasks.drain(5)
    done = await ctx.service.handle(key, Done(GUIDE.steps[0].id, at=ctx.clock()))
    again = await ctx.service.handle(key, Start(at=ctx.clock()))
    assert again.effects == (PostStep(GUIDE.steps[1].id, again=True),)  # no message of step 2 recorded yet

    carry_out = ctx.runner.carry_out
    moves = [lambda: carry_out(done, Trigger(clicked_ref=first.ts)), lambda: carry_out(again)]
    for move in moves if recorded_first == "next step" else moves[::-1]:
        await move()
    await ctx.tasks.drain(5)

    thread = driver.user_thread(CLINIC, ADMIN)
    second = [m for m in thread if GUIDE.steps[1].title in message_text(m)]
    live = [m for m in thread if has_buttons(m)]
    assert len(second) == 2
    assert [m.ts for m in live] == [m.ts for m in second if has_buttons(m)]
    assert len(live) == 1
    state = await ctx.service.conversation(key)
    assert state is not None
    assert (state.step_message_ref, state.outbox) == (live[0].ts, ())


async def test_a_restart_mid_guide_continues_where_the_user_was(
    api: SlackApiSandbox, state_url: str, http: object
) -> None:
    import httpx

    from tests.bot.harness import SIGNING_SECRET

    settings = bot_settings(api, state_url)
    async with httpx.AsyncClient(timeout=10) as client:
        async with running_bot(settings) as first_run:
            driver = SlackDriver(first_run.url, SIGNING_SECRET, api, client)
            scenario = Scenario(api, driver, None)  # type: ignore[arg-type]
            await driver.click(ADMIN, await scenario.kickoff(), blocks.ACTION_START)
            step1 = await scenario.latest_step(ADMIN)
            await driver.click(ADMIN, step1, blocks.ACTION_DONE)
            step2 = await scenario.latest_step(ADMIN, title=GUIDE.steps[1].title)
        async with running_bot(settings) as second_run:
            driver = SlackDriver(second_run.url, SIGNING_SECRET, api, client)
            scenario = Scenario(api, driver, None)  # type: ignore[arg-type]
            await driver.click(ADMIN, step2, blocks.ACTION_DONE)
            step3 = await scenario.latest_step(ADMIN, title=GUIDE.steps[2].title)
            assert f"Step 3 of {TOTAL}" in message_text(step3)


async def test_mentions_start_resume_and_help(scenario: Scenario, driver: SlackDriver, api: SlackApiSandbox) -> None:
    await driver.mention(ADMIN, CLINIC, "<@U0BOT> help")
    helped = await driver.wait_for(lambda: driver.ephemeral(ADMIN, CLINIC))
    assert "Mention me with *start*" in helped[-1].text
    await driver.mention(ADMIN, CLINIC, "<@U0BOT> start please")
    first = await scenario.latest_step(ADMIN)
    await driver.mention(ADMIN, CLINIC, "<@U0BOT> resume")
    await driver.wait_for(lambda: (m := driver.latest_in_user_thread(CLINIC, ADMIN)) and m.ts != first.ts)
    # Closing the older step only tidies: it follows the new post, at cosmetic priority.
    await driver.wait_for(lambda: not has_buttons(api.message(CLINIC, first.ts)))  # type: ignore[arg-type]


async def test_a_clinic_member_joining_gets_the_kickoff_once_even_when_slack_retries(
    driver: SlackDriver, api: SlackApiSandbox, bot: RunningBot
) -> None:
    delivery = await driver.join_channel(NURSE, CLINIC)
    await driver.redeliver(delivery, retry_num=1)
    welcome = await driver.wait_for(lambda: api.messages(CLINIC))
    await bot.runtime.core.tasks.drain(5)
    kickoffs = [m for m in api.messages(CLINIC) if blocks.ACTION_START in action_ids(m)]
    assert len(kickoffs) == 1
    assert f"Welcome <@{NURSE}>" in welcome[0].text


async def test_staff_joining_gets_no_kickoff(driver: SlackDriver, api: SlackApiSandbox, bot: RunningBot) -> None:
    await driver.join_channel(STAFF, CLINIC)
    await bot.runtime.core.tasks.drain(5)
    assert api.messages(CLINIC) == []


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("", "Aldense Guide commands"),
        ("help", "Aldense Guide commands"),
        ("frobnicate", "I don't know `/aldense frobnicate`"),
        ("onboard", "Usage: `/aldense onboard #clinic-channel`"),
        ("onboard not-a-channel", "isn't a channel"),
    ],
)
async def test_slash_command_answers_every_input(
    driver: SlackDriver, api: SlackApiSandbox, text: str, answer: str
) -> None:
    await driver.run_command(STAFF, ONBOARDING, "/aldense", text, escape=False)
    replies = await driver.wait_for(lambda: api.responses())
    assert answer in str(replies[-1].body)


async def test_clinic_users_cannot_run_staff_commands(driver: SlackDriver, api: SlackApiSandbox) -> None:
    await driver.run_command(ADMIN, CLINIC, "/aldense", f"onboard <#{CLINIC}>", escape=False, force=True)
    replies = await driver.wait_for(lambda: api.responses())
    assert "for the Aldense team only" in str(replies[-1].body)
    assert api.messages(CLINIC) == []


async def test_onboard_into_a_channel_the_bot_cannot_post_in_says_why(
    driver: SlackDriver, api: SlackApiSandbox
) -> None:
    await driver.run_command(STAFF, ONBOARDING, "/aldense", "onboard <#C0NOWHERE|ghost>", escape=False)
    replies = await driver.wait_for(lambda: api.responses())
    assert "couldn't post the kick-off" in str(replies[-1].body)


async def test_without_public_base_url_steps_are_text_only_with_a_description(
    api: SlackApiSandbox, state_url: str
) -> None:
    import httpx

    from tests.bot.harness import SIGNING_SECRET

    settings = bot_settings(api, state_url, server__public_base_url=None)
    async with httpx.AsyncClient(timeout=10) as client, running_bot(settings) as running:
        driver = SlackDriver(running.url, SIGNING_SECRET, api, client)
        scenario = Scenario(api, driver, None)  # type: ignore[arg-type]
        await driver.click(ADMIN, await scenario.kickoff(), blocks.ACTION_START)
        step = await scenario.latest_step(ADMIN)
        assert not [block for block in step.blocks if block["type"] == "image"]
        assert GUIDE.steps[0].alt in message_text(step)


async def _key(bot: RunningBot, user: str):  # type: ignore[no-untyped-def]
    from conversations.addresses import ConversationKey

    team = await bot.runtime.slack.workspace.installing_team()
    return ConversationKey("slack", team, CLINIC, user)


def _closed(api: SlackApiSandbox, ts: str):  # type: ignore[no-untyped-def]
    message = api.message(CLINIC, ts)
    return message if message is not None and not has_buttons(message) else None
