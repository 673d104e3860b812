"""Key intake, shared by every platform: record a key's fingerprint, check it, keep it encrypted, hand it off.

Each platform reads its own form (a Slack modal, a Teams dialog) and calls ``take``; the guide asks for the check
(``RunKeyCheck``), the result is posted in the person's thread through the platform, and a verified key is handed to
Aldense. The key lives only in memory here, and as Fernet ciphertext at rest.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from bot.core.handoffs import Handoffs
from bot.core.messages import KeyResult, Refused, TemporarilyUnavailable
from bot.core.metrics import Metrics
from bot.core.platform import Platforms
from bot.core.runner import EffectRunner, Trigger
from bot.core.support import SupportReports
from conversations.addresses import KEEPALIVE_QUEUE, ConversationKey, clinic_key
from conversations.clinic import Clinic, StoredCredential
from conversations.conversation import Conversation
from conversations.events import CheckFinished, KeySubmitted, Verdict
from conversations.service import OnboardingService, Outcome
from conversations.store import StoreUnavailable
from conversations.vault import KeyVault, VaultError, fingerprint
from dentally.regions import DETECT, RegionChoice, parse_region
from dentally.scopes import REQUIRED_SCOPES, CheckResult, ScopeCheck, ScopeChecker, ScopeStatus
from dentally.scopes import Verdict as CheckVerdict

logger = logging.getLogger(__name__)


ResultShown = Callable[[CheckResult], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Checked:
    """A finished check: what Dentally said, and the guide's outcome to carry out."""

    result: CheckResult
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class KeptKey:
    """A key that could not be checked yet, kept encrypted so "Check again" needs no re-typing."""

    token: SecretStr
    region: RegionChoice


