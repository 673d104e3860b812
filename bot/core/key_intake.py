"""Key intake, shared by every platform: record a key's fingerprint, check it, keep it encrypted, hand it off.

Each platform reads its own form (a Slack modal, a Teams dialog) and calls ``take``; the guide asks for the check
(``RunKeyCheck``), the result is posted in the person's thread through the platform, and a verified key is handed to
Aldense. The key lives only in memory here, and as Fernet ciphertext at rest.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from bot.core.handoffs import Handoffs
from bot.core.messages import (
    AlreadyDone,
    KeyResult,
    Refused,
    ReplacementDecided,
    Standing,
    TemporarilyUnavailable,
)
from bot.core.metrics import Metrics
from bot.core.platform import Platforms
from bot.core.retention import kept_check
from bot.core.retiring import Kind
from bot.core.runner import EffectRunner, Trigger
from bot.core.support import SupportReports
from conversations.addresses import KEEPALIVE_QUEUE, ConversationKey, clinic_key
from conversations.clinic import Clinic
from conversations.connection import (
    Candidate,
    ConnectionState,
    Decision,
    Identity,
    StoredCredential,
    accept,
    connected,
    reject,
)
from conversations.conversation import Conversation
from conversations.events import CheckFinished, KeySubmitted, KeyVerdict
from conversations.service import Handled, OnboardingService
from conversations.store import StoreUnavailable
from conversations.vault import KeyVault, VaultError, fingerprint
from dentally.regions import DETECT, RegionChoice, parse_region
from dentally.scopes import REQUIRED_SCOPES, CheckResult, ScopeCheck, ScopeChecker, ScopeStatus
from dentally.scopes import Verdict as CheckVerdict

logger = logging.getLogger(__name__)


ResultShown = Callable[[KeyResult], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Checked:
    """A finished check: what Dentally said, and the guide's outcome to carry out."""

    result: CheckResult
    outcome: Handled
    standing: Standing | None = None
    """What a verified key did to the clinic's connection."""


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
            message = KeyResult(checked.result, state.user, checked.standing)
            if shown is not None:
                await shown(message)
            await self._runner.carry_out(checked.outcome)
            platform = self._platforms[state.platform]
            try:
                ref = await platform.post(state.channel, message, thread=state.thread_ref)
                if checked.standing is None and checked.result.verdict is not CheckVerdict.VERIFIED:
                    await self._runner.retiring.remember(state, Kind.RESULT, ref)  # its buttons go stale once verified
            finally:
                # The hand-off and support's alerts never depend on the clinic's channel taking the result.
                await self.follow_up(state, token, checked.result, checked.standing)
            if checked.standing is not None:
                # Verified: earlier results and reminders retire and the opener says connected. Only tidying (the
                # result is in the thread), so it waits behind what people wait for, and nothing waits for it.
                await self._runner.tidy_after(state, connected=not checked.standing.held)

        await self._runner.carry_out(outcome, Trigger(run_key_check=run_check))
        return None

    async def submit(self, key: ConversationKey, token: SecretStr) -> Handled:
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
        standing = await self._remember(state, token, result, region)
        if standing is not None and not standing.held:
            await self._service.store.schedule(
                KEEPALIVE_QUEUE,
                clinic_key(state.platform, state.channel),
                self._service.clock() + self._keepalive_every,
            )
        outcome = await self._service.handle(state.key, CheckFinished(KeyVerdict(result.verdict.value), self.clock()))
        return Checked(result, outcome, standing)

    async def follow_up(
        self, state: Conversation, token: SecretStr, result: CheckResult, standing: Standing | None = None
    ) -> None:
        """After the clinic has seen the result: alert support when Dentally misbehaved, hand a verified key on.

        A key held for staff (another practice or user) is not handed on: support is asked to accept or reject it.
        """
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
        if standing is None:
            return
        await self._notes.connection_changed(state.platform, state.channel, standing)
        if not standing.held and self._handoffs is not None:
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

    async def region_for(self, platform: str, channel: str, user: str) -> RegionChoice:
        """The region ``user`` chose in the key form last time (so a retry starts with it), else "detect"."""
        clinic = await self._service.clinic(platform, channel)
        chosen = clinic.regions.get(user) if clinic else None
        try:
            return parse_region(chosen) if chosen and chosen != DETECT else DETECT
        except ValueError:
            return DETECT

    async def late(self, key: ConversationKey) -> AlreadyDone | None:
        """Why a key button of ``key.user``'s may not open a new flow: the clinic is connected and their guide is
        not in progress (a late click on an old result or step); None when the form may open.

        "Replace the key" restarts the guide at the key step, so its form opens (the guide is in progress again).
        """
        clinic = await self._service.clinic(key.platform, key.channel)
        connection = clinic.connection if clinic else None
        if connection is None or connection.state is ConnectionState.NEEDS_NEW_KEY:
            return None  # nothing connected, or its key is dead: any key button is welcome
        state = await self._service.conversation(key)
        if state is not None and state.in_progress:
            return None
        return AlreadyDone(key.user, connection)

    async def decide_replacement(self, platform: str, channel: str, accepted: bool) -> ReplacementDecided | None:
        """Staff accepted or rejected the key held for ``platform``/``channel``: change the connection, tell the
        clinic in the thread of whoever entered the key, and hand an accepted key to Aldense.

        Returns:
            What the clinic was told; None when nothing was pending (already decided, or replaced since).
        """
        clinic = await self._service.clinic(platform, channel)
        held = clinic.connection.pending if clinic and clinic.connection else None
        by = clinic.connection.pending_by if clinic and clinic.connection else None
        if held is None or by is None:
            return None

        def change(record: Clinic) -> Clinic:
            current = record.connection
            if current is None or current.pending is None or current.pending.key != held.key:
                return record  # decided by someone else meanwhile
            after = accept(current, self.clock()) if accepted else reject(current)
            changed = record.with_connection(after)
            if accepted and after.identity.practice_name:
                changed = changed.model_copy(update={"name": after.identity.practice_name})
            return changed

        after, before = await self._service.update_clinic(platform, channel, change)
        if after == before or after.connection is None:
            return None
        told = ReplacementDecided(accepted, held.key.fingerprint, after.connection)
        state = await self._service.conversation(ConversationKey(platform, after.team or "", channel, by))
        served = self._platforms.get(platform)
        if served is not None:
            await served.post(channel, told, thread=state.thread_ref if state else None)
        if accepted:
            await self._service.store.schedule(
                KEEPALIVE_QUEUE, clinic_key(platform, channel), self.clock() + self._keepalive_every
            )
            if self._handoffs is not None:
                await self._handoffs.resend(platform, channel)
            if state is not None:
                await self._runner.mark_connected(state)  # last: a courtesy edit, sent when budget allows
        return told

    async def disconnect(self, platform: str, channel: str) -> None:
        """Forget the clinic's connection (staff reset it): no key is kept alive or re-checked any more."""
        await self._service.update_clinic(platform, channel, lambda clinic: clinic.with_connection(None))
        await self._service.store.unschedule(KEEPALIVE_QUEUE, clinic_key(platform, channel))

    async def _remember(
        self, state: Conversation, token: SecretStr, result: CheckResult, region: RegionChoice
    ) -> Standing | None:
        """Keep what the check decided: a verified key per the connection's rule, an unproven one for "Check again".

        Returns:
            What a verified key did to the clinic's connection; None for any other verdict.
        """
        assert self._vault is not None, "check() needs a vault; see accepts_keys"
        sealed = self._vault.encrypt(token)
        now = self._service.clock()
        summary = kept_check(result)
        standing: Standing | None = None

        def change(clinic: Clinic) -> Clinic:
            nonlocal standing
            pending = {user: kept for user, kept in clinic.unverified_keys.items() if user != state.user}
            if result.verdict in (CheckVerdict.COULD_NOT_CHECK, CheckVerdict.COULD_NOT_PROVE):
                pending[state.user] = sealed
            update: dict[str, Any] = {
                "last_check": summary,
                "unverified_keys": pending,
                "regions": {**clinic.regions, state.user: str(region)},
            }
            # A key's practice names an unconnected clinic; a connected one is renamed only by its own connection.
            if result.clinic_name and clinic.connection is None:
                update["name"] = result.clinic_name
            changed = clinic.model_copy(update=update)
            if result.verdict is not CheckVerdict.VERIFIED or result.region is None:
                standing = None
                return changed
            candidate = Candidate(
                key=StoredCredential(
                    ciphertext=sealed,
                    fingerprint=fingerprint(token),
                    region=result.region,
                    scopes=tuple(c.scope for c in result.scopes if c.status is ScopeStatus.GRANTED),
                    verified_at=now,
                    verified_by=state.user,
                    handoff=self._handoffs.initial_state() if self._handoffs else None,
                ),
                identity=identity_of(result),
            )
            decision, connection = connected(clinic.connection, candidate, state.user, now)
            standing = Standing(decision, connection)
            changed = changed.with_connection(connection)
            if decision is not Decision.HOLD and connection.identity.practice_name:
                changed = changed.model_copy(update={"name": connection.identity.practice_name})
            return changed

        # A verified key's hand-off is queued in the same write that stores it (see bot.core.handoffs); a key held
        # for staff is not the connection's, so the queued hand-off finds nothing pending and is dropped.
        stored = result.verdict is CheckVerdict.VERIFIED and result.region is not None
        due = self._handoffs.queued(state.platform, state.channel) if stored and self._handoffs else []
        await self._service.update_clinic(state.platform, state.channel, change, due)
        return standing


def identity_of(result: CheckResult) -> Identity:
    """The Dentally user and practice a check read for its key (each None when it could not read it)."""
    user = result.user

    def text(value: object) -> str | None:
        return None if value is None else str(value)

    return Identity(
        user_id=text(user.id) if user else None,
        user_name=user.name if user else None,
        practice_id=text(user.practice_id) if user else None,
        practice_name=result.clinic_name,
    )


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
