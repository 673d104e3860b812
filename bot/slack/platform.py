"""Slack as the core sees it (a ``ChatPlatform``): posts, edits, ephemerals, looking back, and facts for support."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta, timezone, tzinfo
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.core.messages import Outgoing, Reminder, StepMessage, ThreadOpener
from bot.core.platform import Failure
from bot.slack import calls
from bot.slack.blocks import Blocks
from bot.slack.profiles import Profiles
from bot.slack.render import LABEL, PictureUrl, has_picture, render, without_picture
from conversations.conversation import Conversation
from conversations.guide import Guide

T = TypeVar("T")
logger = logging.getLogger(__name__)

PLATFORM = "slack"


class ClickExpired(Exception):
    """A click's ``response_url`` no longer replaces its message."""


class Workspace:
    """Facts about Aldense's own install, learnt once from ``auth.test`` (at start-up, by ``aldense-guide run``)."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self.team_id: str | None = None
        self.bot_user_id: str | None = None
        self.bot_id: str | None = None
        self.enterprise_id: str | None = None

    async def ensure(self) -> None:
        """Ask Slack who we are, once."""
        if self.team_id is None:
            response = await self.client.auth_test()
            self.bot_user_id = _text(response.get("user_id"))
            self.bot_id = _text(response.get("bot_id"))
            self.enterprise_id = _text(response.get("enterprise_id"))
            self.team_id = str(response["team_id"])

    async def installing_team(self) -> str:
        """Aldense's team id."""
        await self.ensure()
        assert self.team_id is not None
        return self.team_id

    async def authorize(self, user_id: str | None = None) -> AuthorizeResult:
        """Bolt's per-request authorization, from what start-up learnt: no ``auth.test`` per request.

        Bolt's own single-team authorization asks ``auth.test`` on the first request it sees, inline, so a slow
        Slack (seconds) makes that request miss Slack's 3 s and a 5xx drops it. Every request is for Aldense's one
        install, whichever workspace the actor is from.
        """
        await self.ensure()  # learnt at start-up; asks Slack only in a process that skipped it (a one-off tool)
        return AuthorizeResult(
            enterprise_id=self.enterprise_id,
            team_id=self.team_id,
            bot_user_id=self.bot_user_id,
            bot_id=self.bot_id,
            bot_token=self.client.token,
            user_id=user_id,
        )


def _text(value: object) -> str | None:
    return str(value) if value else None


