"""The driver plays users against a real Bolt app over HTTP, and the api sandbox shows the results."""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.fakes.slack import (
    AckRejected,
    CommandUnavailable,
    ElementNotFound,
    Message,
    SlackApiSandbox,
    SlackDriver,
    SubmissionBlocked,
    payloads,
)
from tests.bot.fakes.conftest import FakeClock
from tests.bot.fakes.tiny_app import KICKOFF_BLOCKS, TinyApp


async def kickoff(client: AsyncWebClient, api: SlackApiSandbox) -> Message:
    """Post the kick-off message with its buttons into the shared channel."""
    answer = await client.chat_postMessage(channel="C0CLINIC", text="Let's connect Dentally", blocks=KICKOFF_BLOCKS)
    return api.message("C0CLINIC", answer["ts"])


async def test_clicking_start_reaches_the_action_listener_which_opens_a_modal(
    driver: SlackDriver, tiny: TinyApp, client: AsyncWebClient, api: SlackApiSandbox
) -> None:
    message = await kickoff(client, api)

    delivery = await driver.click("U0ADMIN", message, "start")

    assert delivery.status_code == 200
    assert tiny.kinds() == ["start"]
    body = tiny.seen[0][1]
    assert body["actions"][0]["value"] == "guide-1"
    assert body["user"]["team_id"] == "T0CLINIC"
    assert body["message"]["ts"] == message.ts
    assert body["trigger_id"] == delivery.trigger_id
    modal = driver.open_view("U0ADMIN")
    assert modal is not None
    assert modal.callback_id == "key_modal"
    assert modal.team_id == "T0CLINIC"


async def test_a_click_by_ts_finds_the_message(
    driver: SlackDriver, tiny: TinyApp, client: AsyncWebClient, api: SlackApiSandbox
) -> None:
    message = await kickoff(client, api)

    await driver.click("U0NURSE", message.ts, "start")

    assert tiny.seen[0][1]["container"]["message_ts"] == message.ts


async def test_clicks_on_things_the_user_cannot_see_are_refused(
    driver: SlackDriver, client: AsyncWebClient, api: SlackApiSandbox
) -> None:
    message = await kickoff(client, api)
    internal = await client.chat_postMessage(channel="C0ONBOARD", text="x", blocks=KICKOFF_BLOCKS)

    with pytest.raises(ElementNotFound, match="has no 'finish'"):
        await driver.click("U0ADMIN", message, "finish")
    with pytest.raises(ElementNotFound, match="cannot see"):
        await driver.click("U0ADMIN", internal["ts"], "start")
    with pytest.raises(ElementNotFound, match="no message"):
        await driver.click("U0ADMIN", "1.000001", "start")


async def test_background_work_is_awaited_with_wait_for(
    driver: SlackDriver, client: AsyncWebClient, api: SlackApiSandbox
) -> None:
    message = await kickoff(client, api)

    await driver.click("U0ADMIN", message, "post_reply")
    replies = await driver.wait_for(lambda: driver.thread("C0CLINIC", message.ts)[1:])

    assert [m.text for m in replies] == ["Step 1"]


async def test_wait_for_times_out_with_the_recent_calls(driver: SlackDriver, client: AsyncWebClient) -> None:
    await client.auth_test()

    with pytest.raises(TimeoutError, match=r"auth\.test ok=True"):
        await driver.wait_for(lambda: driver.messages("C0CLINIC"), timeout=0.1)


async def test_respond_replaces_the_original_message(
    driver: SlackDriver, client: AsyncWebClient, api: SlackApiSandbox
) -> None:
    message = await kickoff(client, api)

    await driver.click("U0ADMIN", message, "replace")

    assert api.message("C0CLINIC", message.ts).text == "Replaced"
    assert api.responses()[0].outcome == "replaced"


async def test_submitting_the_modal_shows_errors_then_closes(
    driver: SlackDriver, tiny: TinyApp, client: AsyncWebClient, api: SlackApiSandbox
) -> None:
    await driver.click("U0ADMIN", await kickoff(client, api), "start")

    first = await driver.submit_view("U0ADMIN", values={"region": "uk", "key": "not-a-key"})
    shown = driver.open_view("U0ADMIN")
    assert first.ack["response_action"] == "errors"
    assert shown is not None
    assert shown.errors == {"key": "That does not look like a Dentally key"}

    await driver.submit_view("U0ADMIN", values={"key": "sk_live_123"})

    assert driver.open_view("U0ADMIN") is None
    submitted = tiny.seen[-1][1]
    values = submitted["view"]["state"]["values"]
    assert values["region"]["region"]["selected_option"]["value"] == "uk"  # typed earlier, kept
    assert values["key"]["key"] == {"type": "plain_text_input", "value": "sk_live_123"}
    assert submitted["view"]["app_installed_team_id"] == "T0ALDENSE"
    assert submitted["team"]["id"] == "T0CLINIC"


