"""The guide's moves on any platform: start, Done, Back, I'm stuck (its troubles, then a person) and resume.

The rules: only the owner of a guide moves it; a second click on a step just finished (Done) or just left (Back)
is a double click and says nothing; a move is saved before the platform gets its answer (so an acknowledged click
survives a crash a moment later) and carried out in the background; when the store is unreachable the person is
told, and the move is applied as soon as the store is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from enum import Enum
from typing import Any

from bot.core.messages import (
    AlreadyConnected,
    AlreadyDone,
    AlreadyGoing,
    GaveUp,
    NothingToResume,
    NotYourGuide,
    Refused,
    StaleClick,
    TemporarilyUnavailable,
)
from bot.core.platform import Platforms
from bot.core.runner import EffectRunner, ReplaceClicked, Trigger
from bot.core.support import SupportReports
from bot.core.tasks import BackgroundTasks
from bot.logs import bind_ids
from conversations.addresses import ConversationKey
from conversations.connection import ConnectionState
from conversations.conversation import Conversation
from conversations.events import Back, Done, PostStep, Resume, Start, Stuck, TroubleChosen, TroublesAsked
from conversations.schema import IncompatibleRecord
from conversations.service import Handled, OnboardingService
from conversations.store import StoreUnavailable

logger = logging.getLogger(__name__)

# A second click on a step finished this recently is a double click: it changes nothing and says nothing.
DOUBLE_CLICK_SECONDS = 10.0
# The longest a move waits for the store before it is acknowledged anyway and applied in the background.
INLINE_STORE_SECONDS = 1.5
# Pauses before each attempt to reach an unreachable store: about two minutes in all.
STORE_RETRY_PAUSES = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 30.0, 30.0)

GuideMove = Start | Done | Back | Stuck | TroublesAsked | TroubleChosen | Resume
Presenting = Callable[[Handled], Coroutine[Any, Any, None]]


class StepButton(Enum):
    """The buttons of a step message."""

    DONE = "done"
    BACK = "back"
    STUCK = "stuck"
    """I'm stuck: the step's troubles first (a step without troubles asks a person at once)."""
    ASK_ALDENSE = "ask_aldense"
    """ "Still stuck — ask Aldense", offered with the troubles: a person is asked."""


class GuideMoves:
    """Turns a person's clicks and words into guide events, saves them, and shows the outcome."""

    def __init__(
        self,
        service: OnboardingService,
        runner: EffectRunner,
        platforms: Platforms,
        tasks: BackgroundTasks,
        reports: SupportReports,
        store_retry_pauses: tuple[float, ...] = STORE_RETRY_PAUSES,
    ) -> None:
        self._service = service
        self._runner = runner
        self._platforms = platforms
        self._tasks = tasks
        self._reports = reports
        self._store_retry_pauses = store_retry_pauses

    async def start(self, key: ConversationKey, at_step: str | None = None, *, replacing: bool = False) -> None:
        """Start (or show again) ``key.user``'s guide, at ``at_step`` for a fresh run.

        In a clinic that is already connected, a Start by someone without a guide in progress tells them (only) who
        connected it and when, with "Replace the key" (``replacing``: a start at the key step) instead of a new
        guide; so does a late "Set up a new key" once a working key is connected again.
        """
        if not replacing and (connected := await self._connected(key, dead_key_ok=at_step is not None)) is not None:
            await self._tell(key, connected)
            return

        async def present(outcome: Handled) -> None:
            if outcome.refused is not None:
                await self._tell(key, Refused(outcome.refused.reason))
                return
            if any(isinstance(effect, PostStep) and effect.again for effect in outcome.effects):
                await self._tell(key, AlreadyGoing())
            await self._runner.carry_out(outcome)

        await self._apply(key, Start(at=self._service.clock(), at_step=at_step), None, present)

    async def step(
        self,
        key: ConversationKey,
        owner: str,
        step_id: str,
        button: StepButton,
        clicked_ref: str | None,
        thread: str | None = None,
        replace_clicked: ReplaceClicked | None = None,
    ) -> None:
        """Done, Back or I'm stuck on a step message of ``owner``'s guide, clicked by ``key.user``.

        ``replace_clicked`` closes the clicked message through the click (outside the platform's edit budget).
        """
        if not self.owns(key, owner, thread):
            return
        at = self._service.clock()
        event: Done | Back | Stuck | TroublesAsked
        if button is StepButton.DONE:
            event = Done(step_id, at)
        elif button is StepButton.BACK:
            event = Back(step_id, at)
        elif button is StepButton.STUCK:
            event = TroublesAsked(step_id, at)
        else:
            event = Stuck(step_id, at)

        async def present(outcome: Handled) -> None:
            if outcome.refused is not None:
                await self._explain_refusal(key, step_id, button, outcome, thread)
                return
            await self._runner.carry_out(outcome, Trigger(clicked_ref=clicked_ref, replace_clicked=replace_clicked))

        await self._apply(key, event, thread, present)

    async def trouble(
        self, key: ConversationKey, owner: str, step_id: str, trouble_id: str, thread: str | None = None
    ) -> None:
        """``key.user`` picked trouble ``trouble_id`` of ``step_id`` from the private list I'm stuck showed."""
        if not self.owns(key, owner, thread):
            return

        async def present(outcome: Handled) -> None:
            if outcome.refused is None:
                await self._runner.carry_out(outcome)
                return
            state, refused = outcome.state, outcome.refused
            if state is not None and refused.stale and self._trouble_just_chosen(state, step_id, trouble_id):
                return  # a double click on a trouble that moved the guide on: answered already
            if refused.stale and state is not None:
                await self._tell(key, StaleClick(self._service.guide.position(state.step_id), refused.reason), thread)
                return
            await self._tell(key, Refused(refused.reason), thread)

        await self._apply(key, TroubleChosen(step_id, trouble_id, self._service.clock()), thread, present)

    def _trouble_just_chosen(self, state: Conversation, step_id: str, trouble_id: str) -> bool:
        times = state.steps.get(step_id)
        chosen = times.troubles.get(trouble_id) if times is not None else None
        return chosen is not None and chosen > self._service.clock() - DOUBLE_CLICK_SECONDS

    async def resume(self, key: ConversationKey, owner: str | None = None, thread: str | None = None) -> None:
        """Show the current step again (a reminder's button, or the word ``resume``)."""
        if owner is not None and not self.owns(key, owner, thread):
            return

        async def present(outcome: Handled) -> None:
            if outcome.refused is not None:
                # A Resume from a reminder whose moment passed: in a connected clinic, say where things stand.
                clinic = await self._service.clinic(key.platform, key.channel)
                connection = clinic.connection if clinic else None
                await self._tell(key, AlreadyDone(key.user, connection) if connection else NothingToResume(), thread)
                return
            await self._runner.carry_out(outcome)

        await self._apply(key, Resume(at=self._service.clock()), thread, present)

    async def _connected(self, key: ConversationKey, dead_key_ok: bool) -> AlreadyConnected | None:
        """What to tell ``key.user`` instead of starting: the clinic is connected and they have no guide going.

        ``dead_key_ok``: a start that sets up a new key goes ahead while Dentally refuses the connected key.
        """
        try:
            async with asyncio.timeout(INLINE_STORE_SECONDS):
                clinic = await self._service.clinic(key.platform, key.channel)
                if clinic is None or clinic.connection is None:
                    return None
                if dead_key_ok and clinic.connection.state is ConnectionState.NEEDS_NEW_KEY:
                    return None
                state = await self._service.conversation(key)
        except (StoreUnavailable, TimeoutError):
            return None  # the Start itself meets the outage, and says so
        if state is not None and state.in_progress:
            return None
        return AlreadyConnected(key.user, clinic.connection)

    def owns(self, key: ConversationKey, owner: str, thread: str | None = None) -> bool:
        """Whether ``key.user`` owns the guide; tells them (only), in the background, when they do not."""
        if owner == key.user:
            return True
        self._tasks.spawn(self._tell(key, NotYourGuide(owner), thread), name="not_yours")
        return False

    async def _apply(self, key: ConversationKey, event: GuideMove, thread: str | None, present: Presenting) -> None:
        """Save ``event``'s transition now, then hand ``present`` the outcome in the background.

        When the store is unreachable the move is still acknowledged: the person is told, and the event is applied
        in the background as soon as the store is back (the machine makes a late move safe). A record written by a
        newer release (mid-deploy) is treated alike: that release, or this one's successor, takes the retried move.
        """
        bind_ids(conversation=str(key))  # this move's log lines, and the work it starts, name the conversation
        try:
            # Platforms want their answer within seconds: a store that hangs is treated as a store that is down.
            async with asyncio.timeout(INLINE_STORE_SECONDS):
                outcome = await self._service.handle(key, event)
        except (StoreUnavailable, TimeoutError, IncompatibleRecord) as exc:
            if isinstance(exc, IncompatibleRecord):
                logger.warning("a move met a record of a newer release; telling the person and retrying: %s", exc)
            self._tasks.spawn(self._apply_when_back(key, event, thread, present), name="store_retry")
            return
        self._tasks.spawn(present(outcome), name=type(event).__name__)

    async def _apply_when_back(
        self, key: ConversationKey, event: GuideMove, thread: str | None, present: Presenting
    ) -> None:
        await self._tell(key, TemporarilyUnavailable(), thread)
        for pause in self._store_retry_pauses:
            await asyncio.sleep(pause)
            try:
                outcome = await self._service.handle(key, event)
            except (StoreUnavailable, IncompatibleRecord):
                continue
            await present(outcome)
            return
        logger.error("gave up on a %s: the state store stayed unreachable or unreadable", type(event).__name__)
        await self._tell(key, GaveUp(), thread)

    async def _explain_refusal(
        self, key: ConversationKey, step_id: str, button: StepButton, outcome: Handled, thread: str | None
    ) -> None:
        state, refused = outcome.state, outcome.refused
        assert refused is not None
        if state is not None and self._double_click(state, step_id, button, refused.stale):
            return
        asking = button in (StepButton.STUCK, StepButton.ASK_ALDENSE)
        if asking and not refused.stale and state is not None and state.stuck_at is not None:
            await self._tell(key, Refused(refused.reason), thread)
            await self._pressed_stuck_again(state)
            return
        if refused.stale and state is not None:
            await self._tell(key, StaleClick(self._service.guide.position(state.step_id), refused.reason), thread)
            return
        await self._tell(key, Refused(refused.reason), thread)

    async def _pressed_stuck_again(self, state: Conversation) -> None:
        """One quiet line in support's thread: the open request was pressed again (no broadcast, nobody mentioned)."""
        guide = self._service.guide
        index = guide.position(state.step_id)
        step = f" on step {index + 1}/{guide.step_count}" if index is not None else ""
        await self._reports.note(state, f":repeat: I'm stuck was pressed again{step}; the request is still open.")

    def _double_click(self, state: Conversation, step_id: str, button: StepButton, stale: bool) -> bool:
        """Whether a refused click repeats one that moved the guide (or asked for help) a moment ago.

        Done records when a step was finished; Back records nothing on the step it leaves, but it lands on the
        step just before, and is the guide's latest move; I'm stuck is refused (not stale) while help is on its way.
        """
        since = self._service.clock() - DOUBLE_CLICK_SECONDS
        if button in (StepButton.STUCK, StepButton.ASK_ALDENSE):
            return not stale and state.stuck_at is not None and state.stuck_at > since
        if not stale:
            return False
        times = state.steps.get(step_id)
        if times is not None and times.done is not None and times.done > since:
            return True
        steps = self._service.guide.steps
        at = self._service.guide.position(state.step_id)
        left = steps[at + 1].id if at is not None and at + 1 < len(steps) else None
        return button is StepButton.BACK and left == step_id and state.updated_at > since

    async def _tell(
        self,
        key: ConversationKey,
        message: AlreadyConnected
        | AlreadyDone
        | AlreadyGoing
        | GaveUp
        | NothingToResume
        | NotYourGuide
        | Refused
        | StaleClick
        | TemporarilyUnavailable,
        thread: str | None = None,
    ) -> None:
        platform = self._platforms.get(key.platform)
        if platform is not None:
            await platform.tell(key.channel, key.user, message, thread)
