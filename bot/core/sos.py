"""A clinic's request for help: what the person is promised about a human's answer, and closing it when staff answer."""

from __future__ import annotations

import logging
from datetime import tzinfo
from zoneinfo import ZoneInfo

from bot.core.clinics import duration
from bot.core.hours import SupportHours, TheirZone, promise
from bot.core.platform import Platforms
from bot.core.support import SupportReports
from conversations.addresses import ConversationKey
from conversations.conversation import Conversation
from conversations.events import HelpGiven
from conversations.service import OnboardingService

logger = logging.getLogger(__name__)

# The main time zone of each Dentally region: the best guess at a clinic's zone when its platform does not say.
REGION_ZONES = {"uk": "Europe/London", "au": "Australia/Sydney", "ca": "America/Toronto"}


class HelpDesk:
    """Promises and closes requests for help (``I'm stuck``) on every platform; support itself works in Slack."""

    def __init__(
        self,
        service: OnboardingService,
        platforms: Platforms,
        reports: SupportReports,
        hours: SupportHours | None = None,
        wait_minutes: int | None = None,
    ) -> None:
        self._service = service
        self._platforms = platforms
        self._reports = reports
        self.hours = hours
        self.wait_minutes = wait_minutes

    async def promise(self, state: Conversation) -> str | None:
        """When a human is likely to answer, said in the person's zone (None when no hours or wait are set)."""
        if self.hours is None and self.wait_minutes is None:
            return None
        zone = await self.zone_of(state) if self.hours is not None else None
        return promise(self.hours, self.wait_minutes, self._service.clock(), zone)

    async def zone_of(self, state: Conversation) -> TheirZone | None:
        """The person's zone from their platform; else the main zone of the clinic's Dentally region; else None.

        Slack Connect profiles of another organisation often carry no ``tz``: then the region is the guess, and the
        person is told which zone the time is in rather than "your time".
        """
        served = self._platforms.get(state.platform)
        told: tzinfo | None = None
        if served is not None:
            try:
                told = await served.time_zone(state.user)
            except Exception as exc:  # a courtesy: never let it stop the answer
                if served.failure(exc) is None:
                    raise
                told = None
        if told is not None:
            return TheirZone(told, theirs=True, name=str(told))
        clinic = await self._service.clinic(state.platform, state.channel)
        region = None
        if clinic is not None:
            region = clinic.connection.key.region if clinic.connection else clinic.regions.get(state.user)
        if region in REGION_ZONES:
            name = REGION_ZONES[str(region)]
            return TheirZone(ZoneInfo(name), theirs=False, name=name)
        return None

    async def answered(self, key: ConversationKey, asked_at: float | None, by: str, how: str | None) -> float | None:
        """Close ``key``'s open request for help; ``how`` (e.g. "answered in their thread") also notes it for support.

        Args:
            key: Whose request.
            asked_at: Which request (when it was made); None closes whichever is open.
            by: Who answered, as support reads them.
            how: What they did, for a line in the support thread; None posts nothing (the caller shows it).

        Returns:
            How long the request waited (seconds), or None when no such request was open.
        """
        before = await self._service.conversation(key)
        asked = asked_at if asked_at is not None else (before.stuck_at if before is not None else None)
        outcome = await self._service.handle(key, HelpGiven(self._service.clock(), asked_at))
        if outcome.refused is not None or outcome.state is None or asked is None:
            return None
        waited = self._service.clock() - asked
        if how is not None:
            person = await self._reports_person(outcome.state)
            note = f":white_check_mark: {by} {how}: {person}'s request for help is closed (waited {duration(waited)})."
            await self._reports.note(outcome.state, note)
            await self._reports.close_page(
                outcome.state, asked, f":white_check_mark: {by} {how} after {duration(waited)}"
            )
        await self._reports.refresh_card(key.platform, key.channel)
        return waited

    async def _reports_person(self, state: Conversation) -> str:
        served = self._platforms.get(state.platform)
        return await served.person(state.user) if served else "a clinic user"
