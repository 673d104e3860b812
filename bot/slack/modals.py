"""Pure renderers for the private key modal and its states (entry, checking, result, refusal)."""

from __future__ import annotations

import json
from typing import Any

from bot.core import copy
from bot.core.copy import REGION_CHOICES
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


def _modal(title: str, blocks: Blocks, submit: str | None = None, close: str = "Close") -> dict[str, Any]:
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
    options = [{"text": _plain(label), "value": value} for value, label in REGION_CHOICES]
    initial = next((option for option in options if option["value"] == region), options[0])
    view = _modal(
        "Dentally key",
        [
            _section(
                "Paste the key you copied from Dentally. *This field isn't masked on your screen*, so check "
                "nobody is looking over your shoulder — but the key is *never shown in the channel*. It goes "
                "straight to Aldense's checker and is stored encrypted."
            ),
            {
                "type": "input",
                "block_id": BLOCK_REGION,
                "label": _plain("Where is your practice?"),
                "element": {
                    "type": "static_select",
                    "action_id": ACTION_REGION,
                    "options": options,
                    "initial_option": initial,
                },
                "hint": _plain("Dentally runs separately in each region; we can try each one for you."),
            },
            {
                "type": "input",
                "block_id": BLOCK_KEY,
                "label": _plain("Dentally API key"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ACTION_KEY,
                    "min_length": min_length,
                    "max_length": max_length,
                    "placeholder": _plain("Paste the key here"),
                },
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": ":lock: Aldense's team only ever sees the last 4 characters of your key.",
                    }
                ],
            },
        ],
        submit="Check key",
        close="Cancel",
    )
    view["private_metadata"] = key_metadata(channel, owner)
    return view


def checking_view() -> dict[str, Any]:
    """Shown while Dentally is asked about the key."""
    return _modal(
        "Dentally key",
        [
            _section(":hourglass_flowing_sand: *Checking with Dentally…*"),
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": "This usually takes a few seconds. The result also goes to your thread."}
                ],
            },
        ],
    )


def cannot_accept_keys_view() -> dict[str, Any]:
    """Shown instead of the form when the deployment has no encryption keys: a key is never stored in plaintext."""
    return _modal(
        "Dentally key",
        [
            _section(
                ":warning: Aldense can't accept keys just yet — secure storage isn't switched on for this "
                "service. Nothing you type would be kept, so please don't enter your key now. The Aldense team "
                "has been told and will let you know in your thread when it's ready."
            )
        ],
    )


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
