"""The retention rule: abandoned or idle guides are erased after ``RETENTION_DAYS``, and check results keep no names.

What is kept, and for how long:

- A guide (conversation) that is not verified (abandoned, or still in progress) and that its person has not moved
  for the retention period (reminders do not count) is erased with its due work and leases. A verified guide is
  kept while its clinic is, as the record of who connected it.
- A clinic record with no stored key and no guide left, not updated for the retention period, is erased like
  ``forget`` does (its card retired, its remembered names gone); a clinic with a stored key is kept until staff
  forget it, because the key is what Aldense uses.
- A check result keeps the Dentally user's id and permission level (which account the key belongs to) but never
  their name or e-mail address: the check reads them from Dentally, and they are dropped before the result is
  stored (``kept_check``).
  Records written before this rule are cleaned by the sweep.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from bot.core.erasure import Erasure
from conversations.addresses import ConversationKey, parse_clinic_key, store_key
from conversations.clinic import Clinic
from conversations.conversation import Conversation, Status
from conversations.schema import IncompatibleRecord
from conversations.service import OnboardingService
from dentally.outcome import CheckResult

logger = logging.getLogger(__name__)

SWEEP_EVERY_SECONDS = 3600.0
"""One replica sweeps at most this often (a mark in the store elects it)."""

SWEEP_MARK = store_key("retention", "sweep")

_PERSONAL_USER_FIELDS = ("first_name", "last_name", "email")


def kept_check(result: CheckResult) -> dict[str, object]:
    """What a clinic record keeps of a check: everything but the Dentally user's name and e-mail address."""
    return _without_names(json.loads(result.model_dump_json()))


def _without_names(summary: dict[str, object]) -> dict[str, object]:
    user = summary.get("user")
    if isinstance(user, dict) and any(user.get(name) for name in _PERSONAL_USER_FIELDS):
        summary = {**summary, "user": {k: v for k, v in user.items() if k not in _PERSONAL_USER_FIELDS}}
    return summary


def _clean_check(clinic: Clinic) -> Clinic:
    if clinic.last_check is None:
        return clinic
    return clinic.model_copy(update={"last_check": _without_names(clinic.last_check)})


@dataclass(frozen=True, slots=True)
class Swept:
    """What one sweep erased or cleaned."""

    guides: int = 0
    clinics: int = 0
    checks_cleaned: int = 0


class Retention:
    """Applies the retention rule to every platform's records; ``sweep`` is called by the due-work loop."""

    def __init__(self, service: OnboardingService, erasure: Erasure, days: float) -> None:
        self._service = service
        self._erasure = erasure
        self.seconds = days * 86400.0

    def expired(self, conversation: Conversation, now: float) -> bool:
        """Whether ``conversation`` is not verified and unmoved for longer than the retention period."""
        return conversation.status is not Status.VERIFIED and now - conversation.updated_at > self.seconds

    async def sweep(self, now: float, force: bool = False) -> Swept:
        """Erase what the rule says has been kept long enough; at most once per ``SWEEP_EVERY_SECONDS`` overall.

        Args:
            now: Unix time now (the loop's clock).
            force: Sweep even when a replica swept recently (tests, and ``forget``'s own tooling).
        """
        store = self._service.store
        if not force and not await store.mark_once(SWEEP_MARK, SWEEP_EVERY_SECONDS):
            return Swept()
        guides = clinics = cleaned = 0
        # Every platform's records, configured here or not: a platform switched off keeps no data for ever.
        kept_channels: set[tuple[str, str]] = set()
        for address, record in await store.scan(store_key("conv") + ":"):
            key = ConversationKey.parse(address)
            try:
                conversation = self._service.conversation_from(record.data)
            except IncompatibleRecord:
                kept_channels.add((key.platform, key.channel))  # a newer release's record: it applies its own rule
                continue
            if self.expired(conversation, now):
                await self._erasure.forget_conversation(key)
                guides += 1
            else:
                kept_channels.add((key.platform, key.channel))
        days = round(self.seconds / 86400)
        for address, record in await store.scan(store_key("clinic") + ":"):
            try:
                clinic = Clinic.model_validate_json(record.data)
            except IncompatibleRecord:
                continue
            platform, channel = parse_clinic_key(address)
            idle = now - clinic.updated_at > self.seconds
            if clinic.credential is None and (platform, channel) not in kept_channels and idle:
                await self._erasure.forget(platform, channel, by=f"the retention rule ({days} days without activity)")
                clinics += 1
            elif clinic.last_check is not None and _without_names(clinic.last_check) != clinic.last_check:
                await self._service.update_clinic(platform, channel, _clean_check)
                cleaned += 1
        swept = Swept(guides, clinics, cleaned)
        if guides or clinics or cleaned:
            logger.info(
                "retention: erased %d guide(s) and %d clinic(s), cleaned %d check result(s)", guides, clinics, cleaned
            )
        return swept
