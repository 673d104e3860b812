"""Pure builders of the request bodies Slack sends an app: interactions, commands, events, and their signatures.

Shapes follow what Slack sends in a Slack Connect channel (checked against Slack's recorded samples): in a click on a
message, ``team`` is the workspace that posted the message and only ``user.team_id`` is the clicker's own team; in a
view submission ``team`` is the submitter's team, while ``view.app_installed_team_id`` and each event's
``authorizations`` name the installing team.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

from slack_sdk.signature import SignatureVerifier

from bot.fakes.slack.workspace import Channel, User, Workspace

JSON = dict[str, Any]
FORM = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"

_TEXT_INPUTS = {"plain_text_input", "email_text_input", "url_text_input", "number_input"}
_ONE_OPTION = {"static_select", "external_select", "radio_buttons", "overflow"}
_MANY_OPTIONS = {"checkboxes", "multi_static_select", "multi_external_select"}
# element type -> (state key, initial key) for pickers whose value is an id, a date or a list of ids
_PICKERS = {
    "users_select": ("selected_user", "initial_user"),
    "conversations_select": ("selected_conversation", "initial_conversation"),
    "channels_select": ("selected_channel", "initial_channel"),
    "multi_users_select": ("selected_users", "initial_users"),
    "multi_conversations_select": ("selected_conversations", "initial_conversations"),
    "multi_channels_select": ("selected_channels", "initial_channels"),
    "datepicker": ("selected_date", "initial_date"),
    "timepicker": ("selected_time", "initial_time"),
}
_STATEFUL = _TEXT_INPUTS | _ONE_OPTION | _MANY_OPTIONS | set(_PICKERS)
_PLAIN_ACTIONS = {"button", "workflow_button"}


# --- finding things in blocks ----------------------------------------------------------------------------------


def iter_elements(blocks: list[JSON]) -> Iterator[tuple[JSON, JSON]]:
    """Yield ``(block, element)`` for every interactive element: actions elements, accessories, input elements."""
    for block in blocks:
        if block.get("type") == "actions":
            for element in block.get("elements", []):
                yield block, element
        for key in ("accessory", "element"):
            if isinstance(block.get(key), dict):
                yield block, block[key]


def find_action(blocks: list[JSON], action_id: str) -> tuple[str, JSON] | None:
    """Return ``(block_id, element)`` of the element with ``action_id``, or ``None``."""
    for block, element in iter_elements(blocks):
        if element.get("action_id") == action_id:
            return str(block.get("block_id", "")), element
    return None


def action_ids(blocks: list[JSON]) -> list[str]:
    """Every ``action_id`` in the blocks, in order (for helpful error messages)."""
    return [str(e.get("action_id")) for _, e in iter_elements(blocks)]


def _options(element: JSON) -> list[JSON]:
    found = list(element.get("options", []))
    for group in element.get("option_groups", []):
        found += group.get("options", [])
    return found


def _option(element: JSON, value: str) -> JSON:
    if element.get("type", "").endswith("external_select"):
        return {"text": {"type": "plain_text", "text": value}, "value": value}
    for option in _options(element):
        if option.get("value") == value:
            return dict(option)
    offered = [o.get("value") for o in _options(element)]
    raise ValueError(f"{value!r} is not an option of {element.get('action_id')!r}; options are {offered}")


def element_state(element: JSON, value: Any = None) -> JSON:
    """The ``state.values`` entry Slack reports for an element: what was typed or picked, else its initial value.

    Args:
        element: The element as rendered.
        value: Typed text, an option's ``value`` (or a list of them), an id, a date; ``None`` keeps the initial one.

    Raises:
        ValueError: if ``value`` is not one of the element's options.
    """
    kind = str(element.get("type"))
    if kind in _TEXT_INPUTS:
        return {"type": kind, "value": value if value is not None else element.get("initial_value")}
    if kind in _ONE_OPTION:
        option = _option(element, value) if value is not None else element.get("initial_option")
        return {"type": kind, "selected_option": option}
    if kind in _MANY_OPTIONS:
        options = [_option(element, v) for v in value] if value is not None else element.get("initial_options", [])
        return {"type": kind, "selected_options": options}
    if kind in _PICKERS:
        key, initial = _PICKERS[kind]
        return {"type": kind, key: value if value is not None else element.get(initial)}
    return {"type": kind, "value": value}


def state_values(blocks: list[JSON], current: Mapping[str, Any], values: Mapping[str, Any]) -> JSON:
    """Build a view's ``state.values`` the way Slack reports it on submission.

    Args:
        blocks: The view's blocks.
        current: The state recorded so far (what the user already typed), ``{block_id: {action_id: state}}``.
        values: New input, ``{block_id: {action_id: value}}``; for a block with one element ``{block_id: value}``.

    Returns:
        ``{block_id: {action_id: state}}`` for every stateful element.

    Raises:
        KeyError: if ``values`` names a block or action the view does not have.
    """
    result: JSON = {}
    known: dict[str, set[str]] = {}
    for block, element in iter_elements(blocks):
        kind = element.get("type")
        if kind not in _STATEFUL or (kind == "overflow" and block.get("type") != "input"):
            continue
        block_id, action_id = str(block.get("block_id")), str(element.get("action_id"))
        known.setdefault(block_id, set()).add(action_id)
        given = values.get(block_id)
        if isinstance(given, Mapping) and action_id in given:
            state = element_state(element, given[action_id])
        elif given is not None and not isinstance(given, Mapping):
            state = element_state(element, given)
        elif action_id in current.get(block_id, {}):
            state = dict(current[block_id][action_id])
        else:
            state = element_state(element)
        result.setdefault(block_id, {})[action_id] = state
    for block_id, given in values.items():
        wanted = set(given) if isinstance(given, Mapping) else set()
        if block_id not in known or not wanted <= known[block_id]:
            raise KeyError(f"the view has no input {block_id}/{sorted(wanted)}; it has {known}")
    return result


def action_item(element: JSON, block_id: str, action_ts: str, value: Any = None) -> JSON:
    """The ``actions[0]`` entry of a ``block_actions`` payload for one element.

    Args:
        element: The clicked or changed element.
        block_id: Its block.
        action_ts: When it happened, Slack ``ts`` format.
        value: For selects, radios, overflows and pickers: the chosen option value (or id, date…).
    """
    kind = str(element.get("type"))
    item: JSON = {"action_id": element.get("action_id"), "block_id": block_id, "type": kind}
    if kind in _PLAIN_ACTIONS:
        item |= {k: element[k] for k in ("text", "value", "style", "url") if k in element}
    else:
        item |= {k: v for k, v in element_state(element, value).items() if k != "type"}
        if "placeholder" in element:
            item["placeholder"] = element["placeholder"]
    item["action_ts"] = action_ts
    return item


# --- interactivity ---------------------------------------------------------------------------------------------


def user_ref(user: User) -> JSON:
    """The ``user`` object of an interaction payload."""
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": user.team_id}


def _interaction(workspace: Workspace, kind: str, user: User, team_id: str | None = None) -> JSON:
    team = workspace.teams[team_id or user.team_id]
    enterprise = {"id": team.enterprise_id, "name": team.enterprise_id} if team.enterprise_id else None
    return {
        "type": kind,
        "user": user_ref(user),
        "api_app_id": workspace.app_id,
        "token": workspace.verification_token,
        "team": {"id": team.id, "domain": team.domain},
        "enterprise": enterprise,
        "is_enterprise_install": False,
    }


def block_actions(
    workspace: Workspace,
    *,
    user: User,
    channel: Channel,
    message_ts: str,
    action: JSON,
    trigger_id: str,
    response_url: str,
    message: JSON | None = None,
    thread_ts: str | None = None,
    state: JSON | None = None,
    posted_by: str | None = None,
) -> JSON:
    """A ``block_actions`` payload for an element in a message.

    ``team`` is the workspace that posted the message (``posted_by``, the installing team by default), not the
    clicker's: an external clicker's team is only in ``user.team_id`` (java-slack-sdk#1041, bolt-js#1614).

    Args:
        workspace: The world.
        user: Who clicked.
        channel: Where the message is.
        message_ts: The message's ts.
        action: The entry from :func:`action_item`.
        trigger_id: A trigger the api sandbox issued.
        response_url: A response_url the api sandbox issued.
        message: The message as Slack holds it; ``None`` for an ephemeral message (Slack sends no copy then).
        thread_ts: The thread the message is in, if it is a reply.
        state: ``state.values`` of inputs in the message.
        posted_by: The team of whoever posted the message.
    """
    container: JSON = {"type": "message", "message_ts": message_ts, "channel_id": channel.id}
    container["is_ephemeral"] = message is None
    if thread_ts:
        container["thread_ts"] = thread_ts
    payload = _interaction(workspace, "block_actions", user, posted_by or workspace.installing_team_id)
    payload |= {
        "container": container,
        "trigger_id": trigger_id,
        "channel": {"id": channel.id, "name": channel.name},
        "state": {"values": state or {}},
        "response_url": response_url,
        "actions": [action],
    }
    if message is not None:
        payload["message"] = message
    return payload


def view_block_actions(workspace: Workspace, *, user: User, view: JSON, action: JSON, trigger_id: str) -> JSON:
    """A ``block_actions`` payload for an element in a modal or App Home (no response_url, the view instead)."""
    payload = _interaction(workspace, "block_actions", user)
    payload |= {
        "container": {"type": "view", "view_id": view["id"]},
        "trigger_id": trigger_id,
        "view": view,
        "actions": [action],
    }
    return payload


def view_submission(
    workspace: Workspace, *, user: User, view: JSON, trigger_id: str, response_urls: list[JSON] | None = None
) -> JSON:
    """A ``view_submission`` payload; ``view`` (with ``state.values``) comes from the api sandbox."""
    payload = _interaction(workspace, "view_submission", user)
    payload |= {"trigger_id": trigger_id, "view": view, "response_urls": response_urls or []}
    return payload


def view_closed(workspace: Workspace, *, user: User, view: JSON, is_cleared: bool = False) -> JSON:
    """A ``view_closed`` payload (sent only for views with ``notify_on_close``)."""
    payload = _interaction(workspace, "view_closed", user)
    payload |= {"view": view, "is_cleared": is_cleared}
    return payload


def interactivity_body(payload: JSON) -> tuple[bytes, str]:
    """Encode an interaction the way Slack posts it: a form with one field, ``payload=<json>``."""
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode(), FORM


# --- slash commands --------------------------------------------------------------------------------------------

# Names may hold dots (jane.doe) but a sentence's full stop after a name is not part of it.
_CHANNEL_REF = re.compile(r"(?<![<\w])#([\w-]+(?:\.[\w-]+)*)")
_USER_REF = re.compile(r"(?<![<\w])@([\w-]+(?:\.[\w-]+)*)")


def escape_command_text(workspace: Workspace, text: str) -> str:
    """Escape ``#channel`` and ``@user`` references as Slack does for commands with ``should_escape: true``.

    ``#maple-leaf-dental`` or ``#C0CLINIC`` becomes ``<#C0CLINIC|maple-leaf-dental>``; ``@jane.doe`` or ``@U0ADMIN``
    becomes ``<@U0ADMIN|jane.doe>``. Unknown names are left as typed, as Slack leaves them.
    """

    def channel(match: re.Match[str]) -> str:
        found = workspace.find_channel(match.group(1))
        return f"<#{found.id}|{found.name}>" if found else match.group(0)

    def user(match: re.Match[str]) -> str:
        key = match.group(1)
        found = workspace.users.get(key) or next((u for u in workspace.users.values() if u.name == key), None)
        return f"<@{found.id}|{found.name}>" if found else match.group(0)

    return _USER_REF.sub(user, _CHANNEL_REF.sub(channel, text))


def slash_command(
    workspace: Workspace,
    *,
    user: User,
    channel: Channel,
    command: str,
    text: str,
    response_url: str,
    trigger_id: str,
) -> dict[str, str]:
    """The form fields of a slash command invocation (text already escaped if the command escapes)."""
    team = workspace.teams[user.team_id]
    fields = {
        "token": workspace.verification_token,
        "team_id": team.id,
        "team_domain": team.domain,
        "channel_id": channel.id,
        "channel_name": "directmessage" if channel.is_im else channel.name,
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": workspace.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }
    if team.enterprise_id:
        fields["enterprise_id"] = team.enterprise_id
    return fields


def command_body(fields: Mapping[str, str]) -> tuple[bytes, str]:
    """Encode a slash command as Slack posts it (a plain form)."""
    return urllib.parse.urlencode(fields).encode(), FORM


# --- events ----------------------------------------------------------------------------------------------------


def _channel_type(channel: Channel) -> str:
    return "im" if channel.is_im else "group" if channel.is_private else "channel"


def message_event(
    *, user: User, channel: Channel, text: str, ts: str, thread_ts: str | None = None, mention: bool = False
) -> JSON:
    """A ``message`` event (or ``app_mention`` with ``mention=True``) for something a person typed."""
    event: JSON = {
        "type": "app_mention" if mention else "message",
        "user": user.id,
        "text": text,
        "ts": ts,
        "team": user.team_id,
        "user_team": user.team_id,
        "source_team": user.team_id,
        "channel": channel.id,
        "event_ts": ts,
        "client_msg_id": f"sandbox-{ts}",
    }
    if not mention:
        event["channel_type"] = _channel_type(channel)
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def message_changed_event(*, user: User, channel: Channel, ts: str, old_text: str, new_text: str, edit_ts: str) -> JSON:
    """The ``message`` event Slack sends when a person edits a message (subtype ``message_changed``, no ``user``)."""
    return {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": channel.id,
        "channel_type": _channel_type(channel),
        "ts": edit_ts,
        "event_ts": edit_ts,
        "message": {
            "type": "message",
            "user": user.id,
            "team": user.team_id,
            "text": new_text,
            "ts": ts,
            "edited": {"user": user.id, "ts": edit_ts},
        },
        "previous_message": {"type": "message", "user": user.id, "team": user.team_id, "text": old_text, "ts": ts},
    }


def bot_message_event(
    *, bot: User, app_id: str, channel: Channel, text: str, ts: str, thread_ts: str | None = None
) -> JSON:
    """The ``message`` event for a message an app posted (Slack echoes the bot's own posts: ``bot_id`` set)."""
    event: JSON = {
        "type": "message",
        "user": bot.id,
        "bot_id": bot.bot_id,
        "app_id": app_id,
        "bot_profile": {"id": bot.bot_id, "app_id": app_id, "name": bot.real_name, "team_id": bot.team_id},
        "text": text,
        "ts": ts,
        "team": bot.team_id,
        "channel": channel.id,
        "channel_type": _channel_type(channel),
        "event_ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def channel_join_event(*, user: User, channel: Channel, ts: str) -> JSON:
    """The ``message`` event of subtype ``channel_join`` posted when someone joins a channel."""
    return {
        "type": "message",
        "subtype": "channel_join",
        "user": user.id,
        "text": f"<@{user.id}> has joined the channel",
        "ts": ts,
        "channel": channel.id,
        "channel_type": _channel_type(channel),
        "event_ts": ts,
    }


def member_joined_channel_event(*, user: User, channel: Channel, event_ts: str, inviter: str | None = None) -> JSON:
    """A ``member_joined_channel`` event."""
    event: JSON = {
        "type": "member_joined_channel",
        "user": user.id,
        "channel": channel.id,
        "channel_type": "G" if channel.is_private else "C",
        "team": user.team_id,
        "event_ts": event_ts,
    }
    if inviter:
        event["inviter"] = inviter
    return event


def app_home_opened_event(*, user: User, channel: Channel, event_ts: str, view: JSON | None = None) -> JSON:
    """An ``app_home_opened`` event for the Home tab; ``view`` is the published view, if there is one."""
    event: JSON = {"type": "app_home_opened", "user": user.id, "channel": channel.id, "tab": "home"}
    event["event_ts"] = event_ts
    if view is not None:
        event["view"] = view
    return event


def event_callback(
    workspace: Workspace,
    event: JSON,
    *,
    event_id: str,
    event_time: int,
    channel: Channel | None = None,
    actor_team_id: str | None = None,
) -> JSON:
    """Wrap an event in the Events API envelope.

    In a Slack Connect channel the top-level ``team_id`` is the actor's team (the hard case for an app);
    ``authorizations`` and ``context_team_id`` always name the installing team.

    Args:
        workspace: The world.
        event: The inner event.
        event_id: Unique per event; Slack keeps it when it retries.
        event_time: Unix seconds.
        channel: The channel the event happened in, if any.
        actor_team_id: The team of whoever caused the event.
    """
    shared = channel is not None and channel.is_ext_shared
    installing = workspace.installing_team_id
    return {
        "token": workspace.verification_token,
        "team_id": actor_team_id if shared and actor_team_id else installing,
        "context_team_id": installing,
        "context_enterprise_id": None,
        "api_app_id": workspace.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": installing,
                "user_id": workspace.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": shared,
        "event_context": f"4-sandbox-{event_id}",
    }


def url_verification(workspace: Workspace, challenge: str) -> JSON:
    """The ``url_verification`` handshake Slack sends when the request URL is saved."""
    return {"token": workspace.verification_token, "challenge": challenge, "type": "url_verification"}


def json_body(payload: JSON) -> tuple[bytes, str]:
    """Encode an Events API body (JSON)."""
    return json.dumps(payload).encode(), JSON_TYPE


def retry_headers(retry_num: int, reason: str = "http_timeout") -> dict[str, str]:
    """The headers Slack adds when it re-sends an event it thinks was not delivered."""
    return {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": reason}


# --- signing ---------------------------------------------------------------------------------------------------


def signature_headers(body: bytes, signing_secret: str, timestamp: int) -> dict[str, str]:
    """Sign a body as Slack does (v0 HMAC-SHA256 over ``v0:<timestamp>:<body>``).

    Args:
        body: The exact bytes to be posted.
        signing_secret: The app's signing secret (pass a wrong one to forge).
        timestamp: Unix seconds; an old one makes a stale request.
    """
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=str(timestamp), body=body.decode())
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": str(signature)}