async def test_an_update_ack_replaces_the_modal(
    driver: SlackDriver, client: AsyncWebClient, api: SlackApiSandbox
) -> None:
    await driver.click("U0ADMIN", await kickoff(client, api), "start")
    before = driver.open_view("U0ADMIN")
    assert before is not None

    await driver.submit_view("U0ADMIN", before.id, {"region": "au", "key": "sk_update"})

    after = driver.open_view("U0ADMIN")
    assert after is not None
    assert after.id == before.id
    assert len(after.history) == 1
    assert after.blocks[0]["type"] == "section"


async def test_an_ack_slack_would_refuse_fails_loudly(
    driver: SlackDriver, client: AsyncWebClient, api: SlackApiSandbox
) -> None:
    await driver.click("U0ADMIN", await kickoff(client, api), "start")

    with pytest.raises(AckRejected, match="no_such_block") as caught:
        await driver.submit_view("U0ADMIN", values={"region": "uk", "key": "bogus"})

    assert caught.value.delivery.status_code == 200


async def test_slacks_client_blocks_empty_or_short_inputs(
    driver: SlackDriver, tiny: TinyApp, client: AsyncWebClient, api: SlackApiSandbox
) -> None:
    await driver.click("U0ADMIN", await kickoff(client, api), "start")

    with pytest.raises(SubmissionBlocked, match="'Region' is required"):
        await driver.submit_view("U0ADMIN", values={"key": "sk_live"})
    with pytest.raises(SubmissionBlocked, match="at least 4"):
        await driver.submit_view("U0ADMIN", values={"region": "uk", "key": "sk"})
    assert tiny.kinds() == ["start"]


async def test_clicks_inside_a_modal_carry_the_view_and_its_state(
    driver: SlackDriver, tiny: TinyApp, client: AsyncWebClient, api: SlackApiSandbox
) -> None:
    await driver.click("U0ADMIN", await kickoff(client, api), "start")

    await driver.click_in_view("U0ADMIN", None, "region", value="au")
    await driver.click_in_view("U0ADMIN", None, "detect", values={"key": {"key": "sk_typed"}})

    region, detect = tiny.seen[1][1], tiny.seen[2][1]
    assert region["actions"][0]["selected_option"]["value"] == "au"
    assert region["container"]["type"] == "view"
    assert "response_url" not in detect
    assert detect["view"]["state"]["values"]["key"]["key"]["value"] == "sk_typed"


async def test_closing_a_modal_notifies_the_app_when_asked(
    driver: SlackDriver, tiny: TinyApp, client: AsyncWebClient, api: SlackApiSandbox
) -> None:
    await driver.click("U0ADMIN", await kickoff(client, api), "start")

    delivery = await driver.close_view("U0ADMIN")

    assert delivery is not None
    assert delivery.status_code == 200
    assert tiny.kinds() == ["start", "closed"]
    assert driver.open_view("U0ADMIN") is None


async def test_a_staff_command_is_acked_and_its_text_shown_ephemerally(driver: SlackDriver, tiny: TinyApp) -> None:
    delivery = await driver.run_command("U0STAFF", "C0ONBOARD", "/aldense", "onboard #C0CLINIC")

    assert delivery.status_code == 200
    assert tiny.seen[0][1]["text"] == "onboard <#C0CLINIC|maple-leaf-dental>"
    assert [(e.text, e.source) for e in driver.ephemeral("U0STAFF")] == [
        ("You said: onboard <#C0CLINIC|maple-leaf-dental>", "ack")
    ]


async def test_respond_in_a_command_goes_through_the_response_url(driver: SlackDriver, api: SlackApiSandbox) -> None:
    await driver.run_command("U0STAFF", "C0ONBOARD", "/aldense", "respond")

    assert [e.text for e in driver.ephemeral("U0STAFF", "C0ONBOARD")] == ["Answered through the response_url"]
    assert api.responses()[0].source == "response_url"


async def test_clinic_users_cannot_run_our_command(driver: SlackDriver, tiny: TinyApp) -> None:
    with pytest.raises(CommandUnavailable):
        await driver.run_command("U0ADMIN", "C0CLINIC", "/aldense", "status")

    forced = await driver.run_command("U0ADMIN", "C0CLINIC", "/aldense", "status", force=True)
    assert forced.status_code == 200
    assert tiny.seen[0][1]["team_id"] == "T0CLINIC"


