"""Pure readers of Teams activities: who acted, where, on which card, with which button — by ids only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from microsoft_teams.api.activities.message import MessageActivity
from microsoft_teams.api.models import ActivityBase

_MENTION = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class Actor:
    """The person behind an activity: ``id`` is their Entra object id (stable across conversations)."""

    id: str
    account_id: str
    name: str
    tenant: str | None


@dataclass(frozen=True, slots=True)
class Place:
    """Where an activity happened: the conversation (a channel, a group chat or a 1:1 chat) and how to reach it."""

    channel: str
    kind: str
    service_url: str
    tenant: str | None
    channel_type: str | None = None
    channel_name: str | None = None
    team_name: str | None = None
    team_group_id: str | None = None

    @property
    def threaded(self) -> bool:
        """Whether replies go in a thread under a root message (channels) or straight into the chat."""
        return self.kind == "channel"


@dataclass(frozen=True, slots=True)
class CardClick:
    """A button of one of our cards (an ``Action.Submit`` arrives as a message whose ``value`` is its data)."""

    action: str
    owner: str | None
    step: str | None
    message_id: str | None
    data: dict[str, Any]


def base_conversation(conversation_id: str) -> str:
    """A conversation id without its ``;messageid=`` thread suffix."""
    return conversation_id.split(";", 1)[0]


def threaded(channel: str, root: str) -> str:
    """The conversation id that posts into the thread under ``root``."""
    return f"{base_conversation(channel)};messageid={root}"


def actor(activity: ActivityBase) -> Actor:
    """Who sent ``activity``."""
    sender = activity.from_
    return Actor(
        id=sender.aad_object_id or sender.id,
        account_id=sender.id,
        name=(sender.name or "").strip() or "Someone",
        tenant=sender.tenant_id,
    )


def place(activity: ActivityBase) -> Place:
    """Where ``activity`` happened."""
    conversation = activity.conversation
    data = activity.channel_data
    channel_info = data.channel if data else None
    team = data.team if data else None
    tenant = conversation.tenant_id or (data.tenant.id if data and data.tenant else None)
    return Place(
        channel=base_conversation(conversation.id),
        kind=str(conversation.conversation_type or "personal"),
        service_url=(activity.service_url or "").rstrip("/"),
        tenant=tenant,
        channel_type=channel_info.type if channel_info else None,
        channel_name=(channel_info.name if channel_info else None) or conversation.name,
        team_name=team.name if team else None,
        team_group_id=team.aad_group_id if team else None,
    )


def membership_tenant(activity: ActivityBase) -> str | None:
    """The tenant that ``channelData.membershipSource`` names: the member's own, in a shared channel's member event.

    Teams adds ``membershipSource`` (``id``, ``sourceType`` channel or team, ``membershipType`` direct or
    transitive, ``tenantId``, ``teamGroupId``) to member events of shared channels; the SDK keeps it as an extra.
    """
    data = activity.channel_data
    source = (data.model_extra or {}).get("membershipSource") if data else None
    tenant = source.get("tenantId") if isinstance(source, dict) else None
    return tenant if isinstance(tenant, str) and tenant else None


def member_tenant(member: Any) -> str | None:
    """The tenant an entry of ``membersAdded`` names itself, when Teams includes it."""
    tenant = getattr(member, "tenant_id", None) or (getattr(member, "model_extra", None) or {}).get("tenantId")
    return tenant if isinstance(tenant, str) and tenant else None


def card_click(activity: MessageActivity) -> CardClick | None:
    """The button behind a message activity, or None when it is a typed message."""
    value = activity.value
    if not isinstance(value, dict) or not isinstance(value.get("action"), str):
        return None
    owner, step = value.get("owner"), value.get("step")
    return CardClick(
        action=value["action"],
        owner=owner if isinstance(owner, str) and owner else None,
        step=step if isinstance(step, str) and step else None,
        message_id=activity.reply_to_id,
        data=value,
    )


def thread_root(activity: ActivityBase) -> str | None:
    """The id of the root message of the channel thread ``activity`` was sent in (``;messageid=``), or None."""
    _, _, suffix = activity.conversation.id.partition(";messageid=")
    return suffix or None


def mentions_bot(activity: MessageActivity) -> bool:
    """Whether a typed message @-mentions the bot (a ``mention`` entity naming the recipient, or ``<at>`` text)."""
    for entity in activity.entities or []:
        fields = entity.model_dump(by_alias=True) if hasattr(entity, "model_dump") else {}
        mentioned = fields.get("mentioned") or {}
        if (
            fields.get("type") == "mention"
            and isinstance(mentioned, dict)
            and mentioned.get("id") == activity.recipient.id
        ):
            return True
    return bool(_MENTION.search(activity.text or ""))


def words(activity: MessageActivity) -> list[str]:
    """The words of a typed message, lower-cased, without ``<at>…</at>`` mentions."""
    return _MENTION.sub(" ", activity.text or "").lower().split()


def time_zone(activity: ActivityBase) -> str | None:
    """The sender's IANA time zone when Teams says it (``localTimezone``, or a ``clientInfo`` entity)."""
    extra = activity.model_extra or {}
    zone = extra.get("localTimezone")
    if isinstance(zone, str) and zone:
        return zone
    for entity in activity.entities or []:
        fields = entity.model_dump(by_alias=True) if hasattr(entity, "model_dump") else {}
        if fields.get("type") == "clientInfo" and isinstance(fields.get("timezone"), str):
            return str(fields["timezone"])
    return None
