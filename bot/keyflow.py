"""Slack's private key entry: opening the modal, reading a submission and showing the check's result."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr
from slack_sdk.errors import SlackApiError

from bot import blocks, results, slack_calls, views
from bot.app import BotContext
from bot.inbound import Click
from bot.keycheck import KeyCheck
from bot.presenter import Trigger
from conversations.addresses import ConversationKey
from conversations.conversation import Conversation
from conversations.store import StoreUnavailable
from dentally.regions import DETECT, RegionChoice, parse_region
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
    """Everything after "Enter the key privately" on Slack; the neutral work is ``KeyCheck``'s."""

    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx
        self.keys = KeyCheck(
            ctx.service,
            ctx.checker,
            ctx.vault,
            ctx.reporter,
            ctx.metrics,
            handoff=ctx.handoff,
            keepalive_every=ctx.keepalive_every,
        )

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
        key = await self._key(submission.channel, submission.user)
        try:
            outcome = await self.keys.submit(key, submission.token)
        except StoreUnavailable:
            await self._show(submission.view_id, views.message_view("Dentally key", blocks.temporarily_unavailable()))
            return
        if outcome.refused is not None:
            text = blocks.refused(outcome.refused.reason) + " Close this form and try again in a moment."
            await self._show(submission.view_id, views.message_view("Dentally key", text))
            return

        async def run_check(state: Conversation) -> None:
            await self._check(state, submission.token, submission.region, submission.view_id)

        await self.ctx.presenter.carry_out(outcome, Trigger(run_key_check=run_check))

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
        kept = await self.keys.kept_key(PLATFORM, click.channel, click.user)
        if kept is None:
            await slack_calls.ephemeral(
                ctx.client,
                click.channel,
                click.user,
                "I no longer have that key to check — please click *Use another key* and paste it again.",
                thread_ts=click.thread_ts,
            )
            return
        await self.submitted(Submission(click.channel, click.user, kept.region, kept.token, None))

    async def _check(self, state: Conversation, token: SecretStr, region: RegionChoice, view_id: str | None) -> None:
        ctx = self.ctx
        checked = await self.keys.check(state, token, region)
        await ctx.presenter.carry_out(checked.outcome)
        await self._show(view_id, results.result_view(checked.result))
        text, message = results.result_message(checked.result, state.user, ctx.guide.steps[-1].id)
        await slack_calls.post(ctx.client, state.channel, text, message, thread_ts=state.thread_ref)
        await self.keys.follow_up(state, token, checked.result)

    async def _show(self, view_id: str | None, view: dict[str, Any]) -> None:
        if view_id is None:
            return
        try:
            await self.ctx.client.views_update(view_id=view_id, view=view)
        except SlackApiError as exc:
            # The user may simply have closed the modal; the thread still gets the result.
            logger.info("views.update skipped: %s", slack_calls.slack_error(exc))
