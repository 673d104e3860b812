"""Slack as it really is in a Slack Connect channel: certificate checks, whose team a request names, join greetings."""

from __future__ import annotations

import json

import httpx

from bot.fakes.slack import SlackApiSandbox, SlackDriver, User
from bot.fakes.slack import payloads as p
from bot.slack import blocks
from bot.slack.support import blocks as support_blocks
from tests.bot.harness import ADMIN, CLINIC, ONBOARDING, RunningBot, Scenario, action_ids


async def test_slacks_certificate_check_gets_a_200_and_does_nothing(
    driver: SlackDriver, api: SlackApiSandbox, bot: RunningBot, http: httpx.AsyncClient
) -> None:
    body = b"ssl_check=1&token=sandbox-verification-token"
    before = len(api.calls())
    signed = await driver.deliver(body, p.FORM)
    assert signed.status_code == 200
    # Bolt answers it before any signature check too: it carries nothing and nothing is done for it.
    unsigned = await http.post(driver.url, content=body, headers={"Content-Type": p.FORM})
    assert unsigned.status_code == 200
    await bot.runtime.core.tasks.drain(10)
    assert api.calls()[before:] == []
    # Anything else unsigned is still refused.
    refused = await http.post(driver.url, content=b"command=%2Faldense", headers={"Content-Type": p.FORM})
    assert refused.status_code == 401


async def _status_card(scenario: Scenario, api: SlackApiSandbox, driver: SlackDriver, bot: RunningBot) -> str:
    kickoff = await scenario.kickoff()
    await driver.click(ADMIN, kickoff, blocks.ACTION_START)
    card = await driver.wait_for(lambda: next((m for m in api.messages(ONBOARDING) if action_ids(m)), None))
    await bot.runtime.core.tasks.drain(10)
    return card.ts


async def test_a_click_without_the_clickers_own_team_is_never_taken_for_staff(
    scenario: Scenario, api: SlackApiSandbox, driver: SlackDriver, bot: RunningBot
) -> None:
    card_ts = await _status_card(scenario, api, driver, bot)
    api.add_member(ONBOARDING, ADMIN)  # a clinic guest invited to the internal channel by mistake
    card = api.message(ONBOARDING, card_ts)
    ws = api.workspace
    block_id, element = p.find_action(card.blocks, support_blocks.ACTION_RESET) or ("", {})
    payload = p.block_actions(
        ws,
        user=ws.user(ADMIN),
        channel=ws.channel(ONBOARDING),
        message_ts=card.ts,
        action=p.action_item(element, block_id, "1700000000.000100"),
        trigger_id=api.issue_trigger(ADMIN),
        response_url=api.issue_response_url(channel=ONBOARDING, user=ADMIN, message_ts=card.ts),
        message=api.message_json(card),
    )
    # Slack names the posting workspace (Aldense) as ``team``; say it left out the clicker's own team.
    assert payload["team"]["id"] == ws.installing_team_id
    del payload["user"]["team_id"]
    before = len(api.calls())
    response = await driver.deliver(*p.interactivity_body(payload))
    assert response.status_code == 200
    await bot.runtime.core.tasks.drain(10)
    assert [c.method for c in api.calls()[before:]] == ["chat.postEphemeral"]
    assert "Only the Aldense team" in str(api.calls()[-1].params.get("text"))
    assert driver.open_view(ADMIN) is None


async def test_the_command_staff_check_reads_the_invokers_own_team_not_the_payloads(
    api: SlackApiSandbox, driver: SlackDriver, bot: RunningBot
) -> None:
    ws = api.workspace
    response_url = api.issue_response_url(channel=CLINIC, user=ADMIN)
    fields = p.slash_command(
        ws,
        user=ws.user(ADMIN),
        channel=ws.channel(CLINIC),
        command="/aldense",
        text="status",
        response_url=response_url,
        trigger_id=api.issue_trigger(ADMIN),
    )
    # A command's top-level team_id is where it ran, which in a shared channel can be Aldense's own workspace.
    fields["team_id"] = ws.installing_team_id
    assert (await driver.deliver(*p.command_body(fields))).status_code == 200
    replies = await driver.wait_for(lambda: api.responses())
    assert "for the Aldense team only" in json.dumps(replies[-1].body)
    assert "clinic(s) in progress" not in json.dumps(replies[-1].body)


async def test_staff_running_the_command_are_still_staff(api: SlackApiSandbox, driver: SlackDriver) -> None:
    await driver.run_command("U0STAFF", ONBOARDING, "/aldense", "status")
    replies = await driver.wait_for(lambda: api.responses())
    assert "for the Aldense team only" not in json.dumps(replies[-1].body)


def _newcomer(api: SlackApiSandbox) -> str:
    api.workspace.add_user(User("U0NEWBIE", "T0CLINIC", "tom", "Tom Newman", "Tom"))
    return "U0NEWBIE"


