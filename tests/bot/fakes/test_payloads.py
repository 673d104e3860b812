"""Payload builders produce Slack's shapes, and Bolt's own extractors read the Slack Connect fields right."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest
from slack_bolt.request.internals import (
    extract_actor_team_id,
    extract_actor_user_id,
    extract_channel_id,
    extract_team_id,
    extract_user_id,
    parse_body,
)
from slack_sdk.signature import Clock, SignatureVerifier

from bot.fakes.slack import Workspace, payloads
from tests.bot.fakes.tiny_app import KEY_MODAL, KICKOFF_BLOCKS

BUTTON = KICKOFF_BLOCKS[1]["elements"][0]


def modal_view(workspace: Workspace, state: dict[str, Any] | None = None) -> dict[str, Any]:
    """A modal as the api sandbox would hand it out to Jane."""
    return {
        **KEY_MODAL,
        "id": "V0001",
        "team_id": "T0CLINIC",
        "app_installed_team_id": workspace.installing_team_id,
        "hash": "1.abc",
        "state": {"values": state or {}},
    }


def test_block_actions_for_an_external_clicker_names_their_team_only_in_user(workspace: Workspace) -> None:
    jane = workspace.user("U0ADMIN")
    action = payloads.action_item(BUTTON, "kickoff", "1700000000.000200")

    payload = payloads.block_actions(
        workspace,
        user=jane,
        channel=workspace.channel("C0CLINIC"),
        message_ts="1700000000.000100",
        action=action,
        trigger_id="1.2.abc",
        response_url="http://127.0.0.1:1/response/R1",
        message={"type": "message", "ts": "1700000000.000100", "blocks": KICKOFF_BLOCKS},
    )

    assert payload["type"] == "block_actions"
    assert payload["api_app_id"] == "A0ALDENSE"
    # Slack Connect: ``team`` is the workspace that posted the message, the clicker's own team only in the user.
    assert payload["team"] == {"id": "T0ALDENSE", "domain": "aldense"}
    assert payload["user"] == {"id": "U0ADMIN", "username": "jane.doe", "name": "jane.doe", "team_id": "T0CLINIC"}
    assert payload["container"] == {
        "type": "message",
        "message_ts": "1700000000.000100",
        "channel_id": "C0CLINIC",
        "is_ephemeral": False,
    }
    assert payload["actions"] == [
        {
            "action_id": "start",
            "block_id": "kickoff",
            "type": "button",
            "text": BUTTON["text"],
            "value": "guide-1",
            "style": "primary",
            "action_ts": "1700000000.000200",
        }
    ]
    assert payload["enterprise"] is None
    assert payload["is_enterprise_install"] is False
    assert (extract_team_id(payload), extract_user_id(payload), extract_channel_id(payload)) == (
        "T0ALDENSE",
        "U0ADMIN",
        "C0CLINIC",
    )


def test_view_submission_resolves_to_the_installing_team(workspace: Workspace) -> None:
    state = payloads.state_values(KEY_MODAL["blocks"], {}, {"region": "au", "key": {"key": "sk_live"}})

    payload = payloads.view_submission(
        workspace, user=workspace.user("U0ADMIN"), view=modal_view(workspace, state), trigger_id="1.2.abc"
    )

    assert payload["view"]["state"]["values"] == {
        "region": {
            "region": {"type": "static_select", "selected_option": KEY_MODAL["blocks"][0]["element"]["options"][1]}
        },
        "key": {"key": {"type": "plain_text_input", "value": "sk_live"}},
    }
    assert payload["team"]["id"] == "T0CLINIC"
    assert payload["response_urls"] == []
    # Bolt finds the installation through view.app_installed_team_id, not the clicker's team.
    assert extract_team_id(payload) == "T0ALDENSE"


def test_state_values_keep_earlier_input_and_use_initial_values(workspace: Workspace) -> None:
    blocks = [
        {
            "type": "input",
            "block_id": "who",
            "label": {"type": "plain_text", "text": "Who"},
            "element": {"type": "users_select", "action_id": "who", "initial_user": "U0ADMIN"},
        },
        {
            "type": "input",
            "block_id": "ticks",
            "label": {"type": "plain_text", "text": "Ticks"},
            "element": {
                "type": "checkboxes",
                "action_id": "ticks",
                "options": [{"text": {"type": "plain_text", "text": t}, "value": t} for t in ("read", "write")],
            },
        },
        *KEY_MODAL["blocks"],
    ]
    typed = payloads.state_values(blocks, {}, {"key": "sk_first"})

    state = payloads.state_values(blocks, typed, {"ticks": ["read", "write"]})

    assert state["who"]["who"] == {"type": "users_select", "selected_user": "U0ADMIN"}
    assert [o["value"] for o in state["ticks"]["ticks"]["selected_options"]] == ["read", "write"]
    assert state["key"]["key"]["value"] == "sk_first"
    assert state["region"]["region"]["selected_option"] is None
    assert "tools" not in state  # buttons hold no state


def test_state_values_refuse_unknown_inputs_and_options() -> None:
    with pytest.raises(ValueError, match="'ca' is not an option"):
        payloads.state_values(KEY_MODAL["blocks"], {}, {"region": "ca"})
    with pytest.raises(KeyError, match="no input"):
        payloads.state_values(KEY_MODAL["blocks"], {}, {"keyy": "x"})


def test_select_actions_carry_the_selected_option() -> None:
    select = KEY_MODAL["blocks"][0]["element"]

    action = payloads.action_item(select, "region", "1.000001", "uk")

    assert action["type"] == "static_select"
    assert action["selected_option"]["value"] == "uk"


def test_events_in_a_shared_channel_carry_authorizations_for_the_installing_team(workspace: Workspace) -> None:
    jane, channel = workspace.user("U0ADMIN"), workspace.channel("C0CLINIC")
    event = payloads.message_event(user=jane, channel=channel, text="<@U0BOT> help", ts="1.000001", mention=True)

    envelope = payloads.event_callback(
        workspace, event, event_id="Ev01", event_time=1, channel=channel, actor_team_id="T0CLINIC"
    )

    assert envelope["is_ext_shared_channel"] is True
    assert envelope["team_id"] == "T0CLINIC"
    assert envelope["context_team_id"] == "T0ALDENSE"
    assert envelope["authorizations"] == [
        {
            "enterprise_id": None,
            "team_id": "T0ALDENSE",
            "user_id": "U0BOT",
            "is_bot": True,
            "is_enterprise_install": False,
        }
    ]
    assert event["type"] == "app_mention"
    assert event["user_team"] == "T0CLINIC"
    assert extract_team_id(envelope) == "T0ALDENSE"
    assert (extract_actor_team_id(envelope), extract_actor_user_id(envelope)) == ("T0CLINIC", "U0ADMIN")


def test_events_in_internal_channels_are_not_shared(workspace: Workspace) -> None:
    sam, channel = workspace.user("U0STAFF"), workspace.channel("C0ONBOARD")
    event = payloads.member_joined_channel_event(user=sam, channel=channel, event_ts="1.000001", inviter="U0BOT")

    envelope = payloads.event_callback(workspace, event, event_id="Ev02", event_time=1, channel=channel)

    assert envelope["is_ext_shared_channel"] is False
    assert envelope["team_id"] == "T0ALDENSE"
    assert event == {
        "type": "member_joined_channel",
        "user": "U0STAFF",
        "channel": "C0ONBOARD",
        "channel_type": "C",
        "team": "T0ALDENSE",
        "event_ts": "1.000001",
        "inviter": "U0BOT",
    }


def test_slash_commands_are_forms_with_escaped_references(workspace: Workspace) -> None:
    text = payloads.escape_command_text(
        workspace, "onboard #maple-leaf-dental for @jane.doe and #nowhere. Thanks @U0NURSE."
    )
    fields = payloads.slash_command(
        workspace,
        user=workspace.user("U0STAFF"),
        channel=workspace.channel("C0ONBOARD"),
        command="/aldense",
        text=text,
        response_url="http://127.0.0.1:1/response/R1",
        trigger_id="1.2.abc",
    )

    body, content_type = payloads.command_body(fields)

    assert text == (
        "onboard <#C0CLINIC|maple-leaf-dental> for <@U0ADMIN|jane.doe> and #nowhere. Thanks <@U0NURSE|priya>."
    )
    assert content_type == "application/x-www-form-urlencoded"
    assert parse_body(body.decode(), content_type) == fields
    assert fields["team_id"] == "T0ALDENSE"
    assert fields["channel_name"] == "aldense-onboarding"


def test_interactions_are_form_encoded_payloads(workspace: Workspace) -> None:
    payload = payloads.view_closed(workspace, user=workspace.user("U0ADMIN"), view=modal_view(workspace))

    body, content_type = payloads.interactivity_body(payload)

    assert content_type == "application/x-www-form-urlencoded"
    assert json.loads(urllib.parse.parse_qs(body.decode())["payload"][0]) == payload
    assert parse_body(body.decode(), content_type) == payload


def test_signatures_verify_only_with_the_right_secret_and_a_fresh_timestamp() -> None:
    body = b'{"type":"url_verification"}'

    headers = payloads.signature_headers(body, "secret", 1_700_000_000)

    class At(Clock):
        def __init__(self, now: float) -> None:
            self._now = now

        def now(self) -> float:
            return self._now

    assert SignatureVerifier("secret", At(1_700_000_100)).is_valid_request(body, headers)
    assert not SignatureVerifier("other", At(1_700_000_100)).is_valid_request(body, headers)
    assert not SignatureVerifier("secret", At(1_700_000_301)).is_valid_request(body, headers)


def test_retry_headers_name_the_attempt() -> None:
    assert payloads.retry_headers(2, "http_error") == {"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"}
