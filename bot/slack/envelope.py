"""A signed Slack body parsed once and its envelope type-checked, so Bolt dispatches only shapes Slack can send.

Bolt's own dispatch code indexes into bodies without type checks (``body["actions"][0]["action_id"]``, ``"id" in
body["user"]``, ``body["event"].get(...)``) and answers a surprising shape with a 500 or an exception. Slack never
sends such bodies, but anyone holding the signing secret can, so the endpoint refuses them with a 400 here first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"

# Fields Bolt reads as "an id string or an object with an id" on every node it walks for ids.
_ID_FIELDS = ("user", "channel", "team", "enterprise")
# Fields Bolt matches listeners on (``==`` or a regex) and builds log lines from, on every node it walks.
_NAME_FIELDS = ("type", "callback_id", "action_id", "block_id", "command")
# Nested nodes Bolt walks recursively when it looks for team, user and channel ids.
_NESTED = ("event", "message", "previous_message", "item", "assistant_thread")
# Slack nests these a level or two deep; anything deeper is not Slack (and would recurse Bolt without bound).
_MAX_DEPTH = 8
_INTERACTIONS = frozenset(
    {
        "block_actions",
        "block_suggestion",
        "view_submission",
        "view_closed",
        "shortcut",
        "message_action",
        "interactive_message",
        "dialog_submission",
        "dialog_cancellation",
        "dialog_suggestion",
    }
)


class EnvelopeError(ValueError):
    """A signed body that cannot be a Slack request; the message names the problem, never the content."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """A checked request: its fields, and the same fields as JSON text (what Bolt is handed)."""

    fields: dict[str, Any]
    json_text: str


def parse(content_type: str, body: bytes) -> Envelope:
    """The fields of a Slack request: an Events API JSON body, an interaction's ``payload``, or a command form.

    Raises:
        EnvelopeError: The body is not UTF-8, not well formed for its content type, or of a shape Slack never sends.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise EnvelopeError("body is not UTF-8") from None
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == JSON_TYPE:
        json_text = text
        fields = _json_object(text, "malformed JSON", "JSON body is not an object")
    elif kind == FORM_TYPE:
        form = parse_qs(text, keep_blank_values=True)
        if any(len(values) > 1 for values in form.values()):
            raise EnvelopeError("a form field is repeated")
        if "payload" in form:
            json_text = form["payload"][0]
            fields = _json_object(json_text, "malformed payload JSON", "payload is not an object")
        elif "command" in form:
            fields = {name: values[0] for name, values in form.items()}
            # Bolt's own form parsing takes any body containing the word "payload" for an interaction.
            json_text = json.dumps(fields)
        else:
            raise EnvelopeError("form body is neither a payload nor a command")
    else:
        raise EnvelopeError("unsupported content type")
    problem = _problem(fields)
    if problem:
        raise EnvelopeError(problem)
    return Envelope(fields, json_text)


def is_ssl_check(content_type: str, body: bytes) -> bool:
    """Whether ``body`` is Slack's certificate check: a form with ``ssl_check=1`` and no payload or command."""
    if content_type.split(";", 1)[0].strip().lower() != FORM_TYPE:
        return False
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return False
    return form.get("ssl_check") == ["1"] and "payload" not in form and "command" not in form


def _json_object(text: str, malformed: str, not_object: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        raise EnvelopeError(malformed) from None
    if not isinstance(parsed, dict):
        raise EnvelopeError(not_object)
    return parsed


def _problem(fields: dict[str, Any]) -> str | None:
    """Why ``fields`` is not a shape Slack sends, or None."""
    nodes: list[tuple[dict[str, Any], str, int]] = [(fields, "body", 0)]
    while nodes:
        node, where, depth = nodes.pop()
        if depth > _MAX_DEPTH:
            return f"{where} is nested too deeply"
        for name in _ID_FIELDS:
            if not isinstance(node.get(name), str | dict | None):
                return f"{where}.{name} is neither an id nor an object"
        for name in _NAME_FIELDS:
            if name in node and not isinstance(node[name], str):
                return f"{where}.{name} is not a string"
        authorizations = node.get("authorizations")
        if authorizations is not None and not _list_of_objects(authorizations):
            return f"{where}.authorizations is not a list of objects"
        if authorizations:
            nodes.append((authorizations[0], f"{where}.authorizations[0]", depth + 1))
        if "event" in node and not isinstance(node["event"], dict):
            return f"{where}.event is not an object"
        nodes.extend((node[name], f"{where}.{name}", depth + 1) for name in _NESTED if isinstance(node.get(name), dict))
    return _interaction_problem(fields) or _command_problem(fields)


def _interaction_problem(fields: dict[str, Any]) -> str | None:
    if fields.get("type") in _INTERACTIONS and not isinstance(fields.get("user"), dict):
        return "an interaction without a user object"
    actions = fields.get("actions")
    if "actions" in fields and not (_list_of_objects(actions) and actions):
        return "actions is not a non-empty list of objects"
    if actions and fields.get("type") == "block_actions" and "action_id" not in actions[0]:
        return "a block action without an action_id"
    for action in actions or ():
        for name in ("action_id", "block_id"):
            if name in action and not isinstance(action[name], str):
                return f"an action's {name} is not a string"
    if "view" in fields:
        view = fields["view"]
        if not isinstance(view, dict):
            return "view is not an object"
        if not isinstance(view.get("type"), str):
            return "view.type is not a string"
        if "callback_id" in view and not isinstance(view["callback_id"], str):
            return "view.callback_id is not a string"
        state = view.get("state")
        if state is not None and not _state_ok(state):
            return "view.state is not {values: {block: {action: object}}}"
    workflow_step = fields.get("type") == "workflow_step_edit" or (
        fields.get("type") == "view_submission" and (fields.get("view") or {}).get("type") == "workflow_step"
    )
    if workflow_step and not isinstance(fields.get("workflow_step"), dict):
        return "a workflow step payload without workflow_step"
    urls = fields.get("response_urls")
    if urls is not None and not _list_of_objects(urls):
        return "response_urls is not a list of objects"
    if "response_url" in fields and not isinstance(fields["response_url"], str):
        return "response_url is not a string"
    return None


def _command_problem(fields: dict[str, Any]) -> str | None:
    if "command" in fields and not isinstance(fields.get("response_url"), str):
        return "a slash command without a response_url"
    return None


def _list_of_objects(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def _state_ok(state: Any) -> bool:
    if not isinstance(state, dict):
        return False
    values = state.get("values", {})
    return isinstance(values, dict) and all(
        isinstance(block, dict) and all(isinstance(action, dict) for action in block.values())
        for block in values.values()
    )
