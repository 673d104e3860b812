"""Sends, edits and targets messages through the Bot Connector with the SDK's API client.

Errors::

    httpx.HTTPError            - the connector could not be reached or refused the call (``HTTPStatusError``)
    UnknownConversation        - Teams never told us where this conversation lives
    StoreUnavailable           - the directory could not be read (never from ``notify``, a courtesy)
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
from microsoft_teams.api import ApiClient
from microsoft_teams.api.activities.message import MessageActivityInput
from microsoft_teams.api.models import Account
from microsoft_teams.apps import App
from microsoft_teams.cards import AdaptiveCard

from bot.core.outbound import Outbound
from bot.teams.activities import Actor, Place, threaded
from bot.teams.budgets import teams_budgets
from bot.teams.directory import TeamsDirectory
from conversations.store import StoreUnavailable

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Mentioning:
    """Markdown text that @-mentions people: each ``<at>name</at>`` in ``text`` names an (account id, name)."""

    text: str
    people: tuple[tuple[str, str], ...]


Message = AdaptiveCard | str | Mentioning


class UnknownConversation(LookupError):
    """No activity from this conversation was ever seen, so its connector URL is unknown."""


def outgoing(message: Message) -> MessageActivityInput:
    """The activity that carries ``message`` (a card as an attachment, text as Markdown), as it is sent."""
    if isinstance(message, AdaptiveCard):
        return MessageActivityInput().add_card(message)
    if isinstance(message, Mentioning):
        activity = MessageActivityInput(text=message.text, text_format="markdown")
        for account_id, name in message.people:  # Teams notifies each person a mention entity names
            activity.add_mention(Account(id=account_id, name=name), text=name, add_text=False)
        return activity
    return MessageActivityInput(text=message, text_format="markdown")


class TeamsMessenger:
    """Posts into conversations (and their threads), edits cards in place, and asks who a member is."""

    def __init__(self, app: App, directory: TeamsDirectory, outbound: Outbound | None = None) -> None:
        self._app = app
        self._directory = directory
        self._outbound = outbound
        self._clients: dict[str, ApiClient] = {}

    @property
    def directory(self) -> TeamsDirectory:
        """Where conversations and people are remembered."""
        return self._directory

    async def _where(self, channel: str, thread: str | None) -> tuple[ApiClient, str]:
        place = await self._directory.place(channel)
        if place is None:
            raise UnknownConversation(channel)
        conversation = threaded(channel, thread) if thread and place.threaded else channel
        return self._client(place), conversation

    async def _paced(self, channel: str, method: str, call: Callable[[], Awaitable[T]]) -> T:
        """Make ``call`` through the scheduler, spending ``channel``'s conversation and tenant budgets."""
        place = await self._directory.place(channel)
        if self._outbound is None or place is None:
            return await call()
        return await self._outbound.send(method, teams_budgets(place), call)

    def _client(self, place: Place) -> ApiClient:
        url = place.service_url or self._app.api.service_url
        if url not in self._clients:
            self._clients[url] = self._app.api.clone(service_url=url)
        return self._clients[url]

    async def post(self, channel: str, message: Message, thread: str | None = None) -> str:
        """Post ``message`` (in the thread under ``thread`` when the conversation has threads); returns its id."""
        api, conversation = await self._where(channel, thread)
        activity = outgoing(message)
        sent = await self._paced(
            channel, "create_activity", lambda: api.conversations.create_activity(conversation, activity)
        )
        return sent.id

    async def update(self, channel: str, activity_id: str, message: Message, thread: str | None = None) -> None:
        """Replace a message we sent with ``message``."""
        api, conversation = await self._where(channel, thread)
        activity = outgoing(message)
        await self._paced(
            channel, "update_activity", lambda: api.conversations.update_activity(conversation, activity_id, activity)
        )

    async def notify(self, channel: str, user: str, message: Message, thread: str | None = None) -> None:
        """Tell only ``user`` (a targeted message); where Teams refuses that, say it in the conversation.

        For courtesies that anyone may read; a courtesy's failures are logged, never raised.
        """
        try:
            if await self.privately(channel, user, message, thread):
                return
            api, conversation = await self._where(channel, thread)
            activity = outgoing(message)
            await self._paced(
                channel, "create_activity", lambda: api.conversations.create_activity(conversation, activity)
            )
        except (httpx.HTTPError, UnknownConversation, StoreUnavailable) as exc:
            logger.warning("could not tell a Teams user something: %s", type(exc).__name__)

    async def privately(self, channel: str, user: str, message: Message, thread: str | None = None) -> bool:
        """Show ``message`` to ``user`` alone; False (and nothing shown to anyone) where that cannot be done.

        In a 1:1 chat the conversation itself is private; elsewhere it is a targeted message, which Teams may
        refuse (a preview feature). Never posts openly, so it is safe for what only Aldense staff may read.
        """
        try:
            person = await self._directory.person(user)
            api, conversation = await self._where(channel, thread)
            place = await self._directory.place(channel)
            if place is not None and place.kind == "personal":
                activity = outgoing(message)
                await self._paced(
                    channel, "create_activity", lambda: api.conversations.create_activity(conversation, activity)
                )
                return True
            if person is None:
                return False
            activity = outgoing(message)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # targeted messages are a preview feature of the SDK
                activity.with_recipient(Account(id=person.account_id, name=person.name), is_targeted=True)
                await self._paced(
                    channel,
                    "create_targeted_activity",
                    lambda: api.conversations.create_targeted_activity(conversation, activity),
                )
            return True
        except httpx.HTTPStatusError as exc:
            logger.info("targeted message refused (HTTP %d)", exc.response.status_code)
            return False
        except (httpx.HTTPError, UnknownConversation, StoreUnavailable) as exc:
            logger.warning("could not tell a Teams user something privately: %s", type(exc).__name__)
            return False

    async def members(self, channel: str) -> list[Actor]:
        """The members of a conversation (for picking a colleague); empty when Teams won't say."""
        try:
            api, _ = await self._where(channel, None)
            accounts = await self._paced(channel, "get_members", lambda: api.conversations.get_members(channel))
        except (httpx.HTTPError, UnknownConversation) as exc:
            logger.warning("could not list a Teams conversation's members: %s", type(exc).__name__)
            return []
        return [
            Actor(
                id=account.aad_object_id or account.id,
                account_id=account.id,
                name=(account.name or "").strip() or "Someone",
                tenant=getattr(account, "tenant_id", None),
            )
            for account in accounts
        ]

    async def member_tenant(self, channel: str, account_id: str) -> str | None:
        """The Entra tenant of a conversation member (their own, in a shared channel), or None if unknown."""
        try:
            api, _ = await self._where(channel, None)
            member = await self._paced(
                channel, "get_member_by_id", lambda: api.conversations.get_member_by_id(channel, account_id)
            )
        except (httpx.HTTPError, UnknownConversation) as exc:
            logger.warning("could not look up a Teams member's tenant: %s", type(exc).__name__)
            return None
        tenant = getattr(member, "tenant_id", None)
        return tenant if isinstance(tenant, str) else None