class KeyIntake:
    """Takes keys for any platform's guides, checks them, and keeps the verified ones encrypted."""

    def __init__(
        self,
        service: OnboardingService,
        runner: EffectRunner,
        platforms: Platforms,
        checker: ScopeChecker | None,
        vault: KeyVault | None,
        notes: SupportReports,
        metrics: Metrics,
        handoffs: Handoffs | None = None,
        keepalive_every: float = 7 * 86400.0,
    ) -> None:
        self._service = service
        self._runner = runner
        self._platforms = platforms
        self._checker = checker
        self._vault = vault
        self._notes = notes
        self._metrics = metrics
        self._handoffs = handoffs
        self._keepalive_every = keepalive_every

    @property
    def accepts_keys(self) -> bool:
        """Whether keys can be taken at all: without encryption keys (or a checker) none is ever accepted."""
        return self._vault is not None and self._checker is not None

    @property
    def clock(self) -> Callable[[], float]:
        """The service's clock."""
        return self._service.clock

    async def take(
        self,
        key: ConversationKey,
        token: SecretStr,
        region: RegionChoice,
        shown: ResultShown | None = None,
    ) -> Refused | TemporarilyUnavailable | None:
        """Take a key from its form: record it, check it, show the result in the thread, then follow up.

        Args:
            key: Whose guide the key is for.
            token: The key; it never leaves memory unencrypted.
            region: The region chosen in the form.
            shown: Called with the result before it is posted (the form shows it in place).

        Returns:
            Why the key was not taken (to show in the form), or None once the check has run.
        """
        try:
            outcome = await self.submit(key, token)
        except StoreUnavailable:
            return TemporarilyUnavailable()
        if outcome.refused is not None:
            return Refused(outcome.refused.reason)

        async def run_check(state: Conversation) -> None:
            checked = await self.check(state, token, region)
            if shown is not None:
                await shown(checked.result)
            await self._runner.carry_out(checked.outcome)
            platform = self._platforms[state.platform]
            try:
                await platform.post(state.channel, KeyResult(checked.result, state.user), thread=state.thread_ref)
            finally:
                # The hand-off and support's alerts never depend on the clinic's channel taking the result.
                await self.follow_up(state, token, checked.result)

        await self._runner.carry_out(outcome, Trigger(run_key_check=run_check))
        return None

    async def submit(self, key: ConversationKey, token: SecretStr) -> Outcome:
        """Tell the guide a key arrived; only its fingerprint is recorded.

        Raises:
            StoreUnavailable: The state store cannot be reached.
        """
        return await self._service.handle(key, KeySubmitted(fingerprint(token), self._service.clock()))

    async def check(self, state: Conversation, token: SecretStr, region: RegionChoice) -> Checked:
        """Check ``token`` with Dentally, remember it encrypted, and finish the guide's check.

        Never raises for a failing check: a bug or an outage becomes "could not check", so nobody is left
        waiting in "checking".
        """
        assert self._checker is not None, "check() needs a checker; see accepts_keys"
        try:
            result = await self._checker.check(token, region)
        except Exception:  # a bug must not leave the user stuck in "checking"
            logger.exception("key check failed unexpectedly")
            result = could_not_check("The check stopped unexpectedly; the Aldense team has been told.")
        self._metrics.checks.labels(result.verdict.value).inc()
        await self._remember(state, token, result)
        if result.verdict is CheckVerdict.VERIFIED:
            await self._service.store.schedule(
                KEEPALIVE_QUEUE,
                clinic_key(state.platform, state.channel),
                self._service.clock() + self._keepalive_every,
            )
        outcome = await self._service.handle(state.key, CheckFinished(Verdict(result.verdict.value), self.clock()))
        return Checked(result, outcome)

    async def follow_up(self, state: Conversation, token: SecretStr, result: CheckResult) -> None:
        """After the clinic has seen the result: alert support when Dentally misbehaved, hand a verified key on."""
        if result.incident is not None:
            await self._notes.note(
                state,
                f":rotating_light: Incident: Dentally answered a test {result.incident.method} "
                f"{result.incident.path} with HTTP {result.incident.http_status} instead of refusing it. The probe "
                "carried no appointment fields and targeted id 0, but check the practice diary and the evidence.",
                broadcast=True,
            )
        elif result.alerts_support:
            await self._notes.note(
                state,
                f":rotating_light: Dentally's scope sources disagree for key `…{fingerprint(token)}`: "
                f"{result.reason} The clinic was told the key could not be proven; see the evidence above.",
                broadcast=True,
            )
        if result.verdict is CheckVerdict.VERIFIED and self._handoffs is not None:
            await self._handoffs.send(state.platform, state.channel)

    async def kept_key(self, platform: str, channel: str, user: str) -> KeptKey | None:
        """The key ``user`` entered last that could not be checked, with the region of that check; None if gone."""
        clinic = await self._service.clinic(platform, channel)
        sealed = clinic.unverified_keys.get(user) if clinic else None
        if not sealed or self._vault is None:
            return None
        try:
            token = self._vault.decrypt(sealed)
        except VaultError:
            logger.warning("a kept key could not be decrypted; asking for it again")
            return None
        region = clinic.last_check.get("region") if clinic and clinic.last_check else None
        try:
            choice: RegionChoice = parse_region(str(region)) if region else DETECT
        except ValueError:
            choice = DETECT
        return KeptKey(token, choice)

    async def _remember(self, state: Conversation, token: SecretStr, result: CheckResult) -> None:
        """Store the verified key encrypted, or keep an unchecked or unproven one encrypted for "Check again"."""
        assert self._vault is not None, "check() needs a vault; see accepts_keys"
        sealed = self._vault.encrypt(token)
        now = self._service.clock()
        summary = json.loads(result.model_dump_json())

        def change(clinic: Clinic) -> Clinic:
            pending = {user: kept for user, kept in clinic.unverified_keys.items() if user != state.user}
            if result.verdict in (CheckVerdict.COULD_NOT_CHECK, CheckVerdict.COULD_NOT_PROVE):
                pending[state.user] = sealed
            update: dict[str, Any] = {"last_check": summary, "unverified_keys": pending}
            if result.clinic_name:
                update["name"] = result.clinic_name
            if result.verdict is CheckVerdict.VERIFIED and result.region is not None:
                update["credential"] = StoredCredential(
                    ciphertext=sealed,
                    fingerprint=fingerprint(token),
                    region=result.region,
                    scopes=tuple(c.scope for c in result.scopes if c.status is ScopeStatus.GRANTED),
                    verified_at=now,
                    verified_by=state.user,
                    handoff=self._handoffs.initial_state() if self._handoffs else None,
                )
            return clinic.model_copy(update=update)

        # A verified key's hand-off is queued in the same write that stores it (see bot.core.handoffs).
        stored = result.verdict is CheckVerdict.VERIFIED and result.region is not None
        due = self._handoffs.queued(state.platform, state.channel) if stored and self._handoffs else []
        await self._service.update_clinic(state.platform, state.channel, change, due)


def could_not_check(reason: str) -> CheckResult:
    """A result that says the check could not be carried out, for ``reason``; every permission unknown."""
    return CheckResult(
        verdict=CheckVerdict.COULD_NOT_CHECK,
        scopes=tuple(ScopeCheck(scope=scope, status=ScopeStatus.UNKNOWN) for scope in REQUIRED_SCOPES),
        region=None,
        region_detected=False,
        user=None,
        clinic_name=None,
        requests_made=0,
        reason=reason,
        checked_at=datetime.now(UTC),
    )
