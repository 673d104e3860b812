"""Carries out the machine's effects on Teams: opens a thread, posts step cards and closes them in place, reports."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from bot.metrics import Metrics
from bot.reporting import SupportReporter
from bot.teams import cards
from bot.teams.messenger import TeamsMessenger, UnknownConversation
from conversations.conversation import Conversation
from conversations.events import (
    CheckFinished,
    CloseStep,
    ConfirmHelpComing,
    Effect,
    Milestone,
    OpenThread,
    PostStep,
    Remind,
    Report,
    RunKeyCheck,
    StepOutcome,
    StepPosted,
    TellReset,
    ThreadOpened,
    Verdict,
)
from conversations.guide import Guide, Step
from conversations.outbox import OutboxBatch
from conversations.service import OnboardingService, Outcome

logger = logging.getLogger(__name__)

KeyCheckRunner = Callable[[Conversation], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Trigger:
    """Where the effects came from: the clicked card (for Done/Back), a key check to run, or a recovery."""

    clicked_id: str | None = None
    run_key_check: KeyCheckRunner | None = None
    recovering: bool = False


def _refused(exc: Exception) -> bool:
    """Whether Teams answered and said no (4xx): retrying would be refused again."""
    return isinstance(exc, httpx.HTTPStatusError) and 400 <= exc.response.status_code < 500


class TeamsPresenter:
    """Turns effects into Bot Connector calls for one conversation at a time."""

    def __init__(
        self,
        messenger: TeamsMessenger,
        service: OnboardingService,
        reporter: SupportReporter,
        picture_url: Callable[[Step], str | None],
        metrics: Metrics,
    ) -> None:
        self._messenger = messenger
        self._service = service
        self._reporter = reporter
        self._picture_url = picture_url
        self._metrics = metrics

    @property
    def guide(self) -> Guide:
        """The guide being shown."""
        return self._service.guide

    async def carry_out(self, outcome: Outcome, trigger: Trigger | None = None) -> None:
        """Carry out ``outcome.effects`` in order, then settle its outbox batch.

        Teams refusing a call tells the user how to carry on (and settles); Teams being unreachable leaves the
        batch in the outbox for the due queue to retry.
        """
        trigger = trigger or Trigger()
        state = outcome.state
        if state is None:
            return
        try:
            for effect in outcome.effects:
                state = await self._carry_out_one(state, effect, trigger)
        except (httpx.HTTPError, UnknownConversation) as exc:
            if not _refused(exc) and not isinstance(exc, UnknownConversation):
                logger.warning("Teams unreachable (%s) for a guide; retrying later", type(exc).__name__)
                return
            logger.warning("Teams refused a call for a guide (%s)", type(exc).__name__)
            await self._messenger.notify(
                state.channel,
                state.user,
                "Sorry — Teams didn't accept my last message. Mention me with **resume** to see your current step "
                "again; nothing you did was lost.",
            )
        if outcome.batch is not None:
            await self._service.settle(state.key, outcome.batch)

    async def recover(self, state: Conversation, batch: OutboxBatch) -> None:
        """Carry out a batch that the process which saved it never finished."""
        logger.info("recovering %d effect(s) for a Teams guide", len(batch.effects))
        await self.carry_out(Outcome(state, batch.unpack(), batch=batch.id), Trigger(recovering=True))

    async def _carry_out_one(self, state: Conversation, effect: Effect, trigger: Trigger) -> Conversation:
        messenger = self._messenger
        match effect:
            case OpenThread():
                if state.thread_ref is not None:  # already opened (a recovery repeating the batch)
                    return state
                name = await messenger.directory.name(state.user)
                ref = await messenger.post(state.channel, cards.thread_opener(name, self.guide))
                return await self._record(state, ThreadOpened(ref))
            case PostStep():
                if effect.step_id != state.step_id or state.step_message_ref is not None:
                    return state  # the user has moved on, or the step is already posted
                return await self._post_step(state, effect)
            case CloseStep():
                closing = effect.ref
                if closing is None and effect.outcome is not StepOutcome.SUPERSEDED:
                    closing = trigger.clicked_id  # the click came from this very card
                index = self.guide.position(effect.step_id)  # None: a step an edit removed, nothing to render
                if closing is not None and index is not None:
                    closed = cards.closed_step(self.guide, index, effect.outcome)
                    await messenger.update(state.channel, closing, closed, thread=state.thread_ref)
            case ConfirmHelpComing() if (index := self.guide.position(effect.step_id)) is not None:
                text = cards.help_coming(self.guide, index)
                await messenger.post(state.channel, text, thread=state.thread_ref)
            case Report():
                if effect.milestone is Milestone.STARTED:
                    self._metrics.guides_started.inc()
                await self._reporter.milestone(state, effect.milestone, effect.step_id)
            case RunKeyCheck():
                if trigger.run_key_check is not None:
                    await trigger.run_key_check(state)
                elif trigger.recovering:
                    await self._key_check_lost(state)
            case Remind() if (index := self.guide.position(effect.step_id)) is not None:
                name = await messenger.directory.name(state.user)
                reminder = cards.reminder(self.guide, index, state.user, name)
                await messenger.post(state.channel, reminder, thread=state.thread_ref)
            case TellReset():
                await messenger.post(state.channel, cards.reset_notice(), thread=state.thread_ref)
        return state

    async def _post_step(self, state: Conversation, effect: PostStep) -> Conversation:
        index = self.guide.index_of(effect.step_id)  # the current step: _carry_out_one checked it
        step = self.guide.steps[index]
        if not effect.again:
            self._metrics.steps_reached.labels(step.id).inc()
        card = cards.step_card(self.guide, index, state.user, self._picture_url(step), again=effect.again)
        ref = await self._messenger.post(state.channel, card, thread=state.thread_ref)
        return await self._record(state, StepPosted(step.id, ref))

    async def _record(self, state: Conversation, event: ThreadOpened | StepPosted) -> Conversation:
        outcome = await self._service.handle(state.key, event)
        if outcome.effects:  # e.g. closing a card of this step that a racing post superseded
            await self.carry_out(outcome)
        return outcome.state or state

    async def _key_check_lost(self, state: Conversation) -> None:
        """The process checking a key died with the key in memory only: close the check and ask again."""
        outcome = await self._service.handle(state.key, CheckFinished(Verdict.COULD_NOT_CHECK, self._service.clock()))
        if outcome.refused is not None:
            return
        await self.carry_out(outcome)
        lost = cards.card(
            cards.text("⏳ Your key check was interrupted on our side, so nothing was decided. Please enter it again."),
            actions=[cards.open_key_dialog("Enter the key again", state.user, self.guide.steps[-1].id)],
        )
        await self._messenger.post(state.channel, lost, thread=state.thread_ref)
