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

from bot.keycheck import KeyCheck
from bot.reporting import SupportReporter
from bot.tasks import BackgroundTasks
from bot.teams import cards
from bot.teams.activities import Actor, CardClick, Place
from bot.teams.messenger import TeamsMessenger
from bot.teams.presenter import TeamsPresenter, Trigger
from conversations.addresses import ConversationKey
from conversations.conversation import Conversation
from conversations.service import OnboardingService
from conversations.store import StoreUnavailable
from dentally.regions import DETECT, RegionChoice, parse_region
from dentally.scopes import CheckResult
from dentally.token import MAX_LENGTH, MIN_LENGTH, TokenFormatError, parse_token

logger = logging.getLogger(__name__)

PLATFORM = "teams"
TITLE = "Dentally key"
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


class KeyDialog:
    """Everything after "Enter the key privately" on Teams; the neutral work is ``KeyCheck``'s."""

    def __init__(
        self,
        service: OnboardingService,
        keys: KeyCheck,
        presenter: TeamsPresenter,
        messenger: TeamsMessenger,
        reporter: SupportReporter,
        tasks: BackgroundTasks,
        team: str,
        patience: float = DIALOG_PATIENCE_SECONDS,
    ) -> None:
        self._service = service
        self._keys = keys
        self._presenter = presenter
        self._messenger = messenger
        self._reporter = reporter
        self._tasks = tasks
        self._team = team
        self._patience = patience

    def _key(self, place: Place, actor: Actor) -> ConversationKey:
        return ConversationKey(PLATFORM, self._team, place.channel, actor.id)

    async def open(self, place: Place, actor: Actor, data: dict[str, Any]) -> TaskModuleResponse:
        """The dialog for ``task/fetch``: the form for the guide's owner, a polite refusal for anyone else."""
        owner = data.get("owner")
        if owner != actor.id:
            name = await self._messenger.directory.name(str(owner)) if isinstance(owner, str) else "someone else"
            return dialog(cards.message_dialog(f"This guide belongs to {name}, so only they can enter its key."))
        if not self._keys.accepts_keys:
            state = await self._keys_state(place, actor)
            if state is not None:
                await self._reporter.note(
                    state,
                    f":warning: {await self._reporter.person(PLATFORM, actor.id)} wanted to enter a key, "
                    "but KEY_ENCRYPTION_KEYS is not set.",
                )
            return dialog(cards.cannot_accept_keys())
        return dialog(cards.key_form(actor.id, MIN_LENGTH, MAX_LENGTH))

    async def _keys_state(self, place: Place, actor: Actor) -> Conversation | None:
        try:
            return await self._service.conversation(self._key(place, actor))
        except StoreUnavailable:
            return None

    async def submit(self, place: Place, actor: Actor, data: dict[str, Any]) -> TaskModuleResponse:
        """The dialog for ``task/submit``: inline errors for junk, else the check's result (or "still checking")."""
        if data.get("owner") != actor.id:
            return dialog(
                cards.message_dialog("This form has expired. Close it and click **Enter the key privately**.")
            )
        region = _read_region(data.get(cards.INPUT_REGION))
        if region is None:
            return dialog(cards.key_form(actor.id, MIN_LENGTH, MAX_LENGTH, error="Choose your practice's region."))
        try:
            token = parse_token(str(data.get(cards.INPUT_KEY) or ""))
        except TokenFormatError as exc:
            return dialog(cards.key_form(actor.id, MIN_LENGTH, MAX_LENGTH, region=region, error=str(exc)))
        if not self._keys.accepts_keys:
            return dialog(cards.cannot_accept_keys())
        result = await self._run(self._key(place, actor), token, region)
        if isinstance(result, str):
            return dialog(cards.message_dialog(result))
        if result is None:
            return dialog(
                cards.message_dialog(
                    "⏳ Still checking with Dentally — the result will appear in your conversation in a moment. "
                    "You can close this window."
                )
            )
        return dialog(cards.result_dialog(result))

    async def check_again(self, place: Place, actor: Actor, click: CardClick) -> None:
        """Re-run a check that could not finish, with the key kept encrypted since then."""
        kept = await self._keys.kept_key(PLATFORM, place.channel, actor.id)
        if kept is None:
            await self._messenger.notify(
                place.channel,
                actor.id,
                "I no longer have that key to check — please click **Use another key** and paste it again.",
            )
            return
        outcome = await self._run(self._key(place, actor), kept.token, kept.region, wait=False)
        if isinstance(outcome, str):
            await self._messenger.notify(place.channel, actor.id, outcome)

    async def _run(
        self, key: ConversationKey, token: SecretStr, region: RegionChoice, wait: bool = True
    ) -> CheckResult | str | None:
        """Submit and check the key; the result, a refusal to show, or None when the check outlasts the dialog."""
        try:
            outcome = await self._keys.submit(key, token)
        except StoreUnavailable:
            return "⏳ Aldense Guide is temporarily unavailable — please try again in a minute. Nothing was lost."
        if outcome.refused is not None:
            return f"Sorry, that can't be done right now: {outcome.refused.reason}. Try again in a moment."
        finished: asyncio.Future[CheckResult] = asyncio.get_running_loop().create_future()

        async def run_check(state: Conversation) -> None:
            checked = await self._keys.check(state, token, region)
            if not finished.done():
                finished.set_result(checked.result)
            await self._presenter.carry_out(checked.outcome)
            result_card = cards.result_card(checked.result, state.user, self._service.guide.steps[-1].id)
            await self._messenger.post(state.channel, result_card, thread=state.thread_ref)
            await self._keys.follow_up(state, token, checked.result)

        self._tasks.spawn(self._presenter.carry_out(outcome, Trigger(run_key_check=run_check)), name="teams_key_check")
        if not wait:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(finished), self._patience)
        except TimeoutError:
            return None
