"""Forgetting a clinic: its stored key, conversations, clinic record, due work, marks and remembered names.

Also what an access request is answered with (``held``): everything the bot keeps about a clinic, except its key.

A platform may remember more than the core knows of (Teams keeps conversation addresses and people's names); it
says where with a ``Remembered`` function, registered per platform by the composition root.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.core.messages import Forgotten
from bot.core.platform import Platforms
from bot.core.support import SupportReports
from conversations.addresses import ConversationKey, clinic_key, conversation_prefix, store_key
from conversations.clinic import Clinic
from conversations.conversation import Conversation
from conversations.service import OnboardingService
from conversations.store import Purged

logger = logging.getLogger(__name__)

Remembered = Callable[[str | None, Sequence[str]], Sequence[tuple[str, bool]]]
"""``(channel, users) -> [(address, is_prefix), ...]``: where a platform keeps what it learnt about a channel (None:
no channel) and about ``users``, people who appear in no other channel."""


@dataclass(frozen=True, slots=True)
class Erased:
    """What one erasure removed."""

    conversations: int = 0
    clinic: bool = False
    key: bool = False
    unverified_keys: int = 0
    due: int = 0
    marks: int = 0
    names: int = 0
    card_retired: bool = False
    clinic_told: bool = False

    @property
    def nothing(self) -> bool:
        """Whether nothing at all was stored (the clinic was unknown, or already forgotten)."""
        return not (self.conversations or self.clinic or self.due or self.marks or self.names)

    def summary(self) -> str:
        """One line for people: what was erased, counted."""
        if self.nothing:
            return "nothing was stored for that channel"
        parts = [f"{self.conversations} conversation(s)"]
        if self.clinic:
            keys = (["the stored key"] if self.key else []) + (
                [f"{self.unverified_keys} unchecked key(s)"] if self.unverified_keys else []
            )
            parts.append("the clinic record" + (f" (with {' and '.join(keys)})" if keys else " (no key was stored)"))
        parts += [f"{self.due} due-queue entr(ies)", f"{self.marks} mark(s)", f"{self.names} remembered name record(s)"]
        return "erased " + ", ".join(parts)

    def as_dict(self) -> dict[str, object]:
        """For ``aldense-guide forget``'s report."""
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class Held:
    """Everything stored about one clinic, for an access request; keys (even encrypted) are left out."""

    platform: str
    channel: str
    clinic: Clinic | None
    conversations: tuple[Conversation, ...]
    remembered: dict[str, Any] = field(default_factory=dict)

    @property
    def nothing(self) -> bool:
        """Whether nothing is stored about the clinic."""
        return self.clinic is None and not self.conversations and not self.remembered

    def to_json(self) -> str:
        """As JSON: the clinic record without its key, each conversation, and what the platform remembers."""
        clinic = None
        if self.clinic is not None:
            clinic = _without_keys(json.loads(self.clinic.model_dump_json(exclude={"unverified_keys"})))
            clinic["unchecked_keys_kept_for"] = sorted(self.clinic.unverified_keys)
        return json.dumps(
            {
                "platform": self.platform,
                "channel": self.channel,
                "clinic": clinic,
                "conversations": [json.loads(c.to_json()) for c in self.conversations],
                "remembered": self.remembered,
                "note": "Dentally keys are never exported, not even encrypted.",
            },
            indent=2,
            sort_keys=True,
        )


def _without_keys(node: Any) -> Any:
    """``node`` with every encrypted key (a ``ciphertext`` field, wherever a record keeps one) left out."""
    if isinstance(node, dict):
        return {name: _without_keys(value) for name, value in node.items() if name != "ciphertext"}
    if isinstance(node, list):
        return [_without_keys(value) for value in node]
    return node


