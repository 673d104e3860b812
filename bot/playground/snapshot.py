"""What one person would see in Slack right now, as JSON for the playground page (pure reads of the sandbox)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from bot.fakes.slack import Ephemeral, Message, SlackApiSandbox, View, Workspace

JSON = dict[str, Any]

# View fields the page never needs; ``state`` would carry what was typed into the modal (a Dentally key, say),
# and the page keeps its own copy of what is being typed, so it is never sent back to the browser.
_VIEW_FIELDS_WITHHELD = ("state", "private_metadata", "hash", "app_id", "bot_id", "team_id", "app_installed_team_id")


def role(workspace: Workspace, user_id: str) -> str:
    """How the page labels a person: ``app``, ``Aldense staff``, ``clinic admin`` or ``clinic user``.

    Args:
        workspace: The sandbox's world.
        user_id: The person.
    """
    user = workspace.user(user_id)
    if user.is_bot:
        return "app"
    if user.team_id == workspace.installing_team_id:
        return f"{workspace.team.name} staff"
    return "clinic admin" if user.is_admin else "clinic user"


def world(workspace: Workspace) -> JSON:
    """Teams, people and channels, for names, avatars and the persona switcher.

    Args:
        workspace: The sandbox's world.
    """
    users = {
        user.id: {
            "id": user.id,
            "name": user.name,
            "real_name": user.real_name,
            "display_name": user.display_name or user.real_name,
            "team_id": user.team_id,
            "team_name": workspace.teams[user.team_id].name,
            "is_bot": user.is_bot,
            "external": workspace.is_external(user.id),
            "role": role(workspace, user.id),
        }
        for user in workspace.users.values()
    }
    channels = {
        channel.id: {
            "id": channel.id,
            "name": channel.name,
            "is_ext_shared": channel.is_ext_shared,
            "is_private": channel.is_private,
            "team_names": sorted(workspace.teams[team].name for team in {channel.team_id, *channel.connected_team_ids}),
        }
        for channel in workspace.channels.values()
        if not channel.is_im
    }
    return {
        "installing_team_id": workspace.installing_team_id,
        "bot_user_id": workspace.bot_user_id,
        "teams": [asdict(team) for team in workspace.teams.values()],
        "users": users,
        "channels": channels,
    }


def _message(message: Message) -> JSON:
    return {
        "ts": message.ts,
        "user": message.user,
        "text": message.text,
        "blocks": copy.deepcopy(message.blocks),
        "thread_ts": message.thread_ts,
        "edited": bool(message.edits),
        "ephemeral": False,
        "broadcast": message.reply_broadcast,
        "replies": [],
    }


def _ephemeral(ephemeral: Ephemeral, bot_user_id: str) -> JSON:
    return {
        "ts": ephemeral.ts,
        "user": bot_user_id,
        "text": ephemeral.text,
        "blocks": copy.deepcopy(ephemeral.blocks),
        "thread_ts": ephemeral.thread_ts,
        "edited": False,
        "ephemeral": True,
        "broadcast": False,
        "replies": [],
    }


def channel_view(api: SlackApiSandbox, channel_id: str, viewer: str) -> JSON:
    """A channel as ``viewer`` sees it: top-level messages oldest first, each with its thread replies.

    Ephemeral messages shown to ``viewer`` sit among the others by time, in their thread when they have one.
    A person who is not a member sees nothing of the channel (``can_see`` is false).

    Args:
        api: The Slack sandbox.
        channel_id: The channel.
        viewer: The person looking.
    """
    workspace = api.workspace
    channel = workspace.channel(channel_id)
    if viewer not in channel.members:
        return {"id": channel.id, "can_see": False, "messages": []}
    top: list[JSON] = []
    parents: dict[str, JSON] = {}
    for message in api.messages(channel.id):
        entry = _message(message)
        top.append(entry)
        if not message.is_reply:
            parents[message.ts] = entry
    for message in api.messages(channel.id, include_replies=True):
        if not message.is_reply or (message.reply_broadcast and message.thread_ts not in parents):
            continue
        parent = parents.get(message.thread_ts or "")
        # Slack keeps a reply whose parent is gone (or never existed here, as after a restart with --state);
        # show it in the channel rather than lose it.
        (parent["replies"] if parent is not None else top).append(_message(message))
    for ephemeral in api.ephemeral(viewer, channel.id):
        entry = _ephemeral(ephemeral, workspace.bot_user_id)
        parent = parents.get(ephemeral.thread_ts or "")
        (parent["replies"] if parent is not None else top).append(entry)
    top.sort(key=lambda m: float(m["ts"]))
    for entry in top:
        entry["replies"].sort(key=lambda m: float(m["ts"]))
    return {"id": channel.id, "can_see": True, "messages": top}


def view_json(view: View) -> JSON:
    """A modal or App Home as the page renders it: what the app sent, the ids and inline errors, never the state.

    Args:
        view: The sandbox's view.
    """
    data = view.to_slack()
    for key in _VIEW_FIELDS_WITHHELD:
        data.pop(key, None)
    # The page re-renders a view only when its revision changes, so typing is never overwritten by a refresh.
    data["revision"] = f"{view.id}:{len(view.history)}"
    data["errors"] = dict(view.errors)
    return data


def snapshot(api: SlackApiSandbox, viewer: str, channels: Sequence[str]) -> JSON:
    """Everything the page shows for ``viewer``: the channels, the modal on top of their stack and their App Home.

    Args:
        api: The Slack sandbox.
        viewer: The person the page acts as.
        channels: The channels shown side by side.
    """
    stack = api.modal_stack(viewer)
    home = api.home(viewer)
    return {
        "version": api.version,
        "viewer": viewer,
        "channels": [channel_view(api, channel, viewer) for channel in channels],
        "modal": view_json(stack[-1]) | {"depth": len(stack)} if stack else None,
        "home": view_json(home) if home else None,
    }
