"""Teams as the core sees it (a ``ChatPlatform``): cards posted and edited in place, targeted notes, support's facts."""

from __future__ import annotations

import json
import logging
from datetime import tzinfo
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from bot.core.copy import inert
from bot.core.messages import Outgoing, Reminder, StepMessage, ThreadOpener
from bot.core.platform import CannotLook, Failure
from bot.teams.activities import Place
from bot.teams.limits import RETRY_STATUSES
from bot.teams.messenger import Message, TeamsMessenger, UnknownConversation
from bot.teams.render import LABEL, PictureUrl, people_in, render
from conversations.conversation import Conversation
from conversations.guide import Guide
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
    """The core's view of Teams: posts, edits and private notes through the Bot Connector, and facts for support."""

    name = PLATFORM
    label = LABEL

    def __init__(self, messenger: TeamsMessenger, guide: Guide, picture_url: PictureUrl) -> None:
        self._messenger = messenger
        self._guide = guide
        self._picture_url = picture_url

    @property
    def messenger(self) -> TeamsMessenger:
        """Sends through the Bot Connector."""
        return self._messenger

    async def _render(self, message: Outgoing) -> Message:
        directory = self._messenger.directory
        names = {user: await directory.name(user) for user in people_in(message)}
        accounts = {user: await directory.account_id(user) for user in people_in(message)}
        return render(message, self._guide, self._picture_url, lambda user: names.get(user, "someone"), accounts.get)

    async def post(self, channel: str, message: Outgoing, thread: str | None = None) -> str:
        """Post ``message`` in the conversation (in the thread under ``thread`` where it has threads)."""
        return await self._messenger.post(channel, await self._render(message), thread=thread)

    async def edit(self, channel: str, ref: str, message: Outgoing, thread: str | None = None) -> None:
        """Replace a card the bot sent."""
        await self._messenger.update(channel, ref, await self._render(message), thread=thread)

    async def tell(self, channel: str, user: str, message: Outgoing, thread: str | None = None) -> None:
        """A targeted message only ``user`` sees (said openly where Teams refuses that); never raises."""
        await self._messenger.notify(channel, user, await self._render(message))

    async def find_posted(self, state: Conversation, message: ThreadOpener | StepMessage | Reminder) -> str | None:
        """Teams offers a bot no way to read back a conversation it posted in.

        Raises:
            CannotLook: Always.
        """
        raise CannotLook("the Bot Connector cannot list a conversation's activities")

    def failure(self, exc: BaseException) -> tuple[Failure, str] | None:
        """How a Bot Connector call failed (see :func:`failure_of`)."""
        return failure_of(exc)

    async def person(self, user: str) -> str:
        """The user's Teams display name, in bold, for Slack text."""
        # Support's text is Slack's, and Teams' own staff desk shows it too: inert on both (no mention, link, bold).
        return f"*{inert(await self._messenger.directory.name(user))}*"

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


def failure_of(exc: BaseException) -> tuple[Failure, str] | None:
    """Refused (a 4xx, or a conversation Teams never told us of) or unreachable (any other HTTP failure).

    The statuses the connector asks to be retried (``RETRY_STATUSES``: 412, 429, 502, 504) are unreachable, not
    refused: the work stays in the outbox and is tried again, rather than dropped as if Teams had said no.
    """
    if isinstance(exc, UnknownConversation):
        return Failure.REFUSED, "unknown conversation"
    if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code in RETRY_STATUSES:
        return Failure.UNREACHABLE, f"HTTP {exc.response.status_code}"
    if isinstance(exc, httpx.HTTPStatusError) and 400 <= exc.response.status_code < 500:
        return Failure.REFUSED, f"HTTP {exc.response.status_code}"
    if isinstance(exc, httpx.HTTPError):
        return Failure.UNREACHABLE, type(exc).__name__
    return None