class Erasure:
    """Finds and erases what the bot stores about a clinic; idempotent."""

    def __init__(
        self,
        service: OnboardingService,
        platforms: Platforms,
        reports: SupportReports,
        remembered: Mapping[str, Remembered] | None = None,
    ) -> None:
        self._service = service
        self._platforms = platforms
        self._reports = reports
        self._remembered = dict(remembered or {})
        self._drops: dict[str, Callable[[str | None, Sequence[str]], None]] = {}

    def remember(self, platform: str, where: Remembered) -> None:
        """Register where ``platform`` keeps what it learnt about channels and people."""
        self._remembered[platform] = where

    def when_forgotten(self, platform: str, drop: Callable[[str | None, Sequence[str]], None]) -> None:
        """Have ``drop(channel, users)`` called after this process erased what ``platform`` remembers of them.

        For copies a platform keeps in memory (Teams' directory cache), so this process forgets them too.
        """
        self._drops[platform] = drop

    async def _keys(self, platform: str) -> list[ConversationKey]:
        # Every team's, by address alone: erasing must work on records this release cannot read (a newer one's).
        rows = await self._service.store.scan(store_key("conv", platform) + ":")
        return [ConversationKey.parse(address) for address, _ in rows]

    async def stored(self, platform: str, channel: str) -> tuple[int, dict[str, Any] | None]:
        """How many guides are stored for ``channel``, and its clinic record as plain JSON (None when absent)."""
        mine = [key for key in await self._keys(platform) if key.channel == channel]
        record = await self._service.store.get(clinic_key(platform, channel))
        return len(mine), (json.loads(record.data) if record is not None else None)

    async def held(self, platform: str, channel: str) -> Held:
        """What is stored about the clinic of ``channel`` (never its key).

        Raises:
            IncompatibleRecord: A record was written by a newer release (finish its deploy first).
        """
        everyone = await self._keys(platform)
        mine = [key for key in everyone if key.channel == channel]
        conversations = [c for key in mine if (c := await self._service.conversation(key)) is not None]
        remembered: dict[str, Any] = {}
        for address, prefix in self._addresses(platform, channel, mine, everyone):
            record = None if prefix else await self._service.store.get(address)
            if record is not None:
                remembered[address] = json.loads(record.data)
        clinic = await self._service.clinic(platform, channel)
        return Held(platform, channel, clinic, tuple(conversations), remembered)

    def _addresses(
        self, platform: str, channel: str, mine: Sequence[ConversationKey], everyone: Sequence[ConversationKey]
    ) -> Sequence[tuple[str, bool]]:
        where = self._remembered.get(platform)
        if where is None:
            return ()
        return where(channel, self._only_here(channel, mine, everyone))

    @staticmethod
    def _only_here(channel: str, mine: Sequence[ConversationKey], everyone: Sequence[ConversationKey]) -> list[str]:
        elsewhere = {key.user for key in everyone if key.channel != channel}
        return sorted({key.user for key in mine} - elsewhere)

    async def forget(self, platform: str, channel: str, by: str, tell_clinic: bool = False) -> Erased:
        """Erase everything stored about the clinic of ``channel``, then retire its status card.

        Args:
            platform: The clinic's platform (``slack``, ``teams``).
            channel: Its shared channel's id.
            by: Who asked, as support should read it on the retired card.
            tell_clinic: Also tell the clinic's channel, politely, that its data was erased.
        """
        store = self._service.store
        stored = await store.get(clinic_key(platform, channel))
        # Read as plain JSON, not as a ``Clinic``: a record a newer release wrote must be erasable too.
        clinic: dict[str, Any] = json.loads(stored.data) if stored is not None else {}
        everyone = await self._keys(platform)
        mine = [key for key in everyone if key.channel == channel]
        told = await self._tell(platform, channel) if tell_clinic and (stored or mine) else False
        purged = Purged()
        for team in sorted({key.team for key in mine}):
            purged += await store.purge(conversation_prefix(platform, team, channel), prefix=True)
        for key in mine:
            purged += await store.purge(store_key("lease", str(key)) + ":", prefix=True)
        conversations = purged.records
        at_clinic = await store.purge(clinic_key(platform, channel))
        names = Purged()
        for address, prefix in self._addresses(platform, channel, mine, everyone):
            names += await store.purge(address, prefix=prefix)
        drop = self._drops.get(platform)
        if drop is not None:
            drop(channel, self._only_here(channel, mine, everyone))
        retired = False
        support_ref = clinic.get("support_ref")
        if isinstance(support_ref, str) and support_ref:
            when = datetime.fromtimestamp(self._service.clock(), UTC).strftime("%Y-%m-%d %H:%M UTC")
            retired = await self._reports.retire_card(
                support_ref,
                f":wastebasket: A clinic's onboarding data was erased on {when} by {by}. Its replies in this thread "
                "are Slack messages and were not changed.",
            )
        erased = Erased(
            conversations=conversations,
            clinic=at_clinic.records > 0,
            key=bool(clinic.get("credential")),
            unverified_keys=len(clinic.get("unverified_keys") or {}),
            due=purged.due + at_clinic.due + names.due,
            marks=purged.marks + at_clinic.marks + names.marks,
            names=names.records,
            card_retired=retired,
            clinic_told=told,
        )
        logger.info("forgot a %s clinic: %s", platform, erased.summary())
        return erased

    async def forget_conversation(self, key: ConversationKey) -> Purged:
        """Erase one person's guide (the retention rule), and their remembered name if no other guide needs it."""
        store = self._service.store
        purged = await store.purge(str(key))
        purged += await store.purge(store_key("lease", str(key)) + ":", prefix=True)
        where = self._remembered.get(key.platform)
        if where is not None and not any(other.user == key.user for other in await self._keys(key.platform)):
            # Only the person's records: the channel's own stay while its clinic does.
            for address, prefix in where(None, [key.user]):
                purged += await store.purge(address, prefix=prefix)
            drop = self._drops.get(key.platform)
            if drop is not None:
                drop(None, [key.user])
        return purged

    async def _tell(self, platform: str, channel: str) -> bool:
        served = self._platforms.get(platform)
        if served is None:
            return False
        try:
            await served.post(channel, Forgotten())
        except Exception as exc:
            if served.failure(exc) is None:
                raise
            logger.warning("could not tell a %s clinic it was forgotten: %s", served.label, type(exc).__name__)
            return False
        return True
