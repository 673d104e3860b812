"""The private key entry: opening the modal, reading a submission, running the check and showing its result."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr
from slack_sdk.errors import SlackApiError

from bot import blocks, results, slack_calls, views
from bot.app import BotContext
from bot.inbound import Click
from bot.presenter import Trigger
from conversations.clinic import Clinic, StoredCredential
from conversations.conversation import Conversation
from conversations.events import CheckFinished, KeySubmitted, Verdict
from conversations.keys import KEEPALIVE_QUEUE, ConversationKey, clinic_key
from conversations.store import StoreUnavailable
from conversations.vault import VaultError, fingerprint
from dentally.regions import DETECT, RegionChoice, parse_region
from dentally.scopes import CheckResult, ScopeStatus
from dentally.scopes import Verdict as CheckVerdict
from dentally.token import MAX_LENGTH, MIN_LENGTH, TokenFormatError, parse_token

logger = logging.getLogger(__name__)

PLATFORM = "slack"


@dataclass(frozen=True, slots=True)
class Submission:
    """A key modal that passed the format check; the token prints as ``**********``."""

    channel: str
    user: str
    region: RegionChoice
    token: SecretStr
    view_id: str | None


def read_submission(body: dict[str, Any]) -> Submission | dict[str, str]:
    """Read a ``view_submission`` of the key modal: a ``Submission``, or inline errors keyed by block id."""
    view = body.get("view") if isinstance(body.get("view"), dict) else {}
    assert isinstance(view, dict)
    user = (body.get("user") or {}).get("id")
    target = views.read_key_metadata(str(view.get("private_metadata") or ""))
    if target is None or not isinstance(user, str) or target[1] != user:
        return {views.BLOCK_KEY: "This form has expired. Close it and click *Enter the key privately* again."}
    values = (view.get("state") or {}).get("values") or {}
    raw_key = ((values.get(views.BLOCK_KEY) or {}).get(views.ACTION_KEY) or {}).get("value") or ""
    selected = ((values.get(views.BLOCK_REGION) or {}).get(views.ACTION_REGION) or {}).get("selected_option") or {}
    region_value = str(selected.get("value") or DETECT)
    try:
        region: RegionChoice = DETECT if region_value == DETECT else parse_region(region_value)
    except ValueError:
        return {views.BLOCK_REGION: "Choose your practice's region, or 'Not sure — detect it'."}
    try:
        token = parse_token(str(raw_key))
    except TokenFormatError as exc:
        return {views.BLOCK_KEY: str(exc)}
    return Submission(target[0], user, region, token, view.get("id") if isinstance(view.get("id"), str) else None)


class KeyFlow:
    """Everything after "Enter the key privately"."""

    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx

    async def _key(self, channel: str, user: str) -> ConversationKey:
        return ConversationKey(PLATFORM, await self.ctx.workspace.installing_team(), channel, user)

    async def open_form(self, click: Click) -> None:
        """Open the key modal for the owner of the guide (or say why not)."""
        ctx = self.ctx
        parsed = blocks.parse_step_value(click.value)
        if parsed is None:
            return
        owner, _ = parsed
        if owner != click.user:
            text, not_yours = blocks.not_your_guide(owner, ctx.guide)
            await slack_calls.ephemeral(ctx.client, click.channel, click.user, text, not_yours, click.thread_ts)
            return
        if ctx.vault is None:
            view = views.cannot_accept_keys_view()
        else:
            view = views.key_modal(click.channel, click.user, MIN_LENGTH, MAX_LENGTH)
        try:
            await ctx.client.views_open(trigger_id=click.trigger_id, view=view)
        except SlackApiError as exc:
            error = slack_calls.slack_error(exc)
            logger.warning("views.open failed: %s", error)
            await slack_calls.ephemeral(
                ctx.client, click.channel, click.user, "Sorry, the form didn't open — please click the button again."
            )
            return
        if ctx.vault is None:
            state = await ctx.service.conversation(await self._key(click.channel, click.user))
            if state is not None:
                await ctx.reporter.note(
                    state, f":warning: <@{click.user}> wanted to enter a key, but KEY_ENCRYPTION_KEYS is not set."
                )

    async def submitted(self, submission: Submission) -> None:
        """Record the key's fingerprint, then check it (after the modal already says "Checking…")."""
        ctx = self.ctx
        key = await self._key(submission.channel, submission.user)
        try:
            outcome = await ctx.service.handle(key, KeySubmitted(fingerprint(submission.token), ctx.clock()))
        except StoreUnavailable:
            await self._show(submission.view_id, views.message_view("Dentally key", blocks.temporarily_unavailable()))
            return
        if outcome.refused is not None:
            text = blocks.refused(outcome.refused.reason) + " Close this form and try again in a moment."
            await self._show(submission.view_id, views.message_view("Dentally key", text))
            return

        async def run_check(state: Conversation) -> None:
            await self._check(state, submission.token, submission.region, submission.view_id)

        await ctx.presenter.carry_out(outcome, Trigger(run_key_check=run_check))

    async def check_again(self, click: Click) -> None:
        """Re-run a check that could not finish, with the key kept encrypted since then."""
        ctx = self.ctx
        parsed = blocks.parse_step_value(click.value)
        if parsed is None:
            return
        if parsed[0] != click.user:
            text, not_yours = blocks.not_your_guide(parsed[0], ctx.guide)
            await slack_calls.ephemeral(ctx.client, click.channel, click.user, text, not_yours, click.thread_ts)
            return
        clinic = await ctx.service.clinic(PLATFORM, click.channel)
        sealed = clinic.unverified_keys.get(click.user) if clinic else None
        token = None
        if sealed and ctx.vault is not None:
            try:
                token = ctx.vault.decrypt(sealed)
            except VaultError:
                logger.warning("a kept key could not be decrypted; asking for it again")
        if token is None:
            await slack_calls.ephemeral(
                ctx.client,
                click.channel,
                click.user,
                "I no longer have that key to check — please click *Use another key* and paste it again.",
                thread_ts=click.thread_ts,
            )
            return
        region = clinic.last_check.get("region") if clinic and clinic.last_check else None
        await self.submitted(Submission(click.channel, click.user, str(region) if region else DETECT, token, None))  # type: ignore[arg-type]

    async def _check(self, state: Conversation, token: SecretStr, region: RegionChoice, view_id: str | None) -> None:
        ctx = self.ctx
        assert ctx.checker is not None
        try:
            result = await ctx.checker.check(token, region)
        except Exception:  # a bug must not leave the user stuck in "checking"
            logger.exception("key check failed unexpectedly")
            result = _could_not_check("The check stopped unexpectedly; the Aldense team has been told.")
        verdict = Verdict(result.verdict.value)
        ctx.metrics.checks.labels(verdict.value).inc()
        await self._remember(state, token, result)
        if result.verdict is CheckVerdict.VERIFIED:
            await ctx.service.store.schedule(
                KEEPALIVE_QUEUE, clinic_key(PLATFORM, state.channel), ctx.clock() + ctx.keepalive_every
            )
        outcome = await ctx.service.handle(state.key, CheckFinished(verdict, ctx.clock()))
        await ctx.presenter.carry_out(outcome)
        await self._show(view_id, results.result_view(result))
        text, message = results.result_message(result, state.user, ctx.guide.steps[-1].id)
        await slack_calls.post(ctx.client, state.channel, text, message, thread_ts=state.thread_ref)
        if result.incident is not None:
            await ctx.reporter.note(
                state,
                f":rotating_light: Incident: Dentally carried out a test {result.incident.method} "
                f"{result.incident.path} (HTTP {result.incident.http_status}); cleaned up: "
                f"{'yes' if result.incident.cleaned_up else 'NO — check the practice diary'}.",
                broadcast=True,
            )
        if result.verdict is CheckVerdict.VERIFIED and ctx.handoff is not None:
            await self._hand_off(state, token, result)

    async def _remember(self, state: Conversation, token: SecretStr, result: CheckResult) -> None:
        """Store the verified key encrypted, or keep an uncheckable one encrypted for "Check again"."""
        ctx = self.ctx
        vault = ctx.vault
        assert vault is not None
        sealed = vault.encrypt(token)
        now = ctx.clock()
        summary = json.loads(result.model_dump_json())

        def change(clinic: Clinic) -> Clinic:
            pending = {user: kept for user, kept in clinic.unverified_keys.items() if user != state.user}
            if result.verdict is CheckVerdict.COULD_NOT_CHECK:
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
                )
            return clinic.model_copy(update=update)

        await ctx.service.update_clinic(PLATFORM, state.channel, change)

    async def _hand_off(self, state: Conversation, token: SecretStr, result: CheckResult) -> None:
        ctx = self.ctx
        assert ctx.handoff is not None
        clinic = await ctx.service.clinic(PLATFORM, state.channel)
        facts = {
            "clinic": {"name": clinic.display_name if clinic else None, "channel": state.channel, "team": state.team},
            "region": result.region,
            "scopes": [c.scope for c in result.scopes if c.status is ScopeStatus.GRANTED],
            "fingerprint": fingerprint(token),
            "verified_by": state.user,
            "verified_at": result.checked_at.isoformat(),
        }
        outcome = await ctx.handoff.deliver(facts, token)
        if outcome.delivered:
            await ctx.reporter.note(state, f":outbox_tray: Key `…{fingerprint(token)}` handed to Aldense.")
        else:
            await ctx.reporter.note(
                state,
                f":warning: Hand-off of key `…{fingerprint(token)}` failed after {outcome.attempts} attempt(s) "
                f"({outcome.detail}). The key is stored safely (encrypted); re-send it from the clinic record.",
                broadcast=True,
            )

    async def _show(self, view_id: str | None, view: dict[str, Any]) -> None:
        if view_id is None:
            return
        try:
            await self.ctx.client.views_update(view_id=view_id, view=view)
        except SlackApiError as exc:
            # The user may simply have closed the modal; the thread still gets the result.
            logger.info("views.update skipped: %s", slack_calls.slack_error(exc))


def _could_not_check(reason: str) -> CheckResult:
    from dentally.scopes import REQUIRED_SCOPES, ScopeCheck

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
