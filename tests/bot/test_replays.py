"""A signed request captured and sent again within Slack's 5-minute window is answered 200 and changes nothing."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from bot.fakes.slack import SlackApiSandbox, SlackDriver
from bot.slack import blocks
from tests.bot.harness import (
    ADMIN,
    CLINIC,
    ONBOARDING,
    SIGNING_SECRET,
    STAFF,
    RunningBot,
    Scenario,
    ask_aldense,
    bot_settings,
    running_bot,
)
from tests.bot.test_key_check import GUIDE, HANDOFF_SECRET, KEYS, open_modal, reach_key_step, submit_key, support_texts
from tests.bot.test_key_check import receiver as receiver  # the loopback hand-off receiver fixture


def kickoffs(api: SlackApiSandbox) -> int:
    return sum(1 for m in api.messages(CLINIC) if "Start Dentally setup" in str(m.blocks))


async def test_a_replayed_onboard_command_posts_no_second_kickoff(
    driver: SlackDriver, api: SlackApiSandbox, bot: RunningBot
) -> None:
    first = await driver.run_command(STAFF, ONBOARDING, "/aldense", f"onboard <#{CLINIC}|clinic>", escape=False)
    await driver.wait_for(lambda: kickoffs(api) == 1)
    again = await driver.replay(first)
    assert again.status_code == 200
    assert await bot.runtime.core.tasks.drain(10)
    assert kickoffs(api) == 1


async def test_a_replayed_im_stuck_pages_support_once(
    scenario: Scenario, driver: SlackDriver, api: SlackApiSandbox, bot: RunningBot
) -> None:
    await driver.click(ADMIN, await scenario.kickoff(), blocks.ACTION_START)
    step = await scenario.latest_step(ADMIN)
    stuck = await ask_aldense(driver, ADMIN, step)
    await driver.wait_for(lambda: any("is stuck on" in t for t in support_texts(api)))
    assert await bot.runtime.core.tasks.drain(10)
    pages = [t for t in support_texts(api) if "is stuck on" in t]
    assert (await driver.replay(stuck)).status_code == 200
    await driver.click(ADMIN, step, blocks.ACTION_DONE)  # later work goes through behind the replay
    await scenario.latest_step(ADMIN, title=GUIDE.steps[1].title)
    assert await bot.runtime.core.tasks.drain(10)
    assert [t for t in support_texts(api) if "is stuck on" in t] == pages


async def test_a_replayed_key_submission_is_checked_and_handed_off_once(
    api: SlackApiSandbox, state_url: str, dentally_url: str, receiver: tuple[str, list[dict[str, object]], list[int]]
) -> None:
    url, received, _ = receiver
    settings = bot_settings(
        api,
        state_url,
        dentally_url,
        support__handoff_url=url,
        support__handoff_secret=SecretStr(HANDOFF_SECRET),
        support__handoff_allow_private=True,
    )
    async with httpx.AsyncClient(timeout=10) as client, running_bot(settings) as running:
        driver = SlackDriver(running.url, SIGNING_SECRET, api, client)
        scenario = Scenario(api, driver, None)  # type: ignore[arg-type]
        await open_modal(driver, await reach_key_step(scenario))
        submitted = await submit_key(driver, KEYS["all_scopes"].key)
        await driver.wait_for(lambda: received, timeout=10)
        assert (await driver.replay(submitted)).status_code == 200
        await running.runtime.core.tasks.drain(10)
        assert len(received) == 1
        assert sum("handed to Aldense" in t for t in support_texts(api)) <= 1