async def test_a_joining_clinic_member_is_greeted_from_the_events_own_facts(
    api: SlackApiSandbox, driver: SlackDriver
) -> None:
    newcomer = _newcomer(api)
    await driver.join_channel(newcomer, CLINIC)
    greeting = await driver.wait_for(lambda: next((m for m in api.messages(CLINIC) if newcomer in m.text), None))
    assert blocks.ACTION_START in action_ids(greeting)
    # The event said who joined, from which team, in a shared channel: Slack was asked for none of it.
    assert api.calls("users.info") == []
    assert api.calls("conversations.info") == []


async def test_a_joining_member_slack_will_not_describe_is_still_greeted(
    api: SlackApiSandbox, driver: SlackDriver
) -> None:
    newcomer = _newcomer(api)
    api.fail("users.info", error="user_not_visible", times=None)
    event = p.member_joined_channel_event(
        user=api.workspace.user(newcomer), channel=api.workspace.channel(CLINIC), event_ts="1700000000.000100"
    )
    del event["team"]  # an event without the joiner's team: the bot has to ask, and Slack won't say
    api.add_member(CLINIC, newcomer)
    await driver.send_event(event)
    greeting = await driver.wait_for(lambda: next((m for m in api.messages(CLINIC) if newcomer in m.text), None))
    assert blocks.ACTION_START in action_ids(greeting)
    assert [c.error for c in api.calls("users.info")] == ["user_not_visible"]


async def test_staff_joining_a_shared_channel_are_not_greeted(
    api: SlackApiSandbox, driver: SlackDriver, bot: RunningBot
) -> None:
    api.workspace.add_user(User("U0STAFF2", "T0ALDENSE", "kim", "Kim from Aldense", "Kim"))
    await driver.join_channel("U0STAFF2", CLINIC)
    await bot.runtime.core.tasks.drain(10)
    assert api.messages(CLINIC) == []


async def test_a_non_staff_reset_submission_is_answered_with_something_slack_accepts(
    scenario: Scenario, api: SlackApiSandbox, driver: SlackDriver, bot: RunningBot
) -> None:
    card_ts = await _status_card(scenario, api, driver, bot)
    await driver.click("U0STAFF", api.message(ONBOARDING, card_ts), support_blocks.ACTION_RESET)
    confirm = await driver.wait_for(lambda: driver.open_view("U0STAFF"))
    # The same confirmation submitted by someone of the clinic (a forged or replayed request).
    ws = api.workspace
    payload = p.view_submission(ws, user=ws.user(ADMIN), view=confirm.to_slack(), trigger_id=api.issue_trigger(ADMIN))
    delivery = await driver.deliver(*p.interactivity_body(payload))
    assert delivery.status_code == 200
    ack = delivery.json()
    assert api.apply_view_ack(confirm.id, ack) == []
    assert ack["response_action"] == "update"
    assert "Only the Aldense team" in json.dumps(ack["view"])


async def test_requests_are_authorized_from_what_start_up_learnt_never_by_an_inline_auth_test(
    scenario: Scenario, api: SlackApiSandbox, driver: SlackDriver, bot: RunningBot
) -> None:
    assert len(api.calls("auth.test")) == 1  # start-up asked once
    # After start-up Slack's auth.test turns slow and then broken: no request may wait for it or fail on it.
    api.set_latency(5, "auth.test")
    api.fail("auth.test", status=500, times=None)
    kickoff = await scenario.kickoff()
    click = await driver.click(ADMIN, kickoff, blocks.ACTION_START)
    assert click.status_code == 200
    assert "reinstall" not in click.response.text
    await scenario.latest_step(ADMIN)
    await bot.runtime.core.tasks.drain(10)
    assert len(api.calls("auth.test")) == 1


def test_nothing_shown_to_clinics_sends_them_to_app_home() -> None:
    # Slack most likely shows people of another workspace its placeholder instead of our Home tab (README).
    from bot.core import messages as m
    from bot.slack.render import render
    from conversations.guide import load_guide

    guide = load_guide()
    shown = [m.Kickoff(welcome_user=ADMIN), m.HelpText(), m.NothingToResume(), m.ResetNotice(), m.GaveUp()]
    shown += [m.StepMessage(index, ADMIN) for index in range(guide.step_count)]
    shown += [m.Reminder(index, ADMIN, 1) for index in range(guide.step_count)]
    for message in shown:
        text, rendered = render(message, guide, lambda step: None)
        words = (text + json.dumps(rendered or [])).lower()
        assert "app home" not in words
        assert "home tab" not in words


async def test_staff_whom_slack_will_not_describe_are_asked_to_try_again_not_refused(
    api: SlackApiSandbox, driver: SlackDriver
) -> None:
    api.fail("users.info", error="ratelimited")
    await driver.run_command("U0STAFF", ONBOARDING, "/aldense", "status")
    replies = await driver.wait_for(lambda: api.responses())
    assert "try again in a minute" in json.dumps(replies[-1].body)
    assert "for the Aldense team only" not in json.dumps(replies[-1].body)