async def test_forged_and_stale_signatures_get_401(driver: SlackDriver, tiny: TinyApp, clock: FakeClock) -> None:
    body, content_type = payloads.json_body(payloads.url_verification(driver.workspace, "c"))

    forged = await driver.deliver(body, content_type, signing_secret="not-the-secret")
    stale = await driver.deliver(body, content_type, timestamp=int(clock.now) - 301)

    assert (forged.status_code, stale.status_code) == (401, 401)
    assert (await driver.url_verification("c")).ack == {"challenge": "c"}


async def test_mentions_from_the_clinic_arrive_with_slack_connect_context(
    driver: SlackDriver, tiny: TinyApp, api: SlackApiSandbox
) -> None:
    delivery = await driver.mention("U0ADMIN", "C0CLINIC", "help")

    assert delivery.status_code == 200
    envelope = tiny.seen[0][1]
    assert envelope["event"]["text"] == "<@U0BOT> help"
    assert envelope["is_ext_shared_channel"] is True
    assert envelope["authorizations"][0]["team_id"] == "T0ALDENSE"
    assert envelope["team_id"] == "T0CLINIC"
    assert [m.text for m in api.messages("C0CLINIC")] == ["<@U0BOT> help"]


async def test_a_redelivery_keeps_the_event_id_and_adds_retry_headers(driver: SlackDriver, tiny: TinyApp) -> None:
    first = await driver.mention("U0ADMIN", "C0CLINIC", "help")

    again = await driver.redeliver(first, retry_num=1, retry_reason="http_timeout")

    assert again.event_id == first.event_id
    assert [e[1]["event_id"] for e in tiny.seen] == [first.event_id] * 2
    assert tiny.headers[1]["x-slack-retry-num"] == ["1"]
    assert tiny.headers[1]["x-slack-retry-reason"] == ["http_timeout"]
    assert "x-slack-retry-num" not in tiny.headers[0]


async def test_joining_a_channel_lets_the_bot_greet_and_the_user_start(
    driver: SlackDriver, tiny: TinyApp, api: SlackApiSandbox
) -> None:
    await driver.join_channel("U0NURSE", "C0ONBOARD", inviter="U0STAFF")

    assert "U0NURSE" in api.workspace.channel("C0ONBOARD").members
    welcome = driver.messages("C0ONBOARD")[-1]
    await driver.click("U0NURSE", welcome, "start")
    assert tiny.kinds() == ["joined", "start"]


async def test_opening_home_publishes_a_view(driver: SlackDriver, tiny: TinyApp) -> None:
    await driver.open_home("U0STAFF")

    home = driver.home("U0STAFF")
    assert home is not None
    assert home.type == "home"
    assert tiny.seen[0][1]["channel"] == "D0STAFF"
    await driver.open_home("U0STAFF")
    assert tiny.seen[1][1]["view"]["id"] == home.id


async def test_user_thread_finds_the_guide_thread(
    driver: SlackDriver, client: AsyncWebClient, api: SlackApiSandbox
) -> None:
    await client.chat_postMessage(channel="C0CLINIC", text="<@U0NURSE> is connecting Dentally")
    parent = await client.chat_postMessage(channel="C0CLINIC", text="<@U0ADMIN> is connecting Dentally")
    assert driver.latest_in_user_thread("C0CLINIC", "U0ADMIN") is None

    await client.chat_postMessage(channel="C0CLINIC", thread_ts=parent["ts"], text="Step 1")
    await client.chat_postMessage(channel="C0CLINIC", thread_ts=parent["ts"], text="Step 2")

    assert [m.text for m in driver.user_thread("C0CLINIC", "U0ADMIN")][1:] == ["Step 1", "Step 2"]
    latest = driver.latest_in_user_thread("C0CLINIC", "U0ADMIN")
    assert latest is not None
    assert latest.text == "Step 2"
    assert [c.method for c in driver.calls("chat.postMessage")] == ["chat.postMessage"] * 4


async def test_late_acks_are_ignored_as_slack_ignores_them(
    driver: SlackDriver, client: AsyncWebClient, api: SlackApiSandbox
) -> None:
    await driver.click("U0ADMIN", await kickoff(client, api), "start")
    driver.ack_deadline = 0.0  # every real answer takes longer than no time at all

    submitted = await driver.submit_view("U0ADMIN", values={"region": "uk", "key": "sk_live"})
    command = await driver.run_command("U0STAFF", "C0ONBOARD", "/aldense", "status")

    assert submitted.late
    assert command.late
    assert driver.open_view("U0ADMIN") is not None
    assert driver.ephemeral("U0STAFF") == []
