"""The one effect runner: carries out the machine's effects on whichever platform a conversation lives on.

It opens threads, posts and closes step messages, reports milestones and settles the outbox. During recovery it
looks in the platform before posting again, because a process can die between the platform accepting a post and
the state recording it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

from bot.core import copy, lease
from bot.core.messages import (
    ClosedStep,
    GuideHandedOver,
    HelpComing,
    KeyCheckLost,
    NotAccepted,
    Reminder,
    ResetNotice,
    StepMessage,
    ThreadOpener,
    TroubleAnswer,
    TroubleOffer,
)
from bot.core.metrics import Metrics
from bot.core.outbound import Priority, priority
from bot.core.platform import CannotLook, ChatPlatform, Failure, Platforms
from bot.core.retiring import Kind, Retiring
from bot.core.sos import HelpDesk
from bot.core.support import SupportReports
from conversations.conversation import Conversation
from conversations.events import (
    AnswerTrouble,
    CheckFinished,
    ClosedAs,
    CloseStep,
    ConfirmHelpComing,
    Effect,
    EndGiverRun,
    HandOver,
    KeyVerdict,
    Milestone,
    OfferTroubles,
    OpenThread,
    PostStep,
    Remind,
    Report,
    ReportTrouble,
    RunKeyCheck,
    StepPosted,
    TellHandOver,
    TellReset,
    ThreadOpened,
)
from conversations.guide import Guide
from conversations.outbox import OutboxBatch
from conversations.service import Handled, OnboardingService

logger = logging.getLogger(__name__)

KeyCheckRunner = Callable[[Conversation], Awaitable[None]]
ReplaceClicked = Callable[[ClosedStep], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Trigger:
    """Where the effects came from: the clicked message (for Done/Back), a key check to run, or a recovery.

    ``replace_clicked`` closes the clicked message through the click itself (Slack's ``response_url``), which spends
    none of the platform's edit budget; the runner edits it as usual when that fails or is not offered.
    """

    clicked_ref: str | None = None
    replace_clicked: ReplaceClicked | None = None
    run_key_check: KeyCheckRunner | None = None
    recovering: bool = False


class EffectRunner:
    """Turns effects into platform calls for one conversation at a time."""

    def __init__(
        self,
        service: OnboardingService,
        platforms: Platforms,
        reports: SupportReports,
        metrics: Metrics,
        help_desk: HelpDesk | None = None,
        spawn: Callable[[Coroutine[Any, Any, None], str], None] | None = None,
    ) -> None:
        self._help_desk = help_desk
        self._spawn = spawn
        self._service = service
        self._platforms = platforms
        self._reports = reports
        self._metrics = metrics
        self._retiring = Retiring(service, platforms)

    @property
    def retiring(self) -> Retiring:
        """Closes the buttons whose moment passed (old results and reminders)."""
        return self._retiring

    @property
    def guide(self) -> Guide:
        """The guide being shown."""
        return self._service.guide

    async def carry_out(self, outcome: Handled, trigger: Trigger | None = None) -> None:
        """Carry out ``outcome.effects`` in order, then settle its outbox batch.

        The platform refusing a call tells the user how to carry on (and settles: retrying would be refused
        again); the platform being unreachable leaves the batch in the outbox, which the due queue retries later.
        """
        trigger = trigger or Trigger()
        state = outcome.state
        if state is None:
            return
        platform = self._platforms.get(state.platform)
        if platform is None:
            logger.warning("no %s platform in this process; its work stays in the outbox", state.platform)
            return
        if outcome.batch is None:
            await self._carry_out_all(platform, outcome, state, trigger, None)
            return
        grace = self._service.outbox_grace
        lasts = lease.lease_for(grace)
        # The process that saved the batch takes its lease only if the batch is still running well before recovery
        # could look (most finish in milliseconds); a recovery takes it at once, to keep out any other recovery.
        after = 0.0 if trigger.recovering else min(lasts / 3, grace / 2)
        async with lease.hold(self._service.store, state.key, outcome.batch, lasts, after=after) as held:
            if not held:
                logger.info("an outbox batch is being carried out by another process; leaving it to it")
                return
            await self._carry_out_all(platform, outcome, state, trigger, held)

    async def _carry_out_all(
        self,
        platform: ChatPlatform,
        outcome: Handled,
        state: Conversation,
        trigger: Trigger,
        held: lease.Lease | None,
    ) -> None:
        clicked = trigger.clicked_ref
        # Closing an older step message only tidies (its buttons are safe against stale clicks, and closing is
        # idempotent): it runs after the batch, in the background and at COSMETIC priority, so nobody waits for it.
        tidy = [isinstance(e, CloseStep) and e.ref not in (None, clicked) for e in outcome.effects]
        effects = [e for e, t in zip(outcome.effects, tidy, strict=True) if not t]
        tidying = [e for e, t in zip(outcome.effects, tidy, strict=True) if t and isinstance(e, CloseStep)]
        if self._spawn is None:
            effects += tidying
        try:
            for effect in effects:
                if held is not None and held.lost:
                    # This process stalled past the outbox's grace period and a recovery took the batch: two
                    # processes carrying on would post the same step twice. The recovery finishes and settles it.
                    logger.warning("stopped an outbox batch midway: another process is recovering it")
                    return
                state = await self._carry_out_one(platform, state, effect, trigger)
            if tidying and self._spawn is not None:
                self._spawn(self._tidy(platform, state, tidying), "tidy_steps")
        except Exception as exc:
            failed = platform.failure(exc)
            if failed is None:
                raise
            kind, detail = failed
            if kind is Failure.UNREACHABLE:
                logger.warning("%s unreachable (%s) for a guide; retrying later", platform.label, detail)
                return
            logger.warning("%s refused a call for a guide: %s", platform.label, detail)
            await platform.tell(state.channel, state.user, NotAccepted(detail))
        if outcome.batch is not None:
            await self._service.settle(state.key, outcome.batch)

    async def recover(self, state: Conversation, batch: OutboxBatch) -> None:
        """Carry out a batch that the process which saved it never finished (it died, or the platform was down)."""
        logger.info("recovering %d effect(s) for a guide", len(batch.effects))
        await self.carry_out(Handled(state, batch.unpack(), batch=batch.id), Trigger(recovering=True))

    async def _carry_out_one(
        self, platform: ChatPlatform, state: Conversation, effect: Effect, trigger: Trigger
    ) -> Conversation:
        match effect:
            case OpenThread():
                if state.thread_ref is not None:  # already opened (a recovery repeating the batch)
                    return state
                return await self._open_thread(platform, state, look_first=trigger.recovering)
            case PostStep():
                if effect.step_id != state.step_id or state.step_message_ref is not None:
                    return state  # the user has moved on, or the step is already posted
                if state.thread_ref is None:
                    # The process that was opening the thread died before recording it: find it, or open it.
                    state = await self._open_thread(platform, state, look_first=True)
                return await self._post_step(platform, state, effect, look_first=trigger.recovering)
            case CloseStep():
                ref = effect.ref
                if ref is None and effect.outcome in (ClosedAs.DONE, ClosedAs.WENT_BACK):
                    ref = trigger.clicked_ref  # the click came from this very step message
                index = self.guide.position(effect.step_id)  # None: a step an edit removed, nothing to render
                if ref is not None and index is not None:
                    closed = ClosedStep(index, effect.outcome)
                    if ref != trigger.clicked_ref:
                        with priority(Priority.COSMETIC):
                            await self._close_step(platform, state, ref, closed)
                    elif not await self._replaced_clicked(trigger, closed):
                        await self._close_step(platform, state, ref, closed)
            case ConfirmHelpComing() if (index := self.guide.position(effect.step_id)) is not None:
                promise = await self._help_desk.promise(state) if self._help_desk else None
                await platform.post(state.channel, HelpComing(index, promise), thread=state.thread_ref)
            case OfferTroubles() if (index := self.guide.position(effect.step_id)) is not None:
                offer = TroubleOffer(index, state.user)
                await platform.tell(state.channel, state.user, offer, thread=state.thread_ref)
            case AnswerTrouble() if (index := self.guide.position(effect.step_id)) is not None:
                answer = TroubleAnswer(index, effect.trouble_id, state.user, self._jumped_to(effect.step_id, effect))
                await platform.tell(state.channel, state.user, answer, thread=state.thread_ref)
            case ReportTrouble():
                await self._report_trouble(platform, state, effect)
            case Report():
                if effect.milestone is Milestone.STARTED:
                    self._metrics.guides_started.inc()
                await self._reports.milestone(state, effect.milestone, effect.step_id)
            case RunKeyCheck():
                if trigger.run_key_check is not None:
                    await trigger.run_key_check(state)
                elif trigger.recovering:
                    await self._key_check_lost(platform, state)
            case Remind() if (index := self.guide.position(effect.step_id)) is not None:
                reminder = Reminder(index, state.user, state.nudges)
                # A recovery looks first: the process that stalled may have posted it before another took over.
                found = await self._look(platform, state, reminder) if trigger.recovering else None
                await self._retiring.retire(state, Kind.REMINDER)
                ref = found or await platform.post(state.channel, reminder, thread=state.thread_ref)
                await self._retiring.remember(state, Kind.REMINDER, ref)
            case EndGiverRun():
                await self._end_giver_run(state, effect)
            case TellHandOver() if (index := self.guide.position(state.step_id)) is not None:
                await self._tell_hand_over(platform, state, effect, index)
            case TellReset():
                await self._retiring.retire(state, Kind.REMINDER, Kind.RESULT)
                clinic = await self._service.clinic(state.platform, state.channel)
                kept = None if effect.disconnected or clinic is None else clinic.connection
                await platform.post(state.channel, ResetNotice(effect.disconnected, kept), thread=state.thread_ref)
        return state

    def _jumped_to(self, step_id: str, effect: AnswerTrouble | ReportTrouble) -> int | None:
        """Where the trouble's ``go_to`` took the guide (None when it has none, or an edit removed either)."""
        step = self.guide.steps[index] if (index := self.guide.position(step_id)) is not None else None
        trouble = step.trouble(effect.trouble_id) if step is not None else None
        return self.guide.position(trouble.go_to) if trouble is not None and trouble.go_to else None

    async def _report_trouble(self, platform: ChatPlatform, state: Conversation, effect: ReportTrouble) -> None:
        """Count the trouble, and tell support in one quiet line (no broadcast, nobody mentioned)."""
        self._metrics.troubles_chosen.labels(effect.step_id, effect.trouble_id).inc()
        index = self.guide.position(effect.step_id)
        trouble = self.guide.steps[index].trouble(effect.trouble_id) if index is not None else None
        if index is None or trouble is None:
            return
        who = await platform.person(state.user)
        line = copy.trouble_reported(self.guide, index, trouble, who, self._jumped_to(effect.step_id, effect))
        await self._reports.note(state, line)

    async def _end_giver_run(self, state: Conversation, effect: EndGiverRun) -> None:
        """End the run this one continues; already ended (a recovery repeating the batch) is fine."""
        giver = replace(state.key, user=effect.giver)
        ended = await self._service.handle(giver, HandOver(state.user, effect.at, started_at=effect.started_at))
        if ended.refused is not None:
            if not ended.refused.stale:  # their own key check began a moment before: it finishes as theirs
                logger.warning("a hand-over could not end the giver's run: %s", ended.refused.reason)
            return
        await self.carry_out(ended)  # the giver's buttons go

    async def _tell_hand_over(
        self, platform: ChatPlatform, state: Conversation, effect: TellHandOver, index: int
    ) -> None:
        notice = GuideHandedOver(effect.giver, state.user, index, taken=effect.taken)
        await platform.post(state.channel, notice, thread=state.thread_ref)
        giver, receiver = await platform.person(effect.giver), await platform.person(state.user)
        how = f"took over the guide from {giver}" if effect.taken else f"was handed the guide by {giver}"
        step = f"step {index + 1}/{self.guide.step_count}"
        await self._reports.note(state, f":handshake: {receiver} {how} at {step}.")

    async def tidy_after(self, state: Conversation, connected: bool) -> None:
        """After a verified key: retire the person's older results and reminders, and (``connected``) mark the opener.

        Runs in the background at ``COSMETIC`` priority (at once without a background runner, a one-off tool): the
        result is already in the thread, so no one waits for these edits.
        """

        async def tidy() -> None:
            with priority(Priority.COSMETIC):
                await self.retiring.retire(state, Kind.RESULT, Kind.REMINDER)
                if connected:
                    await self.mark_connected(state)

        if self._spawn is None:
            await tidy()
        else:
            self._spawn(tidy(), "tidy_after_key")

    async def mark_connected(self, state: Conversation) -> None:
        """Edit the person's thread opener to say their key connected the clinic ("… connected Dentally ✅").

        A courtesy for whoever scans the channel, sent at ``COSMETIC`` priority: a refused or unreachable edit is
        logged and never undoes or delays what the person was told in the thread.
        """
        platform = self._platforms.get(state.platform)
        if platform is None or state.thread_ref is None:
            return
        try:
            with priority(Priority.COSMETIC):
                await platform.edit(state.channel, state.thread_ref, ThreadOpener(state.user, connected=True))
        except Exception as exc:
            failed = platform.failure(exc)
            if failed is None:
                raise
            logger.warning("%s did not take the connected opener (%s); carrying on", platform.label, failed[1])

    async def _close_step(self, platform: ChatPlatform, state: Conversation, ref: str, closed: ClosedStep) -> None:
        """Edit a step message to its closed form; a refused edit (a deleted message, say) never blocks what follows.

        Closing only tidies the thread, while the next step is what the user waits for. Unreachable still raises,
        so the batch stays in the outbox and is retried whole.
        """
        try:
            await platform.edit(state.channel, ref, closed, thread=state.thread_ref)
        except Exception as exc:
            failed = platform.failure(exc)
            if failed is None or failed[0] is not Failure.REFUSED:
                raise
            logger.warning("%s refused to close a step message (%s); carrying on", platform.label, failed[1])

    async def _tidy(self, platform: ChatPlatform, state: Conversation, closes: list[CloseStep]) -> None:
        """Close older step messages at COSMETIC priority; a failure only leaves safe, stale buttons behind."""
        for close in closes:
            index = self.guide.position(close.step_id)
            if close.ref is None or index is None:
                continue
            try:
                with priority(Priority.COSMETIC):
                    await platform.edit(state.channel, close.ref, ClosedStep(index, close.outcome), state.thread_ref)
            except Exception as exc:
                failed = platform.failure(exc)
                if failed is None:
                    raise
                logger.warning("%s did not close an older step message (%s)", platform.label, failed[1])

    async def _replaced_clicked(self, trigger: Trigger, closed: ClosedStep) -> bool:
        """Close the clicked step through the click itself; False when not offered or it failed (then edit it)."""
        if trigger.replace_clicked is None:
            return False
        try:
            await trigger.replace_clicked(closed)
        except Exception as exc:  # any failure of this shortcut falls back to the ordinary edit
            logger.warning("closing the clicked step through the click failed (%s); editing it", type(exc).__name__)
            return False
        return True

    async def _look(
        self, platform: ChatPlatform, state: Conversation, message: ThreadOpener | StepMessage | Reminder
    ) -> str | None:
        try:
            return await platform.find_posted(state, message)
        except CannotLook:
            # Pinned by a test: on such a platform a crash between its answer and our save can post twice.
            logger.info("%s cannot look up earlier posts; posting again", platform.label)
            return None

    async def _open_thread(self, platform: ChatPlatform, state: Conversation, look_first: bool) -> Conversation:
        opener = ThreadOpener(state.user)
        found = await self._look(platform, state, opener) if look_first else None
        ref = found or await platform.post(state.channel, opener)
        return await self._record(state, ThreadOpened(ref))

    async def _post_step(
        self, platform: ChatPlatform, state: Conversation, effect: PostStep, look_first: bool
    ) -> Conversation:
        index = self.guide.index_of(effect.step_id)  # the current step: carry_out checked it
        step = self.guide.steps[index]
        message = StepMessage(index, state.user, again=effect.again)
        found = await self._look(platform, state, message) if look_first else None
        if found is not None:
            return await self._record(state, StepPosted(step.id, found))
        if not effect.again:
            self._metrics.steps_reached.labels(step.id).inc()
        ref = await platform.post(state.channel, message, thread=state.thread_ref)
        return await self._record(state, StepPosted(step.id, ref))

    async def _record(self, state: Conversation, event: ThreadOpened | StepPosted) -> Conversation:
        outcome = await self._service.handle(state.key, event)
        if outcome.effects:  # recording can close a message it supersedes
            await self.carry_out(outcome)
        return outcome.state or state

    async def _key_check_lost(self, platform: ChatPlatform, state: Conversation) -> None:
        """The process checking a key died with the key in memory only: close the check and ask again."""
        outcome = await self._service.handle(
            state.key, CheckFinished(KeyVerdict.COULD_NOT_CHECK, self._service.clock())
        )
        if outcome.refused is not None:
            return
        await self.carry_out(outcome)
        await platform.post(state.channel, KeyCheckLost(state.user), thread=state.thread_ref)
