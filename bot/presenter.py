"""Carries out the machine's effects on Slack: opens threads, posts and closes step messages, reports milestones."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, slack_calls
from bot.metrics import Metrics
from bot.reporting import SupportReporter
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

# What Slack answers when it could not fetch an image_url; the step is then posted without its picture.
_IMAGE_ERRORS = frozenset({"invalid_blocks", "downloading_image_failed"})

KeyCheckRunner = Callable[[Conversation], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Trigger:
    """Where the effects came from: the clicked message (for Done/Back), a key check to run, or a recovery."""

    clicked_ts: str | None = None
    run_key_check: KeyCheckRunner | None = None
    recovering: bool = False


class SlackPresenter:
    """Turns effects into Slack calls for one conversation at a time."""

    def __init__(
        self,
        client: AsyncWebClient,
        service: OnboardingService,
        reporter: SupportReporter,
        picture_url: Callable[[Step], str | None],
        metrics: Metrics,
    ) -> None:
        self._metrics = metrics
        self._client = client
        self._service = service
        self._reporter = reporter
        self._picture_url = picture_url

    @property
    def guide(self) -> Guide:
        """The guide being shown."""
        return self._service.guide

    async def carry_out(self, outcome: Outcome, trigger: Trigger | None = None) -> None:
        """Carry out ``outcome.effects`` in order, then settle its outbox batch.

        Slack refusing a call tells the user how to carry on (and settles: retrying would be refused again);
        Slack being unreachable leaves the batch in the outbox, which the due queue retries later.
        """
        trigger = trigger or Trigger()
        state = outcome.state
        if state is None:
            return
        try:
            for effect in outcome.effects:
                state = await self._carry_out_one(state, effect, trigger)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            logger.warning(
                "Slack unreachable (%s) for a guide in %s; retrying later", type(exc).__name__, state.channel
            )
            return
        except SlackApiError as exc:
            if _transient(exc):
                logger.warning("Slack failed for a guide in %s (HTTP %s); retrying later", state.channel, _status(exc))
                return
            error = slack_calls.slack_error(exc)
            logger.warning("Slack call failed for a guide in %s: %s", state.channel, error)
            await slack_calls.ephemeral(
                self._client,
                state.channel,
                state.user,
                f"Sorry — Slack didn't accept my last message ({error}). Mention me with *resume* to see your "
                "current step again; nothing you did was lost.",
            )
        if outcome.batch is not None:
            await self._service.settle(state.key, outcome.batch)

    async def recover(self, state: Conversation, batch: OutboxBatch) -> None:
        """Carry out a batch that the process which saved it never finished (it died, or Slack was down)."""
        logger.info("recovering %d effect(s) for a guide in %s", len(batch.effects), state.channel)
        await self.carry_out(Outcome(state, batch.unpack(), batch=batch.id), Trigger(recovering=True))

    async def _carry_out_one(self, state: Conversation, effect: Effect, trigger: Trigger) -> Conversation:
        match effect:
            case OpenThread():
                if state.thread_ref is not None:  # already opened (a recovery repeating the batch)
                    return state
                return await self._open_thread(state, look_first=trigger.recovering)
            case PostStep():
                if effect.step_id != state.step_id or state.step_message_ref is not None:
                    return state  # the user has moved on, or the step is already posted
                if state.thread_ref is None:
                    # The process that was opening the thread died before recording it: find it, or open it.
                    state = await self._open_thread(state, look_first=True)
                if trigger.recovering and (posted := await self._find_open_step(state, effect.step_id)):
                    return await self._record(state, StepPosted(effect.step_id, posted))
                return await self._post_step(state, effect)
            case CloseStep():
                await self._close_step(state, effect, trigger)
            case ConfirmHelpComing() if (index := self.guide.position(effect.step_id)) is not None:
                text = blocks.help_coming(self.guide, index)
                await slack_calls.post(self._client, state.channel, text, thread_ts=state.thread_ref)
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
                text, reminder = blocks.reminder(self.guide, index, state.user, state.nudges)
                await slack_calls.post(self._client, state.channel, text, reminder, thread_ts=state.thread_ref)
            case TellReset():
                text, notice = blocks.reset_notice(self.guide)
                await slack_calls.post(self._client, state.channel, text, notice, thread_ts=state.thread_ref)
        return state

    # A process can die between Slack accepting a post and the state recording it. Recovery looks in Slack before
    # posting again, so a message is never posted twice (this needs the channels:history/groups:history scopes).
    async def _open_thread(self, state: Conversation, look_first: bool) -> Conversation:
        opener = blocks.thread_opener(state.user, self.guide)
        found = await self._find_opener(state, opener, state.started_at) if look_first else None
        ts = found or await slack_calls.post(self._client, state.channel, opener)
        return await self._record(state, ThreadOpened(ts))

    async def _find_opener(self, state: Conversation, opener: str, since: float) -> str | None:
        try:
            history = await self._client.conversations_history(channel=state.channel, oldest=f"{since - 60:.6f}")
        except SlackApiError as exc:
            logger.warning("conversations.history failed during recovery: %s", slack_calls.slack_error(exc))
            return None
        for message in history.get("messages") or []:
            if message.get("bot_id") and message.get("text") == opener:
                return str(message["ts"])
        return None

    async def _find_open_step(self, state: Conversation, step_id: str) -> str | None:
        if state.thread_ref is None:
            return None
        try:
            replies = await self._client.conversations_replies(channel=state.channel, ts=state.thread_ref, limit=200)
        except SlackApiError as exc:
            logger.warning("conversations.replies failed during recovery: %s", slack_calls.slack_error(exc))
            return None
        prefix = f"step:{step_id}:"
        for message in reversed(replies.get("messages") or []):
            ids = [str(block.get("block_id", "")) for block in message.get("blocks") or []]
            if (
                message.get("bot_id")
                and any(i.startswith(prefix) for i in ids)
                and any(i.endswith(":actions") for i in ids)
            ):
                return str(message["ts"])
        return None

    async def _key_check_lost(self, state: Conversation) -> None:
        """The process checking a key died with the key in memory only: close the check and ask again."""
        outcome = await self._service.handle(state.key, CheckFinished(Verdict.COULD_NOT_CHECK, self._service.clock()))
        if outcome.refused is not None:
            return
        await self.carry_out(outcome)
        text, retry = blocks.key_check_lost(self.guide, state.user)
        await slack_calls.post(self._client, state.channel, text, retry, thread_ts=state.thread_ref)

    async def _record(self, state: Conversation, event: ThreadOpened | StepPosted) -> Conversation:
        outcome = await self._service.handle(state.key, event)
        if outcome.effects:  # e.g. closing a message of this step that a racing post superseded
            await self.carry_out(outcome)
        return outcome.state or state

    async def _post_step(self, state: Conversation, effect: PostStep) -> Conversation:
        index = self.guide.index_of(effect.step_id)  # the current step: carry_out checked it
        step = self.guide.steps[index]
        if not effect.again:
            self._metrics.steps_reached.labels(step.id).inc()
        url = self._picture_url(step)
        text, step_blocks = blocks.step_message(self.guide, index, state.user, url, again=effect.again)
        try:
            ts = await slack_calls.post(self._client, state.channel, text, step_blocks, thread_ts=state.thread_ref)
        except SlackApiError as exc:
            if url is None or slack_calls.slack_error(exc) not in _IMAGE_ERRORS:
                raise
            logger.warning("step %s posted without its picture: Slack could not use %s", step.id, url)
            text, step_blocks = blocks.step_message(self.guide, index, state.user, None, again=effect.again)
            ts = await slack_calls.post(self._client, state.channel, text, step_blocks, thread_ts=state.thread_ref)
        return await self._record(state, StepPosted(step.id, ts))

    async def _close_step(self, state: Conversation, effect: CloseStep, trigger: Trigger) -> None:
        ts = effect.ref
        if ts is None and effect.outcome is not StepOutcome.SUPERSEDED:
            ts = trigger.clicked_ts  # the click came from this very step message
        index = self.guide.position(effect.step_id)
        if ts is None or index is None:  # no message, or a step an edit removed: nothing to render it with
            return
        text, closed = blocks.closed_step(self.guide, index, effect.outcome)
        await slack_calls.update(self._client, state.channel, ts, text, closed)


def _status(exc: SlackApiError) -> int:
    return int(getattr(getattr(exc, "response", None), "status_code", 200) or 200)


def _transient(exc: SlackApiError) -> bool:
    """Whether Slack may well accept the same call later (overloaded or down, after the client's own retries)."""
    return _status(exc) >= 500 or _status(exc) == 429
