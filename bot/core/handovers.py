"""Hand-over on any platform: a guide moves to the colleague with the Dentally login, or someone takes it over.

Conversations are keyed by user, so a guide's progress moves by two transitions: the giver's run ends (handed over,
its step message closed) and the receiver's run starts at the same step, in the same thread, with the same
progress; the step is posted again with the receiver's buttons, so every older button answers "not yours" (with
"Take over", which is also how the giver takes it back). Everyone in the thread and Aldense support are told.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.core.messages import GuideHandedOver, Refused
from bot.core.platform import Platforms
from bot.core.runner import EffectRunner
from bot.core.support import SupportReports
from bot.logs import bind_ids
from conversations.addresses import ConversationKey
from conversations.conversation import Conversation, Status
from conversations.events import HandOver, TakeOver
from conversations.service import OnboardingService
from conversations.store import StoreUnavailable

logger = logging.getLogger(__name__)


class HandOvers:
    """Moves a guide from one person to another in the same channel."""

    def __init__(
        self, service: OnboardingService, runner: EffectRunner, platforms: Platforms, reports: SupportReports
    ) -> None:
        self._service = service
        self._runner = runner
        self._platforms = platforms
        self._reports = reports

    async def hand_over(self, key: ConversationKey, to: str) -> None:
        """``key.user`` hands their guide to ``to`` (picked from the channel)."""
        await self._move(key, to, by=key.user)

    async def take_over(self, key: ConversationKey, owner: str) -> None:
        """``key.user`` takes over ``owner``'s guide in the same channel (``owner`` is told in the thread)."""
        await self._move(replace(key, user=owner), key.user, by=key.user)

    async def _move(self, giver: ConversationKey, receiver: str, by: str) -> None:
        bind_ids(conversation=str(giver))
        if receiver == giver.user:
            await self._tell(giver, by, Refused("the guide is already theirs"))
            return
        to = replace(giver, user=receiver)
        try:
            state = await self._service.conversation(giver)
            if state is None or state.status not in (Status.ACTIVE, Status.AWAITING_KEY, Status.NEEDS_NEW_KEY):
                await self._tell(giver, by, Refused("that guide is no longer in progress"))
                return
            theirs = await self._service.conversation(to)
            if theirs is not None and theirs.status is Status.CHECKING:
                await self._tell(giver, by, Refused("a key of theirs is being checked right now"))
                return
            at = self._service.clock()
            ended = await self._service.handle(giver, HandOver(receiver, at))
            if ended.refused is not None or ended.state is None:
                reason = ended.refused.reason if ended.refused else "that guide is no longer in progress"
                await self._tell(giver, by, Refused(reason))
                return
            event = TakeOver(state.user, state.step_id, state.thread_ref, dict(state.steps), state.started_at, at)
            continued = await self._service.handle(to, event)
        except StoreUnavailable:
            logger.warning("a hand-over was not made: the state store is unreachable")
            await self._tell(giver, by, Refused("Aldense Guide is temporarily unavailable — please try again"))
            return
        if continued.refused is not None or continued.state is None:
            # Only a race (their own key check began a moment ago) lands here; the giver's run already ended.
            logger.error("a hand-over ended the giver's run but the receiver's could not start")
            return
        await self._runner.carry_out(ended)  # the giver's buttons go first
        index = self._service.guide.index_of(state.step_id)
        platform = self._platforms.get(giver.platform)
        if platform is not None:
            notice = GuideHandedOver(state.user, receiver, index, taken=by == receiver)
            await platform.post(giver.channel, notice, thread=state.thread_ref)
        await self._runner.carry_out(continued)  # then the step, with the receiver's buttons
        await self._report(continued.state, state.user, receiver, index, taken=by == receiver)

    async def _report(self, state_after: Conversation, giver: str, receiver: str, index: int, taken: bool) -> None:
        platform = self._platforms.get(state_after.platform)
        if platform is None:
            return
        giver_shown, receiver_shown = await platform.person(giver), await platform.person(receiver)
        step = f"step {index + 1}/{self._service.guide.step_count}"
        how = f"took over the guide from {giver_shown}" if taken else f"was handed the guide by {giver_shown}"
        await self._reports.note(state_after, f":handshake: {receiver_shown} {how} at {step}.")

    async def _tell(self, key: ConversationKey, user: str, message: Refused) -> None:
        platform = self._platforms.get(key.platform)
        if platform is not None:
            await platform.tell(key.channel, user, message)
