"""Pure readers of Slack request bodies: who acted, where, on which message — by ids, Slack Connect aware."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_CHANNEL_REF = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$|^([CG][A-Z0-9]{2,})$")
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


class PayloadError(ValueError):
    """A request body that lacks a field the bot needs."""


@dataclass(frozen=True, slots=True)
class Click:
    """A button click in a message."""

    user: str
    user_team: str | None
    channel: str
    message_ts: str
    thread_ts: str | None
    action_id: str
    value: str
    trigger_id: str | None
    response_url: str | None = None  # replaces the clicked message outside chat.update's budget


def _str(body: dict[str, Any], *path: str) -> str | None:
    node: Any = body
    for name in path:
        if not isinstance(node, dict):
            return None
        node = node.get(name)
    return node if isinstance(node, str) and node else None


def to_click(body: dict[str, Any]) -> Click:
    """Read a ``block_actions`` body from a message button.

    Raises:
        PayloadError: A field the bot needs is missing or of the wrong type.
    """
    actions = body.get("actions")
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    user = _str(body, "user", "id")
    channel = _str(body, "channel", "id") or _str(body, "container", "channel_id")
    message_ts = _str(body, "container", "message_ts") or _str(body, "message", "ts")
    action_id = _str(action, "action_id")
    if not (user and channel and message_ts and action_id):
        raise PayloadError("block_actions without user, channel, message or action")
    return Click(
        user=user,
        # Only the clicker's own team: in Slack Connect the top-level ``team`` is the workspace that posted the
        # message (Aldense's, for every message of ours), so falling back to it would make any clinic user staff.
        user_team=_str(body, "user", "team_id"),
        channel=channel,
        message_ts=message_ts,
        thread_ts=_str(body, "container", "thread_ts") or _str(body, "message", "thread_ts"),
        action_id=action_id,
        value=_str(action, "value") or "",
        trigger_id=_str(body, "trigger_id"),
        response_url=_str(body, "response_url"),
    )


def channel_reference(text: str) -> str | None:
    """The channel id in ``<#C123|name>`` (escaped by Slack) or a bare ``C123``; None otherwise."""
    match = _CHANNEL_REF.match(text.strip())
    return (match.group(1) or match.group(2)) if match else None


def mention_words(text: str) -> list[str]:
    """The words of an app mention, lower-cased, without the ``<@U…>`` mentions."""
    return _MENTION.sub(" ", text).lower().split()


# Our own private_metadata is a small flat JSON object; anything longer or deeper is not ours.
_MAX_METADATA = 3000


def metadata_fields(text: object) -> dict[str, str] | None:
    """The string fields of a view's ``private_metadata`` we wrote (a flat JSON object); None for anything else.

    Never raises: a body signed by someone holding the secret may carry any text, nested thousands deep.
    """
    if not isinstance(text, str) or not text or len(text) > _MAX_METADATA:
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    return {name: value for name, value in data.items() if isinstance(value, str)}


def selected_value(values: object, block_id: str, action_id: str) -> str | None:
    """The value of a select's ``selected_option`` in a view's state values; None when absent or misshapen."""
    node: Any = values
    for name in (block_id, action_id, "selected_option"):
        if not isinstance(node, dict):
            return None
        node = node.get(name)
    value = node.get("value") if isinstance(node, dict) else None
    return value if isinstance(value, str) else None


def typed_value(values: object, block_id: str, action_id: str) -> str:
    """The text typed into an input of a view's state values ("" when absent or misshapen)."""
    node: Any = values
    for name in (block_id, action_id):
        if not isinstance(node, dict):
            return ""
        node = node.get(name)
    value = node.get("value") if isinstance(node, dict) else None
    return value if isinstance(value, str) else ""


# Subtypes of ``message`` that are still something a person typed: a reply also sent to the channel, a message
# with a file. Every other subtype (edits, deletions, joins, topic changes, bot messages…) is not listened to.
_TYPED_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})


@dataclass(frozen=True, slots=True)
class Typed:
    """A message a person typed in a channel (``text`` is never logged; ``repr`` leaves it out)."""

    user: str
    user_team: str | None
    channel: str
    ts: str
    thread_ts: str | None
    text: str

    def __repr__(self) -> str:
        return f"Typed({self.user}, {self.channel}, ts={self.ts}, thread_ts={self.thread_ts})"


def to_typed(event: dict[str, Any]) -> Typed | None:
    """A ``message`` event as something a person typed, or None for bots, edits, joins and other subtypes."""
    if event.get("type") != "message" or event.get("subtype") not in _TYPED_SUBTYPES or event.get("bot_id"):
        return None
    user, channel, ts = _str(event, "user"), _str(event, "channel"), _str(event, "ts")
    text = event.get("text")
    if not (user and channel and ts and isinstance(text, str)):
        return None
    thread_ts = _str(event, "thread_ts")
    return Typed(
        user=user,
        # ``user_team`` is the typist's own team in Slack Connect; ``team`` may name the channel's host.
        user_team=_str(event, "user_team") or _str(event, "team"),
        channel=channel,
        ts=ts,
        thread_ts=thread_ts if thread_ts != ts else None,
        text=text,
    )
