"""Durable hand-offs: a verified key is handed to Aldense from the due queue until it is delivered or given up.

The verdict's save marks the credential's hand-off "pending" and queues it (``HANDOFF_QUEUE``) in the same atomic
step, so a crash, a failed "Dentally is connected" post or a receiver that is down loses nothing. The process that
verified the key tries at once; the scheduler retries later rounds. Every try holds a lease on the clinic's
hand-off, so two replicas (or the first try and the scheduler) never send at once, and each try re-reads the
credential, so a delivered hand-off is never sent again. The key is read from the encrypted credential for each try
and lives only in memory while it is sent. Support is told once when the hand-off is delivered and once when it
is given up (with the status card's **Re-send hand-off** button as the way on).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.core import lease
from bot.core.credentials import open_stored_key
from bot.core.handoff import Handoff, HandoffResult
from bot.core.support import SupportReports
from conversations.addresses import HANDOFF_QUEUE, clinic_key, store_key
from conversations.clinic import Clinic, StoredCredential
from conversations.service import OnboardingService
from conversations.store import DueChange
from conversations.vault import KeyVault

logger = logging.getLogger(__name__)

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
# Seconds before each later round (each round is ``Handoff.deliver`` with its own quick retries): about 2.5 hours
# of a receiver that is down before support is told.
RETRY_DELAYS = (60.0, 300.0, 1800.0, 7200.0)
# The first try runs right after the result is shown; the queue takes over if it has not finished by then.
FIRST_TRY_GRACE = 120.0


@dataclass(frozen=True, slots=True)
class Sent:
    """What a try did: ``delivered``, ``retrying``, ``failed``, or ``nothing`` (not pending, or another has it)."""

    what: str
    detail: str = ""


def _lease_name(platform: str, channel: str) -> str:
    return store_key("lease", "handoff", clinic_key(platform, channel))


class Handoffs:
    """Hands verified keys to Aldense durably; a no-op when no hand-off URL is configured."""

    def __init__(
        self,
        service: OnboardingService,
        vault: KeyVault | None,
        reports: SupportReports,
        handoff: Handoff | None,
        retry_delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        self._service = service
        self._vault = vault
        self._reports = reports
        self._handoff = handoff
        self._delays = tuple(retry_delays)

    @property
    def enabled(self) -> bool:
        """Whether verified keys are handed off at all."""
        return self._handoff is not None and self._vault is not None

    def queued(self, platform: str, channel: str) -> list[DueChange]:
        """The due change to save with a verified credential (empty when hand-offs are off)."""
        if not self.enabled:
            return []
        return [DueChange(HANDOFF_QUEUE, clinic_key(platform, channel), self._service.clock() + FIRST_TRY_GRACE)]

    def initial_state(self) -> str | None:
        """The hand-off state of a newly verified credential."""
        return PENDING if self.enabled else None

    async def resend(self, platform: str, channel: str) -> Sent:
        """Staff's "Re-send hand-off": make a failed (or stuck) hand-off pending again and try it now."""
        if not self.enabled:
            return Sent("nothing", "no hand-off URL is configured")

        def again(clinic: Clinic) -> Clinic:
            credential = clinic.credential
            if credential is None or credential.handoff not in (FAILED, PENDING):
                return clinic
            fresh = {"handoff": PENDING, "handoff_rounds": 0, "handoff_detail": None}
            return clinic.model_copy(update={"credential": credential.model_copy(update=fresh)})

        changed = await self._service.change_existing_clinic(platform, channel, again)
        credential = changed[0].credential if changed else None
        if credential is None or credential.handoff != PENDING:
            what = "already delivered" if credential and credential.handoff == DELIVERED else "no stored key"
            return Sent("nothing", what)
        return await self.send(platform, channel)

    async def send(self, platform: str, channel: str) -> Sent:
        """Try the clinic's pending hand-off once (one round of quick retries), under the clinic's hand-off lease."""
        if not self.enabled:
            return Sent("nothing")
        store = self._service.store
        async with lease.hold_named(store, _lease_name(platform, channel)) as held:
            if not held:
                return Sent("nothing", "another process is sending it")
            return await self._send(platform, channel)

    async def _send(self, platform: str, channel: str) -> Sent:
        assert self._handoff is not None
        assert self._vault is not None
        store = self._service.store
        item = clinic_key(platform, channel)
        clinic = await self._service.clinic(platform, channel)
        credential = clinic.credential if clinic else None
        # No state but a queue entry: an older replica rewrote the record during a rolling deploy and dropped the
        # field it does not know. Only a pending hand-off is ever queued, so it is still pending.
        if clinic is None or credential is None or credential.handoff not in (PENDING, None):
            await store.unschedule(HANDOFF_QUEUE, item)
            return Sent("nothing")
        token = await open_stored_key(self._service, self._vault, self._reports, platform, channel, credential)
        if token is None:
            result = HandoffResult(False, 0, "the stored key can't be decrypted")
        else:
            result = await self._handoff.deliver(_facts(clinic, credential), token)
        if result.delivered:
            await self._record(platform, channel, credential, DELIVERED, result.detail, None)
            await self._reports.clinic_note(
                platform, channel, f":outbox_tray: Key `…{credential.fingerprint}` handed to Aldense."
            )
            if rounds_before := credential.handoff_rounds:
                logger.info("hand-off delivered after %d earlier round(s)", rounds_before)
                await self._reports.refresh_card(platform, channel)  # it said "not delivered yet"
            return Sent("delivered")
        rounds = credential.handoff_rounds
        if result.retryable and rounds < len(self._delays):
            at = self._service.clock() + self._delays[rounds]
            await self._record(platform, channel, credential, PENDING, result.detail, at, rounds + 1)
            logger.warning("hand-off not delivered (%s); trying again later", result.detail)
            await self._reports.refresh_card(platform, channel, urgent=False)
            return Sent("retrying", result.detail)
        await self._record(platform, channel, credential, FAILED, result.detail, None)
        await self._reports.clinic_note(
            platform,
            channel,
            f":warning: Hand-off of key `…{credential.fingerprint}` failed ({result.detail}; "
            f"{rounds + 1} round(s), {result.attempts} attempt(s) in the last). The key is stored safely "
            "(encrypted): press *Re-send hand-off* on this clinic's status card once the receiver is fixed.",
            broadcast=True,
        )
        await self._reports.refresh_card(platform, channel)
        return Sent("failed", result.detail)

    async def _record(
        self,
        platform: str,
        channel: str,
        tried: StoredCredential,
        state: str,
        detail: str,
        next_try: float | None,
        rounds: int | None = None,
    ) -> None:
        """Save the try's result on the credential that was tried, and move or remove its queue entry with it."""

        def change(clinic: Clinic) -> Clinic:
            current = clinic.credential
            if current is None or current.ciphertext != tried.ciphertext or current.handoff not in (PENDING, None):
                return clinic  # a new key was verified meanwhile: its own hand-off is pending
            update: dict[str, Any] = {"handoff": state, "handoff_detail": detail}
            if rounds is not None:
                update["handoff_rounds"] = rounds
            return clinic.model_copy(update={"credential": current.model_copy(update=update)})

        # Saved only when the record changes, so a newer key's pending entry is never moved by an older try.
        due = [DueChange(HANDOFF_QUEUE, clinic_key(platform, channel), next_try)]
        await self._service.change_existing_clinic(platform, channel, change, due)


def _facts(clinic: Clinic, credential: StoredCredential) -> dict[str, Any]:
    """What the receiver gets besides the key."""
    return {
        "platform": clinic.platform,
        "clinic": {"name": clinic.display_name, "channel": clinic.channel, "team": clinic.team},
        "region": credential.region,
        "scopes": list(credential.scopes),
        "fingerprint": credential.fingerprint,
        "verified_by": credential.verified_by,
        "verified_at": datetime.fromtimestamp(credential.verified_at, UTC).isoformat(),
    }
