"""Hand-over on any platform: a guide moves to the colleague with the Dentally login, or someone takes it over.

Conversations are keyed by user, so a guide's progress moves by two transitions: the receiver's run starts at the
same step, in the same thread, with the same progress, and saves with it the effect that ends the giver's run (handed
over, its step message closed), so a crash between the two can only delay the second, never lose it. The step is
posted again with the receiver's buttons, so every older button answers "not yours" (with "Take over", which is
also how the giver takes it back). Everyone in the thread and Aldense support are told.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.core.messages import Refused
from bot.core.platform import Platforms
from bot.core.runner import EffectRunner
from bot.core.support import SupportReports
from bot.logs import bind_ids
from conversations.addresses import ConversationKey
from conversations.conversation import Status
from conversations.events import TakeOver
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
            taken = by == receiver
            steps = dict(state.steps)
            event = TakeOver(state.user, state.step_id, state.thread_ref, steps, state.started_at, at, taken)
            continued = await self._service.handle(to, event)
        except StoreUnavailable:
            logger.warning("a hand-over was not made: the state store is unreachable")
            await self._tell(giver, by, Refused("Aldense Guide is temporarily unavailable — please try again"))
            return
        if continued.refused is not None or continued.state is None:
            reason = continued.refused.reason if continued.refused else "that guide is no longer in progress"
            await self._tell(giver, by, Refused(reason))
            return
        # Ends the giver's run, tells the thread and support, then posts the step with the receiver's buttons.
        await self._runner.carry_out(continued)

    async def _tell(self, key: ConversationKey, user: str, message: Refused) -> None:
        platform = self._platforms.get(key.platform)
        if platform is not None:
            await platform.tell(key.channel, user, message)
