"""The key dialog on Teams: open the masked form, read a submission, run the check, answer in the dialog and thread.

A dialog's answer is the HTTP response to its ``task/submit``, so the check runs in the background and the
dialog waits for it a few seconds; a slower check ends the dialog with "still checking" and the result is posted
in the conversation as always.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from microsoft_teams.api.models import (
    AdaptiveCardAttachment,
    CardTaskModuleTaskInfo,
    TaskModuleContinueResponse,
    TaskModuleResponse,
    card_attachment,
)
from microsoft_teams.cards import AdaptiveCard
from pydantic import SecretStr

from bot.core import copy
from bot.core.kit import Core
from bot.core.messages import KeyResult
from bot.core.support import SupportReports
from bot.teams import cards
from bot.teams.activities import Actor, Place
from bot.teams.platform import PLATFORM, TeamsPlatform
from bot.teams.render import render
from conversations.addresses import ConversationKey
from conversations.conversation import Conversation
from conversations.store import StoreUnavailable
from dentally.regions import DETECT, RegionChoice, parse_region
from dentally.token import MAX_LENGTH, MIN_LENGTH, TokenFormatError, parse_token

logger = logging.getLogger(__name__)

TITLE = copy.KEY_TITLE
# How long a dialog waits for the check before saying the result will appear in the conversation.
DIALOG_PATIENCE_SECONDS = 8.0


def dialog(card: AdaptiveCard, title: str = TITLE) -> TaskModuleResponse:
    """A ``continue`` response that shows ``card`` in the dialog."""
    info = CardTaskModuleTaskInfo(title=title, card=card_attachment(AdaptiveCardAttachment(content=card)))
    return TaskModuleResponse(task=TaskModuleContinueResponse(value=info))


def _read_region(value: Any) -> RegionChoice | None:
    text = str(value or DETECT)
    if text == DETECT:
        return DETECT
    try:
        return parse_region(text)
    except ValueError:
        return None


class TeamsKeyDialog:
    """Everything after "Enter the key privately" on Teams; the platform-neutral work is ``KeyIntake``'s."""

    def __init__(
        self,
        core: Core,
        platform: TeamsPlatform,
        reporter: SupportReports,
        team: str,
        patience: float = DIALOG_PATIENCE_SECONDS,
    ) -> None:
        self._core = core
        self._platform = platform
        self._reporter = reporter
        self._team = team
        self._patience = patience

    async def _name(self, user: str) -> str:
        return await self._platform.messenger.directory.name(user)

    def _key(self, place: Place, actor: Actor) -> ConversationKey:
        return ConversationKey(PLATFORM, self._team, place.channel, actor.id)

    async def open(self, place: Place, actor: Actor, data: dict[str, Any]) -> TaskModuleResponse:
        """The dialog for ``task/fetch``: the form for the guide's owner, a polite refusal for anyone else."""
        owner = data.get("owner")
        if owner != actor.id:
            directory = self._platform.messenger.directory
            who = cards.escape(await directory.name(owner)) if isinstance(owner, str) else copy.Shown("someone else")
            return dialog(cards.message_dialog(copy.not_your_key_form(who)))
        if not self._core.keys.accepts_keys:
            state = await self._keys_state(place, actor)
            if state is not None:
                await self._reporter.note(
                    state,
                    f":warning: {await self._platform.person(actor.id)} wanted to enter a key, "
                    "but KEY_ENCRYPTION_KEYS is not set.",
                )
            return dialog(cards.cannot_accept_keys())
        late = await self._core.keys.late(self._key(place, actor))
        if late is not None:
            by = await self._name(late.connection.connected_by) if late.connection else None
            return dialog(cards.message_dialog(copy.already_done(by, late.connection)))
        region = await self._core.keys.region_for(PLATFORM, place.channel, actor.id)
        return dialog(cards.key_form(actor.id, MIN_LENGTH, MAX_LENGTH, region=region))

    async def _keys_state(self, place: Place, actor: Actor) -> Conversation | None:
        try:
            return await self._core.service.conversation(self._key(place, actor))
        except StoreUnavailable:
            return None

    async def submit(self, place: Place, actor: Actor, data: dict[str, Any]) -> TaskModuleResponse:
        """The dialog for ``task/submit``: inline errors for junk, else the check's result (or "still checking")."""
        if data.get("owner") != actor.id:
            return dialog(cards.message_dialog(copy.FORM_EXPIRED))
        region = _read_region(data.get(cards.INPUT_REGION))
        if region is None:
            return dialog(cards.key_form(actor.id, MIN_LENGTH, MAX_LENGTH, error=copy.CHOOSE_REGION))
        try:
            token = parse_token(str(data.get(cards.INPUT_KEY) or ""))
        except TokenFormatError as exc:
            return dialog(cards.key_form(actor.id, MIN_LENGTH, MAX_LENGTH, region=region, error=str(exc)))
        if not self._core.keys.accepts_keys:
            return dialog(cards.cannot_accept_keys())
        result = await self._run(self._key(place, actor), token, region)
        if isinstance(result, str):
            return dialog(cards.message_dialog(result))
        if result is None:
            return dialog(cards.message_dialog(copy.STILL_CHECKING))
        return dialog(cards.result_dialog(result.result, result.standing))

    async def check_again(self, place: Place, actor: Actor) -> None:
        """Re-run a check that could not finish, with the key kept encrypted since then."""
        late = await self._core.keys.late(self._key(place, actor))
        if late is not None:
            await self._platform.tell(place.channel, actor.id, late)
            return
        kept = await self._core.keys.kept_key(PLATFORM, place.channel, actor.id)
        if kept is None:
            await self._platform.messenger.notify(
                place.channel,
                actor.id,
                cards.markdown(copy.NO_KEPT_KEY),
            )
            return
        outcome = await self._run(self._key(place, actor), kept.token, kept.region, wait=False)
        if isinstance(outcome, str):
            await self._platform.messenger.notify(place.channel, actor.id, outcome)

    async def _run(
        self, key: ConversationKey, token: SecretStr, region: RegionChoice, wait: bool = True
    ) -> KeyResult | str | None:
        """Take the key in the background; the result, a refusal to show, or None when the check outlasts the dialog.

        A dialog's answer is the HTTP response to its ``task/submit``, so the dialog waits a few seconds at most.
        """
        finished: asyncio.Future[KeyResult | str] = asyncio.get_running_loop().create_future()

        async def shown(result: KeyResult) -> None:
            if not finished.done():
                finished.set_result(result)

        async def take() -> None:
            refused = await self._core.keys.take(key, token, region, shown)
            if refused is not None and not finished.done():
                finished.set_result(str(render(refused, self._core.guide, self._core.picture_url, str)))

        if not wait:  # already in the background: the result is posted in the conversation
            await take()
            return finished.result() if finished.done() and isinstance(finished.result(), str) else None
        self._core.tasks.spawn(take(), name="teams_key_check")
        try:
            return await asyncio.wait_for(asyncio.shield(finished), self._patience)
        except TimeoutError:
            return None
