"""Pure renderers for the private key modal and its states (entry, checking, result, refusal)."""

from __future__ import annotations

import json
from typing import Any

from bot.core import copy
from bot.slack.blocks import Blocks
from bot.slack.payloads import metadata_fields

KEY_VIEW = "key_entry"
BLOCK_REGION = "region"
ACTION_REGION = "region_choice"
BLOCK_KEY = "key"
ACTION_KEY = "key_value"


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _section(markdown: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": markdown}}


def _modal(title: str, blocks: Blocks, submit: str | None = None, close: str = copy.CLOSE) -> dict[str, Any]:
    view: dict[str, Any] = {"type": "modal", "callback_id": KEY_VIEW, "title": _plain(title), "close": _plain(close)}
    if submit:
        view["submit"] = _plain(submit)
    view["blocks"] = blocks
    return view


def key_metadata(channel: str, owner: str) -> str:
    """``private_metadata`` of the key modal: ids only, never anything typed into it."""
    return json.dumps({"channel": channel, "owner": owner}, separators=(",", ":"))


def read_key_metadata(metadata: object) -> tuple[str, str] | None:
    """The (channel, owner) pair from ``key_metadata``; None when the metadata is not ours."""
    data = metadata_fields(metadata)
    channel, owner = (data.get("channel"), data.get("owner")) if data else (None, None)
    return (channel, owner) if channel and owner else None


def key_modal(channel: str, owner: str, min_length: int, max_length: int, region: str = "detect") -> dict[str, Any]:
    """The private form: region and key, with a plain word that the field is visible on screen."""
    options = [{"text": _plain(label), "value": value} for value, label in copy.REGION_CHOICES]
    initial = next((option for option in options if option["value"] == region), options[0])
    view = _modal(
        copy.KEY_TITLE,
        [
            _section(copy.key_form_intro(masked=False)),
            {
                "type": "input",
                "block_id": BLOCK_REGION,
                "label": _plain(copy.REGION_LABEL),
                "element": {
                    "type": "static_select",
                    "action_id": ACTION_REGION,
                    "options": options,
                    "initial_option": initial,
                },
                "hint": _plain(copy.REGION_HINT),
            },
            {
                "type": "input",
                "block_id": BLOCK_KEY,
                "label": _plain(copy.KEY_LABEL),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ACTION_KEY,
                    "min_length": min_length,
                    "max_length": max_length,
                    "placeholder": _plain(copy.KEY_PLACEHOLDER),
                },
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": copy.KEY_FOOTNOTE}],
            },
        ],
        submit=copy.CHECK_KEY,
        close=copy.CANCEL,
    )
    view["private_metadata"] = key_metadata(channel, owner)
    return view


def checking_view() -> dict[str, Any]:
    """Shown while Dentally is asked about the key."""
    return _modal(
        copy.KEY_TITLE,
        [
            _section(copy.CHECKING),
            {"type": "context", "elements": [{"type": "mrkdwn", "text": copy.CHECKING_NOTE}]},
        ],
    )


def cannot_accept_keys_view() -> dict[str, Any]:
    """Shown instead of the form when the deployment has no encryption keys: a key is never stored in plaintext."""
    return _modal(copy.KEY_TITLE, [_section(copy.CANNOT_ACCEPT_KEYS)])


def message_view(title: str, markdown: str) -> dict[str, Any]:
    """A simple modal with one message (used for results and errors)."""
    return _modal(title[:24], [_section(markdown)])


HAND_OVER_VIEW = "guide_hand_over"
BLOCK_COLLEAGUE = "colleague"
ACTION_COLLEAGUE = "colleague_pick"


def hand_over_modal(channel: str, owner: str) -> dict[str, Any]:
    """Pick the colleague who has the Dentally login (``private_metadata`` holds ids only)."""
    view = _modal(
        "Hand over the guide",
        [
            _section(copy.HAND_OVER_PICK),
            {
                "type": "input",
                "block_id": BLOCK_COLLEAGUE,
                "label": _plain("Colleague"),
                "element": {"type": "users_select", "action_id": ACTION_COLLEAGUE},
            },
        ],
        submit="Hand over",
        close="Cancel",
    )
    view["callback_id"] = HAND_OVER_VIEW
    view["private_metadata"] = key_metadata(channel, owner)
    return view


def picked_user(values: object) -> str | None:
    """The user picked in ``hand_over_modal``'s state values; None when absent or misshapen."""
    node = values.get(BLOCK_COLLEAGUE) if isinstance(values, dict) else None
    node = node.get(ACTION_COLLEAGUE) if isinstance(node, dict) else None
    user = node.get("selected_user") if isinstance(node, dict) else None
    return user if isinstance(user, str) and user else None
