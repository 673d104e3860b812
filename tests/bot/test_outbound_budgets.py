"""Spending Slack's budget on people first, end to end over signed HTTP: the clicked step closed through its
response_url, card refreshes folded per clinic, a 429 one replica was told of honoured by another, every delay in
/metrics."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import httpx

from bot.fakes.slack import SlackApiSandbox, SlackDriver
from bot.slack import blocks
from conversations.guide import load_guide
from tests.bot.harness import (
    ADMIN,
    CLINIC,
    NURSE,
    ONBOARDING,
    SIGNING_SECRET,
    RunningBot,
    Scenario,
    bot_settings,
    message_text,
    running_bot,
)

GUIDE = load_guide()


async def test_the_clicked_step_is_closed_through_its_response_url_not_chat_update(
    scenario: Scenario, api: SlackApiSandbox, driver: SlackDriver, bot: RunningBot
) -> None:
    kickoff = await scenario.kickoff()
    await driver.click(ADMIN, kickoff, blocks.ACTION_START)
    first = await scenario.latest_step(ADMIN, title=GUIDE.steps[0].title)
    await driver.click(ADMIN, first, blocks.ACTION_DONE)
    await scenario.latest_step(ADMIN, title=GUIDE.steps[1].title)
    await scenario.idle(bot)
    closed = api.message(CLINIC, first.ts)
    assert f"1/{GUIDE.step_count}" in message_text(closed)
    assert not any(block.get("type") == "actions" for block in closed.blocks)
    assert [c for c in api.calls("chat.update") if c.params.get("ts") == first.ts] == []
    replaced = [r for r in api.responses() if r.source == "response_url" and r.body.get("replace_original")]
    assert [r.outcome for r in replaced] == ["replaced"]


async def test_an_expired_response_url_falls_back_to_chat_update(
    scenario: Scenario, api: SlackApiSandbox, driver: SlackDriver, bot: RunningBot
) -> None:
    kickoff = await scenario.kickoff()
    await driver.click(ADMIN, kickoff, blocks.ACTION_START)
    first = await scenario.latest_step(ADMIN, title=GUIDE.steps[0].title)
    api.fail_response_urls = True
    await driver.click(ADMIN, first, blocks.ACTION_DONE)
    await scenario.latest_step(ADMIN, title=GUIDE.steps[1].title)
    await scenario.idle(bot)
    assert [c.ok for c in api.calls("chat.update") if c.params.get("ts") == first.ts] == [True]
    assert not any(block.get("type") == "actions" for block in api.message(CLINIC, first.ts).blocks)


async def test_ten_quick_changes_make_one_card_refresh_showing_the_last(
    api: SlackApiSandbox, state_url: str, dentally_url: str, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    settings = bot_settings(api, state_url, dentally_url, support__support_card_seconds=6.0)
    async with running_bot(settings) as bot:
        driver = SlackDriver(bot.url, SIGNING_SECRET, api, http)
        scenario = Scenario(api, driver, tmp_path)
        kickoff = await scenario.kickoff()
        await driver.click(ADMIN, kickoff, blocks.ACTION_START)
        started = time.monotonic()
        last = GUIDE.step_count - 1
        for step in GUIDE.steps[:last]:  # the start, a Done on every step but the key step, a Back, a Done
            message = await scenario.latest_step(ADMIN, title=step.title)
            await driver.click(ADMIN, message, blocks.ACTION_DONE)
        await driver.click(ADMIN, await scenario.latest_step(ADMIN, title=GUIDE.steps[last].title), blocks.ACTION_BACK)
        again = await scenario.latest_step(ADMIN, title=GUIDE.steps[last - 1].title)
        await driver.click(ADMIN, again, blocks.ACTION_DONE)
        await scenario.latest_step(ADMIN, title=GUIDE.steps[last].title)
        assert GUIDE.step_count + 2 >= 10
        assert time.monotonic() - started < 5.0, "the clicks were too slow for one window; the test proves nothing"
        card = api.messages(ONBOARDING)[0]
        await scenario.idle(bot)
        refreshes = [c for c in api.calls("chat.update") if c.params.get("ts") == card.ts]
        assert len(refreshes) == 1
        shown = message_text(api.message(ONBOARDING, card.ts))
        assert f"{GUIDE.step_count}/{GUIDE.step_count}" in shown, shown


async def test_a_429_told_to_one_replica_holds_back_the_other(
    api: SlackApiSandbox, redis_url: str, dentally_url: str, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    settings = bot_settings(api, redis_url, dentally_url)
    async with running_bot(settings) as first, running_bot(settings) as second:
        one = Scenario(api, SlackDriver(first.url, SIGNING_SECRET, api, http), tmp_path)
        other = SlackDriver(second.url, SIGNING_SECRET, api, http)
        kickoff = await one.kickoff()
        api.fail("chat.postMessage", status=429, retry_after=3)
        await one.driver.click(ADMIN, kickoff, blocks.ACTION_START)  # its thread opener is answered 429
        await one.driver.wait_for(lambda: [c for c in api.calls("chat.postMessage") if c.status == 429])
        told = next(c.at for c in api.calls("chat.postMessage") if c.status == 429)
        await other.click(NURSE, kickoff, blocks.ACTION_START)  # the other replica, the same channel
        await one.latest_step(NURSE, title=GUIDE.steps[0].title)
        await one.latest_step(ADMIN, title=GUIDE.steps[0].title)
        posts = [c for c in api.calls("chat.postMessage") if c.params.get("channel") == CLINIC and c.at > told]
        assert posts
        assert all(c.status == 200 for c in posts)
        assert min(c.at for c in posts) >= told + 3 - 0.05  # nobody posted into the 429 window
        exposition = (await http.get(f"{first.url}/metrics")).text
        assert 'aldense_outbound_ratelimited_total{method="chat.postMessage",platform="slack"} 1.0' in exposition
        assert 'aldense_outbound_wait_seconds_count{method="chat.postMessage",platform="slack",priority="clinic"}' in (
            exposition
        )
        waited = (await http.get(f"{second.url}/metrics")).text
        assert 'aldense_outbound_queued_total{method="chat.postMessage",platform="slack",priority="clinic"}' in waited


async def test_two_replicas_refresh_a_clinics_card_at_most_once_per_interval_and_show_the_last(
    api: SlackApiSandbox, redis_url: str, dentally_url: str, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    settings = bot_settings(api, redis_url, dentally_url, support__support_card_seconds=2.0)
    async with running_bot(settings) as first, running_bot(settings) as second:
        drivers = [SlackDriver(bot.url, SIGNING_SECRET, api, http) for bot in (first, second)]
        scenario = Scenario(api, drivers[0], tmp_path)
        kickoff = await scenario.kickoff()
        await drivers[1].click(ADMIN, kickoff, blocks.ACTION_START)
        for n, step in enumerate(GUIDE.steps[: GUIDE.step_count - 1]):  # Done on every step, by turns on each
            message = await scenario.latest_step(ADMIN, title=step.title)
            await drivers[n % 2].click(ADMIN, message, blocks.ACTION_DONE)
        await scenario.latest_step(ADMIN, title=GUIDE.steps[-1].title)
        card = api.messages(ONBOARDING)[0]
        await scenario.idle(first)
        await scenario.idle(second)
        refreshed = [c.at for c in api.calls("chat.update") if c.params.get("ts") == card.ts]
        assert refreshed
        assert all(b - a >= 2.0 - 0.1 for a, b in itertools.pairwise(refreshed)), refreshed
        shown = message_text(api.message(ONBOARDING, card.ts))
        assert f"{GUIDE.step_count}/{GUIDE.step_count}" in shown, shown