class SlackPlatform:
    """The core's view of Slack."""

    name = PLATFORM
    label = LABEL

    def __init__(self, client: AsyncWebClient, guide: Guide, picture_url: PictureUrl) -> None:
        self.client = client
        self.workspace = Workspace(client)
        self.profiles = Profiles(client)
        self._guide = guide
        self._picture_url = picture_url
        self._links: dict[tuple[str, str], str | None] = {}

    async def post(self, channel: str, message: Outgoing, thread: str | None = None) -> str:
        """Post ``message``; a picture Slack cannot fetch is replaced by its description and posted again."""

        async def send(text: str, blocks: Blocks | None) -> str:
            return await calls.post(self.client, channel, text, blocks, thread_ts=thread)

        return await self._without_picture_if_refused(message, send)

    async def edit(self, channel: str, ref: str, message: Outgoing, thread: str | None = None) -> None:
        """Replace a message the bot posted (a picture Slack cannot fetch falls back to text, as in ``post``)."""

        async def send(text: str, blocks: Blocks | None) -> None:
            await calls.update(self.client, channel, ref, text, blocks)

        await self._without_picture_if_refused(message, send)

    async def _without_picture_if_refused(
        self, message: Outgoing, send: Callable[[str, Blocks | None], Awaitable[T]]
    ) -> T:
        text, blocks = render(message, self._guide, self._picture_url)
        try:
            return await send(text, blocks)
        except SlackApiError as exc:
            if not (has_picture(message) and calls.picture_refused(exc)):
                raise
            logger.warning("a message was sent without its picture: Slack could not use it")
            text, blocks = render(without_picture(message), self._guide, self._picture_url)
            return await send(text, blocks)

    async def replace_clicked(self, response_url: str, message: Outgoing) -> None:
        """Replace the clicked message through its click's ``response_url``: no ``chat.update``, none of its budget.

        Raises:
            ClickExpired: Slack refused (the URL expired or was used up, or the message was refused).
        """
        text, blocks = render(message, self._guide, self._picture_url)
        hook = AsyncWebhookClient(response_url, timeout=10, session=getattr(self.client, "session", None))
        response = await hook.send(text=text, blocks=blocks, replace_original=True)
        if response.status_code != 200:
            raise ClickExpired(f"response_url answered {response.status_code}")

    async def tell(self, channel: str, user: str, message: Outgoing, thread: str | None = None) -> None:
        """An ephemeral message only ``user`` sees; failures are logged, never raised."""
        text, blocks = render(message, self._guide, self._picture_url)
        await calls.ephemeral(self.client, channel, user, text, blocks, thread_ts=thread)

    async def find_posted(self, state: Conversation, message: ThreadOpener | StepMessage | Reminder) -> str | None:
        """Look in the channel (an opener) or the user's thread (a step with live buttons, a reminder) for it.

        Needs the ``channels:history`` and ``groups:history`` scopes; a refused look-up counts as not found.
        """
        if isinstance(message, ThreadOpener):
            return await self._find_opener(state)
        if isinstance(message, Reminder):
            block = f"reminder:{message.count}:actions"
            return await self._find_in_thread(state, lambda ids: block in ids)
        prefix = f"step:{self._guide.steps[message.index].id}:"
        return await self._find_in_thread(
            state, lambda ids: any(i.startswith(prefix) for i in ids) and any(i.endswith(":actions") for i in ids)
        )

    async def _find_opener(self, state: Conversation) -> str | None:
        opener, _ = render(ThreadOpener(state.user), self._guide, self._picture_url)
        try:
            history = await self.client.conversations_history(
                channel=state.channel, oldest=f"{state.started_at - 60:.6f}"
            )
        except SlackApiError as exc:
            logger.warning("conversations.history failed during recovery: %s", calls.slack_error(exc))
            return None
        for message in history.get("messages") or []:
            if message.get("bot_id") and message.get("text") == opener:
                return str(message["ts"])
        return None

    async def _find_in_thread(self, state: Conversation, matches: Callable[[list[str]], bool]) -> str | None:
        """The latest bot message in the user's thread whose block ids ``matches``."""
        if state.thread_ref is None:
            return None
        try:
            replies = await self.client.conversations_replies(channel=state.channel, ts=state.thread_ref, limit=200)
        except SlackApiError as exc:
            logger.warning("conversations.replies failed during recovery: %s", calls.slack_error(exc))
            return None
        for message in reversed(replies.get("messages") or []):
            ids = [str(block.get("block_id", "")) for block in message.get("blocks") or []]
            if message.get("bot_id") and matches(ids):
                return str(message["ts"])
        return None

    def failure(self, exc: BaseException) -> tuple[Failure, str] | None:
        """Unreachable (network, 5xx, 429 after the client's own retries) or refused (any other Slack error)."""
        if isinstance(exc, aiohttp.ClientError | TimeoutError | OSError):
            return Failure.UNREACHABLE, type(exc).__name__
        if isinstance(exc, SlackApiError):
            status = int(getattr(getattr(exc, "response", None), "status_code", 200) or 200)
            if status >= 500 or status == 429:
                return Failure.UNREACHABLE, f"HTTP {status}"
            return Failure.REFUSED, calls.slack_error(exc)
        return None

    async def person(self, user: str) -> str:
        """A Slack mention."""
        return f"<@{user}>"

    async def channel_name(self, channel: str) -> str | None:
        """The channel's name from ``conversations.info``."""
        try:
            response = await self.client.conversations_info(channel=channel)
        except SlackApiError as exc:
            logger.warning("conversations.info failed: %s", calls.slack_error(exc))
            return None
        name = (response.get("channel") or {}).get("name")
        return str(name) if name else None

    async def thread_link(self, conversation: Conversation) -> str | None:
        """A permalink to the user's thread opener (asked once per thread)."""
        if not conversation.thread_ref:
            return None
        cache_key = (conversation.channel, conversation.thread_ref)
        if cache_key not in self._links:
            self._links[cache_key] = await calls.permalink(self.client, conversation.channel, conversation.thread_ref)
        return self._links[cache_key]

    async def time_zone(self, user: str) -> tzinfo | None:
        """The user's time zone from ``users.info`` (its name, else its offset); None when Slack won't say.

        Profiles of people in another organisation (Slack Connect) may carry neither: that is None too, never a guess.
        """
        try:
            profile = await self.profiles.get(user)
        except SlackApiError as exc:
            logger.warning("users.info failed (%s); no time zone for reminders", calls.slack_error(exc))
            return None
        name = profile.get("tz")
        if isinstance(name, str):
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                pass
        offset = profile.get("tz_offset")
        return timezone(timedelta(seconds=int(offset))) if isinstance(offset, int) else None
