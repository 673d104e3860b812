"""Teams as support and timed work see it (a ``ClinicPlatform``): names, deep links, reminders and notices."""

from __future__ import annotations

import json
import logging
from datetime import tzinfo
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from bot.teams import cards
from bot.teams.activities import Place
from bot.teams.messenger import TeamsMessenger, UnknownConversation
from bot.teams.presenter import TeamsPresenter
from conversations.conversation import Conversation
from conversations.outbox import OutboxBatch
from conversations.service import Outcome
from conversations.store import StoreUnavailable

logger = logging.getLogger(__name__)

PLATFORM = "teams"
DEEP_LINK_BASE = "https://teams.microsoft.com/l/message"


def thread_link(place: Place, message_id: str) -> str:
    """A Teams deep link to a message: a channel thread (with tenant and team) or a message in a chat."""
    path = f"{DEEP_LINK_BASE}/{quote(place.channel, safe='')}/{quote(message_id, safe='')}"
    if place.kind == "channel":
        query = {"tenantId": place.tenant, "groupId": place.team_group_id, "parentMessageId": message_id}
        if place.team_name:
            query["teamName"] = place.team_name
        if place.channel_name:
            query["channelName"] = place.channel_name
    else:
        query = {"context": json.dumps({"contextType": "chat"}, separators=(",", ":"))}
    return f"{path}?{urlencode({key: value for key, value in query.items() if value})}"


class TeamsPlatform:
    """Registered with the support reporter so Teams clinics are reported on and reached like Slack's."""

    name = PLATFORM

    def __init__(self, messenger: TeamsMessenger, presenter: TeamsPresenter) -> None:
        self._messenger = messenger
        self._presenter = presenter

    async def person(self, user: str) -> str:
        """The user's Teams display name, in bold, for Slack text."""
        return f"*{_slack_safe(await self._messenger.directory.name(user))}*"

    async def channel_name(self, channel: str) -> str | None:
        """The channel's (or chat's) name as Teams gave it."""
        place = await self._messenger.directory.place(channel)
        return place.channel_name if place else None

    async def thread_link(self, conversation: Conversation) -> str | None:
        """A deep link to the user's guide thread (or the opener in a chat)."""
        place = await self._messenger.directory.place(conversation.channel)
        if place is None or not conversation.thread_ref:
            return None
        return thread_link(place, conversation.thread_ref)

    async def carry_out(self, outcome: Outcome) -> None:
        """Carry out a guide's effects in Teams."""
        await self._presenter.carry_out(outcome)

    async def recover(self, state: Conversation, batch: OutboxBatch) -> None:
        """Finish an outbox batch left behind."""
        await self._presenter.recover(state, batch)

    async def time_zone(self, user: str) -> tzinfo | None:
        """The time zone Teams last reported for the user."""
        try:
            person = await self._messenger.directory.person(user)
        except StoreUnavailable:
            return None
        if person is None or not person.time_zone:
            return None
        try:
            return ZoneInfo(person.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            return None

    async def tell_new_key_needed(self, channel: str, fingerprint: str) -> None:
        """Tell the clinic's conversation that Dentally no longer accepts its key."""
        try:
            await self._messenger.post(channel, cards.new_key_needed(fingerprint))
        except (httpx.HTTPError, UnknownConversation) as exc:
            logger.warning("could not tell a Teams clinic about its dead key: %s", type(exc).__name__)


def _slack_safe(name: str) -> str:
    """A display name that cannot form Slack markup (mentions, links, bold) inside our text."""
    return name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("*", "")
