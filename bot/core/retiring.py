"""Buttons that retire themselves: remember the messages whose buttons may go stale, and close them when they do.

A key result ("Try another key", "Check again") goes stale once that person's key is verified; a reminder
("Resume") once a newer reminder is posted, the person's key is verified, or their guide is reset. The messages are
remembered per person in the clinic record and edited to a closed line through the platform; a platform refusing
an edit (a deleted message) is logged, and a late click on a button that still shows is answered by its handler.
"""

from __future__ import annotations

import logging
from enum import Enum

from bot.core.messages import ClosedReminder, ClosedResult
from bot.core.platform import Platforms
from conversations.clinic import Clinic
from conversations.conversation import Conversation
from conversations.service import OnboardingService

logger = logging.getLogger(__name__)


class Kind(Enum):
    """Which messages, by the clinic record's field that remembers them."""

    RESULT = "live_results"
    REMINDER = "live_reminders"


_CLOSED: dict[Kind, ClosedResult | ClosedReminder] = {Kind.RESULT: ClosedResult(None), Kind.REMINDER: ClosedReminder()}


class Retiring:
    """Remembers messages with buttons that may go stale, and retires them."""

    def __init__(self, service: OnboardingService, platforms: Platforms) -> None:
        self._service = service
        self._platforms = platforms

    async def remember(self, state: Conversation, kind: Kind, ref: str) -> None:
        """Remember that ``ref`` (a message of ``kind`` in ``state``'s thread) has buttons to retire later."""

        def change(clinic: Clinic) -> Clinic:
            live: dict[str, list[str]] = getattr(clinic, kind.value)
            mine = [*live.get(state.user, []), ref]
            return clinic.model_copy(update={kind.value: {**live, state.user: mine}})

        await self._service.update_clinic(state.platform, state.channel, change)

    async def retire(self, state: Conversation, *kinds: Kind) -> None:
        """Close every remembered message of ``kinds`` of ``state``'s person to a line without buttons."""

        def change(clinic: Clinic) -> Clinic:
            update = {
                kind.value: {user: refs for user, refs in getattr(clinic, kind.value).items() if user != state.user}
                for kind in kinds
            }
            return clinic.model_copy(update=update)

        _, before = await self._service.update_clinic(state.platform, state.channel, change)
        platform = self._platforms.get(state.platform)
        if before is None or platform is None:
            return
        for kind in kinds:
            refs: list[str] = getattr(before, kind.value).get(state.user, [])
            for ref in refs:
                try:
                    await platform.edit(state.channel, ref, _CLOSED[kind], thread=state.thread_ref)
                except Exception as exc:
                    if platform.failure(exc) is None:
                        raise
                    logger.warning("an old %s kept its buttons: %s refused the edit", kind.name.lower(), platform.label)
