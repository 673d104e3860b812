"""Plays Teams users against the bot: builds real activity JSON and posts it to ``/api/messages``.

A ``TeamsWorld`` is Aldense's tenant with an internal channel and a channel shared with one clinic of another tenant.

Activities have the shapes Microsoft's recorded ones have (microsoft/teams.net's recorded channel message, the Teams
docs' member events), not more: a channel message names only the channel and team ids, never the channel's name or
type, and ``from`` carries no tenant. Where the real shape is uncertain the driver can send each plausible variant:
an install event as the docs show it (the channel's name, no type), with its type, or with ids only; a shared
channel's join as ``channelMemberAdded`` (direct or transitive, with ``membershipSource``; possibly twice) or as
``teamMemberAdded``.

Buttons are pressed the way Teams does: an ``Action.Submit`` becomes a message whose ``value`` is the button's data
(``replyToId`` names the card), one with ``msteams.type: task/fetch`` becomes a ``task/fetch`` invoke, and a dialog's
submit button becomes ``task/submit`` with the inputs merged into its data.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from bot.fakes.teams.connector import Member, Sent, TeamsConnector

T = TypeVar("T")

BOT_ACCOUNT = "28:aldense-guide-bot"
TEAM_ID = "19:team-aldense-clinics@thread.tacv2"
CLINIC_TEAM_ID = "19:team-maple-leaf-staff@thread.tacv2"


@dataclass(frozen=True, slots=True)
class Conversation:
    """A Teams conversation: a channel (shared or not) or a 1:1 chat."""

    id: str
    kind: str
    tenant_id: str
    name: str
    channel_type: str | None = None
    team_name: str | None = None
    team_group_id: str | None = None


@dataclass
class TeamsWorld:
    """Aldense's tenant, a clinic's tenant, their people and the conversations the bot is in."""

    aldense_tenant: str = "5d0b7c1e-0000-4000-8000-a1de05e00000"
    clinic_tenant: str = "c11e1c00-0000-4000-8000-000000c11e1c"
    people: dict[str, Member] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, name, tenant in (
            ("admin", "Jane Admin", self.clinic_tenant),
            ("nurse", "Nora Nurse", self.clinic_tenant),
            ("staff", "Sam Support", self.aldense_tenant),
            ("newcomer", "Neil Newcomer", self.clinic_tenant),
        ):
            aad = str(uuid.uuid5(uuid.NAMESPACE_URL, f"aldense-sandbox/{key}"))
            self.people.setdefault(key, Member(f"29:1{key}-{aad[:8]}", aad, name, tenant))
        group = str(uuid.uuid5(uuid.NAMESPACE_URL, "aldense-sandbox/team"))
        self.shared = Conversation(
            "19:maple-leaf-shared@thread.tacv2", "channel", self.aldense_tenant, "maple-leaf-dental", "shared",
            "Aldense clinics", group,
        )  # fmt: skip
        self.internal = Conversation(
            "19:aldense-onboarding@thread.tacv2", "channel", self.aldense_tenant, "onboarding", "standard",
            "Aldense", group,
        )  # fmt: skip

    def member(self, key: str) -> Member:
        """A person by their short name (``admin``, ``nurse``, ``staff``, ``newcomer``)."""
        return self.people[key]

    def chat_with(self, key: str) -> Conversation:
        """The 1:1 chat between the bot and a person."""
        member = self.people[key]
        return Conversation(f"a:1chat-{member.aad_object_id}", "personal", member.tenant_id, member.name)

    def roster(self) -> list[Member]:
        """Everyone the connector can describe."""
        return list(self.people.values())


class TeamsDriver:
    """Sends activities as Teams would and reads what the bot sent back through the connector."""

    def __init__(self, bot_url: str, connector: TeamsConnector, world: TeamsWorld, http: httpx.AsyncClient) -> None:
        self.bot_url = bot_url.rstrip("/")
        self.connector = connector
        self.world = world
        self.http = http
        self._ids = itertools.count(1)

    # Activities ---------------------------------------------------------------------------------------------------

    def activity(
        self, kind: str, who: str, where: Conversation, thread: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """A Teams activity of ``kind`` from person ``who`` in ``where`` (in the thread under ``thread``)."""
        member = self.world.member(who)
        conversation_id = f"{where.id};messageid={thread}" if thread and where.kind == "channel" else where.id
        activity: dict[str, Any] = {
            "type": kind,
            "id": f"f:{next(self._ids)}",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "localTimestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime()),
            "localTimezone": "Europe/London",
            "serviceUrl": self.connector.url + "/",
            "channelId": "msteams",
            "from": {"id": member.account_id, "aadObjectId": member.aad_object_id, "name": member.name},
            "conversation": {
                "id": conversation_id,
                "conversationType": where.kind,
                "tenantId": where.tenant_id,
                "isGroup": where.kind != "personal",
            },
            "recipient": {"id": BOT_ACCOUNT, "name": "Aldense Guide"},
            "channelData": {"tenant": {"id": where.tenant_id}},
            "locale": "en-GB",
        }
        if where.kind == "channel":
            # As recorded: the channel and team by id only (no name, no type), in both forms Teams sends them.
            activity["channelData"].update(
                {
                    "teamsChannelId": where.id,
                    "teamsTeamId": TEAM_ID,
                    "channel": {"id": where.id},
                    "team": {"id": TEAM_ID},
                }
            )
        activity.update(fields)
        return activity

    async def post(self, activity: dict[str, Any]) -> httpx.Response:
        """Deliver ``activity`` to the bot's messaging endpoint."""
        return await self.http.post(f"{self.bot_url}/api/messages", json=activity)

    async def say(
        self, who: str, where: Conversation, text: str, mention: bool = True, thread: str | None = None
    ) -> httpx.Response:
        """``who`` types ``text`` (in the thread under ``thread`` when given).

        With ``mention`` the bot is @-mentioned, as Teams sends it: ``<at>…</at>`` in the text and a ``mention``
        entity naming the bot. Without it, a channel message reaches the bot only because the app holds the
        ``ChannelMessage.Read.Group`` permission.
        """
        shown = f"<at>Aldense Guide</at> {text}" if mention else text
        fields: dict[str, Any] = {"text": shown, "textFormat": "plain"}
        if mention:
            fields["entities"] = [
                {
                    "type": "mention",
                    "text": "<at>Aldense Guide</at>",
                    "mentioned": {"id": BOT_ACCOUNT, "name": "Aldense Guide"},
                }
            ]
        return await self.post(self.activity("message", who, where, thread=thread, **fields))

    async def install(self, where: Conversation, shape: str = "recorded") -> httpx.Response:
        """The bot is added to ``where``: a ``conversationUpdate`` whose ``membersAdded`` is the bot itself.

        ``shape``: ``recorded`` as in the Teams docs' "bot added to a team" payload (the channel's name as
        ``conversation.name``, the team's id, name and group id, ``settings.selectedChannel``, no channel type);
        ``typed`` adds ``channelData.channel`` with the channel's type (the SDK models it; whether Teams sends it on
        install is not known); ``bare`` names nothing but ids.
        """
        activity = self.activity("conversationUpdate", "staff", where)
        activity["membersAdded"] = [{"id": BOT_ACCOUNT}]
        if where.kind == "channel":
            shared = where.channel_type == "shared"
            activity["channelData"]["eventType"] = "channelMemberAdded" if shared else "teamMemberAdded"
            if shape != "bare":
                activity["conversation"]["name"] = where.name
                activity["channelData"]["settings"] = {"selectedChannel": {"id": where.id}}
                activity["channelData"]["team"] = {
                    "id": TEAM_ID,
                    "name": where.team_name,
                    "aadGroupId": where.team_group_id,
                }
                del activity["channelData"]["channel"]
            if shape == "typed":
                activity["channelData"]["channel"] = {"id": where.id, "name": where.name, "type": where.channel_type}
        return await self.post(activity)

    async def join(
        self, who: str, where: Conversation, event: str = "channelMemberAdded", via: str = "direct"
    ) -> httpx.Response:
        """``who`` is added to ``where`` (a ``conversationUpdate`` with ``membersAdded``).

        Args:
            who: The person who joins.
            where: The channel.
            event: ``channelMemberAdded`` (a shared channel's member event, with ``membershipSource``) or
                ``teamMemberAdded`` (no ``membershipSource``: the bot must ask the connector for the tenant).
            via: ``direct`` (added to the channel) or ``transitive`` (through a team the channel is shared with).
        """
        member = self.world.member(who)
        activity = self.activity("conversationUpdate", "staff", where)
        activity["membersAdded"] = [{"id": member.account_id, "aadObjectId": member.aad_object_id}]
        activity["channelData"]["eventType"] = event
        if event == "channelMemberAdded":
            team = via == "transitive"
            activity["channelData"]["membershipSource"] = {
                "id": (CLINIC_TEAM_ID if member.tenant_id != self.world.aldense_tenant else TEAM_ID)
                if team
                else where.id,
                "sourceType": "team" if team else "channel",
                "membershipType": via,
                "tenantId": member.tenant_id,
                "teamGroupId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"aldense-sandbox/team/{member.tenant_id}")),
            }
        return await self.post(activity)

    # Buttons ------------------------------------------------------------------------------------------------------

    async def click(self, who: str, where: Conversation, message: Sent, title: str) -> httpx.Response:
        """Press the button ``title`` on ``message``: a card submit, or a ``task/fetch`` for a dialog button."""
        action = message.action(title)
        if action is None:
            raise AssertionError(f"no button {title!r} on the message; it has {message.titles}")
        data = dict(action.get("data") or {})
        thread = message.thread or (message.id if where.kind == "channel" else None)
        if (data.get("msteams") or {}).get("type") == "task/fetch":
            invoke = self.activity("invoke", who, where, thread, name="task/fetch", value={"data": data})
            return await self.post(invoke)
        submit = self.activity("message", who, where, thread, value=data, replyToId=message.id, text="")
        return await self.post(submit)

    async def submit_dialog(
        self, who: str, where: Conversation, dialog: dict[str, Any], inputs: dict[str, str], thread: str | None = None
    ) -> httpx.Response:
        """Fill a dialog's inputs and press its submit button (``task/submit``)."""
        card = dialog_card(dialog)
        actions = [a for a in card.get("actions") or [] if a.get("type") == "Action.Submit"]
        if not actions:
            raise AssertionError("the dialog has no submit button")
        data = {**(actions[0].get("data") or {}), **inputs}
        invoke = self.activity("invoke", who, where, thread, name="task/submit", value={"data": data})
        return await self.post(invoke)

    # Reading ------------------------------------------------------------------------------------------------------

    def in_conversation(self, where: Conversation) -> list[Sent]:
        """Everything the bot posted in ``where``, oldest first."""
        return self.connector.messages(where.id)

    async def wait_for(self, found: Callable[[], T | None], timeout: float = 10.0) -> T:  # noqa: ASYNC109
        """Poll ``found`` until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while True:
            value = found()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for the bot")
            await asyncio.sleep(0.01)


def dialog_card(response: dict[str, Any]) -> dict[str, Any]:
    """The Adaptive Card a ``task/fetch`` or ``task/submit`` response shows in the dialog."""
    task = response.get("task") or {}
    if task.get("type") != "continue":
        raise AssertionError(f"the dialog did not continue: {task.get('type')!r}")
    return dict(task["value"]["card"]["content"])
