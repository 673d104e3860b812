"""Slack's own recorded payloads (java-slack-sdk's merged samples) against our stand-in and through the real endpoint.

Each sample merges every field Slack has been seen to send for a kind, with placeholder values. Two checks:
the stand-in sends no field and no shape that Slack's samples lack, and the bot handles the sample itself —
every recorded field present — once its ids are re-pointed at the sandbox's world (the stand-in's values laid
over the sample).
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from bot.fakes.slack import SlackApiSandbox, SlackDriver, User
from bot.fakes.slack import payloads as p
from bot.slack import blocks, modals
from conversations.guide import load_guide
from dentally.sandbox import sample_keys
from tests.bot.harness import ADMIN, CLINIC, ONBOARDING, STAFF, RunningBot, Scenario, message_text
from tests.bot.test_key_check import reach_key_step

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "slack-samples"
GUIDE = load_guide()
KEYS = sample_keys()

pytestmark = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason=f"Slack's recorded samples are not at {SAMPLES} (shipped beside the repo)"
)


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return loaded


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def unknown_to_slack(ours: Any, recorded: Any, where: str = "") -> list[str]:
    """Fields (and shapes) in ``ours`` that Slack's merged sample ``recorded`` never shows.

    A null or empty object in the sample leaves the shape open (``state: {}``); list items are compared with the
    recorded items of the same ``type`` (a message's blocks, a block's elements).
    """
    if recorded is None or ours is None or recorded == {}:
        return []
    if isinstance(ours, dict) and isinstance(recorded, dict):
        found = []
        for key, value in ours.items():
            if key not in recorded:
                found.append(f"{where}/{key}")
            else:
                found += unknown_to_slack(value, recorded[key], f"{where}/{key}")
        return found
    if isinstance(ours, list) and isinstance(recorded, list):
        if not recorded:
            return []
        found = []
        for index, item in enumerate(ours):
            found += unknown_to_slack(item, _recorded_item(recorded, item), f"{where}/{index}")
        return found
    return [] if _kind(ours) == _kind(recorded) else [f"{where}: {_kind(ours)}, Slack sends {_kind(recorded)}"]


def _recorded_item(recorded: list[Any], item: Any) -> Any:
    """What the sample shows for a list item like ``item``: its recorded items of the same type, merged.

    None (not judged) for a type the sample never recorded, such as a context block's text element.
    """
    if not isinstance(item, dict):
        return recorded[0]
    candidates = [r for r in recorded if isinstance(r, dict)]
    if "type" in item:
        candidates = [r for r in candidates if r.get("type") == item["type"]]
    merged: dict[str, Any] = {}
    for candidate in candidates:
        merged |= candidate
    return merged or None


def overlay(recorded: Any, ours: Any) -> Any:
    """The sample with our values laid over it: every recorded field stays, every id is ours."""
    if isinstance(recorded, dict) and isinstance(ours, dict):
        return {**recorded, **{key: overlay(recorded.get(key), value) for key, value in ours.items()}}
    if isinstance(recorded, list) and isinstance(ours, list) and recorded and isinstance(recorded[0], dict):
        return [overlay(recorded[0], item) for item in ours]
    return ours


def _click(api: SlackApiSandbox, user: str, channel: str, ts: str, action_id: str) -> dict[str, Any]:
    ws = api.workspace
    message = api.message(channel, ts)
    found = p.find_action(message.blocks, action_id)
    assert found is not None
    block_id, element = found
    return p.block_actions(
        ws,
        user=ws.user(user),
        channel=ws.channel(channel),
        message_ts=ts,
        action=p.action_item(element, block_id, "1700000000.000100"),
        trigger_id=api.issue_trigger(user),
        response_url=api.issue_response_url(channel=channel, user=user, message_ts=ts),
        message=api.message_json(message),
        thread_ts=message.thread_ts if message.is_reply else None,
    )


# --- the stand-in sends what Slack sends --------------------------------------------------------------------


async def test_the_stand_ins_interactions_have_only_fields_slack_sends(
    scenario: Scenario, api: SlackApiSandbox
) -> None:
    kickoff = await scenario.kickoff()
    click = _click(api, ADMIN, CLINIC, kickoff.ts, blocks.ACTION_START)
    assert unknown_to_slack(click, sample("app-backend/interactive-components/BlockActionPayload.json")) == []
    ws = api.workspace
    view = {"id": "V1", "type": "modal", "team_id": "T0CLINIC", "app_installed_team_id": "T0ALDENSE",
            "callback_id": modals.KEY_VIEW, "private_metadata": "", "state": {"values": {}}}  # fmt: skip
    submission = p.view_submission(ws, user=ws.user(ADMIN), view=view, trigger_id="1.2.3")
    recorded = sample("app-backend/views/ViewSubmissionPayload.json")
    assert unknown_to_slack(submission, recorded) == ["/response_urls"]  # documented by Slack for input blocks
    closed = p.view_closed(ws, user=ws.user(ADMIN), view=view)
    assert unknown_to_slack(closed, sample("app-backend/views/ViewClosedPayload.json")) == []


def test_the_stand_ins_commands_and_events_have_only_fields_slack_sends(api: SlackApiSandbox) -> None:
    ws = api.workspace
    fields = p.slash_command(
        ws, user=ws.user(STAFF), channel=ws.channel(ONBOARDING), command="/aldense", text="help",
        response_url="http://127.0.0.1:1/response/R1", trigger_id="1.2.3",
    )  # fmt: skip
    assert set(fields) <= set(sample("app-backend/slash-commands/SlashCommandPayload.json"))
    clinic, admin = ws.channel(CLINIC), ws.user(ADMIN)
    joined = p.event_callback(ws, p.member_joined_channel_event(user=admin, channel=clinic, event_ts="1.0"),
                              event_id="Ev1", event_time=1, channel=clinic, actor_team_id="T0CLINIC")  # fmt: skip
    assert unknown_to_slack(joined, sample("events/MemberJoinedChannelPayload.json")) == []
    mention = p.message_event(user=admin, channel=clinic, text="<@U0BOT> start", ts="1.0", mention=True)
    wrapped = p.event_callback(ws, mention, event_id="Ev2", event_time=1, channel=clinic, actor_team_id="T0CLINIC")
    # These two samples do not record context_team_id; the member_joined_channel sample (same envelope) does.
    assert set(unknown_to_slack(wrapped, sample("events/AppMentionPayload.json"))) <= {
        "/context_team_id",
        "/context_enterprise_id",
    }
    home = p.app_home_opened_event(user=admin, channel=ws.im_channel(ADMIN), event_ts="1.0")
    opened = p.event_callback(ws, home, event_id="Ev3", event_time=1)
    assert set(unknown_to_slack(opened, sample("events/AppHomeOpenedPayload.json"))) <= {
        "/context_team_id",
        "/context_enterprise_id",
    }


# --- the bot handles Slack's samples ----------------------------------------------------------------------------


async def test_a_recorded_block_action_starts_the_guide(
    scenario: Scenario, api: SlackApiSandbox, driver: SlackDriver
) -> None:
    kickoff = await scenario.kickoff()
    ours = _click(api, ADMIN, CLINIC, kickoff.ts, blocks.ACTION_START)
    replayed = overlay(sample("app-backend/interactive-components/BlockActionPayload.json"), ours)
    assert replayed["container"]["attachment_id"] == 123  # a recorded field we never send is still there
    response = await driver.deliver(*p.interactivity_body(replayed))
    assert response.status_code == 200
    opener = await driver.wait_for(lambda: driver.user_thread(CLINIC, ADMIN))
    assert f"<@{ADMIN}> is connecting Dentally" in opener[0].text
    await scenario.latest_step(ADMIN, title=GUIDE.steps[0].title)


async def test_a_recorded_view_submission_checks_the_key(
    scenario: Scenario, api: SlackApiSandbox, driver: SlackDriver, bot: RunningBot
) -> None:
    key_step = await reach_key_step(scenario)
    await driver.click(ADMIN, key_step, blocks.ACTION_ENTER_KEY)
    view = await driver.wait_for(lambda: driver.open_view(ADMIN))
    values = {modals.BLOCK_KEY: {modals.ACTION_KEY: KEYS["all_scopes"].key}, modals.BLOCK_REGION: "uk"}
    api.set_view_state(view.id, p.state_values(view.blocks, view.state_values, values))
    ws = api.workspace
    ours = p.view_submission(ws, user=ws.user(ADMIN), view=view.to_slack(), trigger_id=api.issue_trigger(ADMIN))
    replayed = overlay(sample("app-backend/views/ViewSubmissionPayload.json"), ours)
    assert "submit_disabled" in replayed["view"]
    response = await driver.deliver(*p.interactivity_body(replayed))
    assert response.status_code == 200
    assert response.json()["response_action"] == "update"
    await driver.wait_for(
        lambda: any("Dentally is connected" in message_text(m) for m in driver.user_thread(CLINIC, ADMIN)), 10
    )


async def test_a_recorded_slash_command_is_answered(api: SlackApiSandbox, driver: SlackDriver) -> None:
    ws = api.workspace
    ours = p.slash_command(
        ws, user=ws.user(STAFF), channel=ws.channel(ONBOARDING), command="/aldense", text="help",
        response_url=api.issue_response_url(channel=ONBOARDING, user=STAFF), trigger_id=api.issue_trigger(STAFF),
    )  # fmt: skip
    recorded = sample("app-backend/slash-commands/SlashCommandPayload.json")
    # The form carries every recorded field; a workspace outside Enterprise Grid leaves the enterprise ones empty.
    replayed = {name: str(value).lower() if isinstance(value, bool) else str(value) for name, value in recorded.items()}
    replayed |= ours
    body = urllib.parse.urlencode(replayed).encode()
    assert (await driver.deliver(body, p.FORM)).status_code == 200
    replies = await driver.wait_for(lambda: api.responses())
    assert "/aldense status #clinic-channel" in json.dumps(replies[-1].body)


async def test_recorded_events_are_handled(api: SlackApiSandbox, driver: SlackDriver, bot: RunningBot) -> None:
    ws = api.workspace
    clinic = ws.channel(CLINIC)
    api.workspace.add_user(User("U0NEWBIE", "T0CLINIC", "tom", "Tom Newman", "Tom"))
    api.add_member(CLINIC, "U0NEWBIE")
    joined = p.member_joined_channel_event(user=ws.user("U0NEWBIE"), channel=clinic, event_ts="1700000000.000100")
    ours = p.event_callback(ws, joined, event_id="EvJOIN", event_time=1, channel=clinic, actor_team_id="T0CLINIC")
    replayed = overlay(sample("events/MemberJoinedChannelPayload.json"), ours)
    assert (await driver.deliver(*p.json_body(replayed))).status_code == 200
    await driver.wait_for(lambda: any("U0NEWBIE" in m.text for m in api.messages(CLINIC)))

    message = api.post_as_user(ADMIN, CLINIC, f"<@{ws.bot_user_id}> start")
    mention = p.message_event(user=ws.user(ADMIN), channel=clinic, text=message.text, ts=message.ts, mention=True)
    ours = p.event_callback(ws, mention, event_id="EvMENTION", event_time=1, channel=clinic, actor_team_id="T0CLINIC")
    replayed = overlay(sample("events/AppMentionPayload.json"), ours)
    assert (await driver.deliver(*p.json_body(replayed))).status_code == 200
    await driver.wait_for(lambda: driver.latest_in_user_thread(CLINIC, ADMIN))

    home = p.app_home_opened_event(user=ws.user(STAFF), channel=ws.im_channel(STAFF), event_ts="1700000000.000200")
    ours = p.event_callback(ws, home, event_id="EvHOME", event_time=1)
    replayed = overlay(sample("events/AppHomeOpenedPayload.json"), ours)
    assert (await driver.deliver(*p.json_body(replayed))).status_code == 200
    await driver.wait_for(lambda: api.home(STAFF))
