"""The stand-in refuses what Slack refuses: repeated ids, a modal without submit, pictures Slack cannot fetch."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.fakes.slack import SlackApiSandbox, validate_blocks, validate_view
from tests.bot.fakes.test_api import refused

BUTTON = {"type": "button", "text": {"type": "plain_text", "text": "Done"}, "action_id": "done", "value": "1"}
INPUT = {
    "type": "input",
    "block_id": "key",
    "label": {"type": "plain_text", "text": "Key"},
    "element": {"type": "plain_text_input", "action_id": "value"},
}


def section(block_id: str) -> dict[str, Any]:
    return {"type": "section", "block_id": block_id, "text": {"type": "mrkdwn", "text": "Step"}}


def image(url: str) -> dict[str, Any]:
    return {"type": "image", "image_url": url, "alt_text": "the Settings screen"}


def test_two_blocks_with_one_block_id_are_refused() -> None:
    assert validate_blocks([section("a"), section("b")]) == []
    assert validate_blocks([section("a"), section("a")]) == ["duplicate block_id: a [json-pointer:/blocks/1/block_id]"]


def test_two_elements_with_one_action_id_in_a_block_are_refused() -> None:
    actions = {"type": "actions", "block_id": "buttons", "elements": [BUTTON, BUTTON | {"value": "2"}]}
    assert validate_blocks([actions]) == ["duplicate action_id: done [json-pointer:/blocks/0/elements/1/action_id]"]
    # One action_id in two blocks is fine for Slack.
    other = {"type": "actions", "block_id": "more", "elements": [BUTTON]}
    assert validate_blocks([actions | {"elements": [BUTTON]}, other]) == []


def test_a_modal_with_inputs_needs_a_submit_button() -> None:
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Key"}, "blocks": [INPUT]}
    assert validate_view(modal) == ["a modal with input blocks must have a submit button [json-pointer:/view/submit]"]
    assert validate_view(modal | {"submit": {"type": "plain_text", "text": "Check"}}) == []
    # Without inputs there is nothing to submit.
    assert validate_view(modal | {"blocks": [section("a")]}) == []


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://guide.aldense.example/guide-assets/step-1.png", True),
        ("http://127.0.0.1:8080/guide-assets/step-1.png", True),  # the playground serves pictures on loopback
        ("http://localhost:8080/guide-assets/step-1.png", True),
        ("http://guide.aldense.example/guide-assets/step-1.png", False),
        ("ftp://guide.aldense.example/step-1.png", False),
    ],
)
def test_pictures_must_be_https_except_on_loopback(url: str, accepted: bool) -> None:
    problems = validate_blocks([image(url)])
    assert (problems == []) is accepted
    if not accepted:
        assert problems[0].endswith("[json-pointer:/blocks/0/image_url]")


async def test_when_slack_cannot_fetch_pictures_every_message_with_one_is_refused(
    api: SlackApiSandbox, client: AsyncWebClient
) -> None:
    api.images_fail = True
    url = "https://guide.aldense.example/step-1.png"
    answer = await refused(
        client.chat_postMessage(channel="C0CLINIC", text="Step 1", blocks=[section("a"), image(url)])
    )
    assert answer["error"] == "invalid_blocks"
    assert answer["errors"] == ["downloading image failed [json-pointer:/blocks/1/image_url]"]
    accessory = section("b") | {"accessory": image(url)}
    answer = await refused(client.chat_postMessage(channel="C0CLINIC", text="Step 1", blocks=[accessory]))
    assert answer["errors"] == ["downloading image failed [json-pointer:/blocks/0/accessory/image_url]"]
    # Messages without pictures still go through, and so does everything once Slack can fetch again.
    assert (await client.chat_postMessage(channel="C0CLINIC", text="Step 1", blocks=[section("a")]))["ok"]
    api.images_fail = False
    assert (await client.chat_postMessage(channel="C0CLINIC", text="Step 1", blocks=[image(url)]))["ok"]


async def test_an_errors_answer_must_name_an_input(api: SlackApiSandbox, client: AsyncWebClient) -> None:
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Key"},
             "submit": {"type": "plain_text", "text": "Go"}, "blocks": [INPUT]}  # fmt: skip
    opened = await client.views_open(trigger_id=api.issue_trigger("U0ADMIN"), view=modal)
    view_id = opened["view"]["id"]
    assert api.apply_view_ack(view_id, {"response_action": "errors", "errors": {}}) != []
    assert api.apply_view_ack(view_id, {"response_action": "errors", "errors": {"key": "Too short"}}) == []
