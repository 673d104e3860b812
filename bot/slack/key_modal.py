"""Slack's private key entry: opening the modal, reading a submission and showing the check's result."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr
from slack_sdk.errors import SlackApiError

from bot.core import copy
from bot.core.messages import KeyResult, NotYourGuide, Refused, TemporarilyUnavailable
from bot.slack import blocks, calls, modals, results
from bot.slack.app import BotContext
from bot.slack.payloads import Click, selected_value, typed_value
from bot.slack.platform import PLATFORM
from conversations.addresses import ConversationKey
from dentally.regions import DETECT, RegionChoice, parse_region
from dentally.token import MAX_LENGTH, MIN_LENGTH, TokenFormatError, parse_token

logger = logging.getLogger(__name__)


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
    actor = body.get("user")
    user = actor.get("id") if isinstance(actor, dict) else None
    target = modals.read_key_metadata(view.get("private_metadata"))
    if target is None or not isinstance(user, str) or target[1] != user:
        return {modals.BLOCK_KEY: copy.FORM_EXPIRED}
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    raw_key = typed_value(values, modals.BLOCK_KEY, modals.ACTION_KEY)
    region_value = selected_value(values, modals.BLOCK_REGION, modals.ACTION_REGION) or DETECT
    try:
        region: RegionChoice = DETECT if region_value == DETECT else parse_region(region_value)
    except ValueError:
        return {modals.BLOCK_REGION: copy.CHOOSE_REGION}
    try:
        token = parse_token(str(raw_key))
    except TokenFormatError as exc:
        return {modals.BLOCK_KEY: str(exc)}
    view_id = view.get("id")
    # A view without a usable id (absent, not a string, or empty) cannot be updated: the thread still gets the result.
    return Submission(target[0], user, region, token, view_id if isinstance(view_id, str) and view_id else None)


class SlackKeyModal:
    """Everything after "Enter the key privately" on Slack; the platform-neutral work is ``KeyIntake``'s."""

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
            await ctx.platform.tell(click.channel, click.user, NotYourGuide(owner), click.thread_ts)
            return
        late = await ctx.core.keys.late(await self._key(click.channel, click.user))
        if late is not None:
            await ctx.platform.tell(click.channel, click.user, late, click.thread_ts)
            return
        if ctx.vault is None:
            view = modals.cannot_accept_keys_view()
        else:
            region = await ctx.core.keys.region_for(PLATFORM, click.channel, click.user)
            view = modals.key_modal(click.channel, click.user, MIN_LENGTH, MAX_LENGTH, region=region)
        try:
            await ctx.client.views_open(trigger_id=click.trigger_id, view=view)
        except SlackApiError as exc:
            error = calls.slack_error(exc)
            logger.warning("views.open failed: %s", error)
            await calls.ephemeral(ctx.client, click.channel, click.user, copy.FORM_DID_NOT_OPEN)
            return
        if ctx.vault is None:
            state = await ctx.service.conversation(await self._key(click.channel, click.user))
            if state is not None:
                await ctx.reporter.note(
                    state, f":warning: <@{click.user}> wanted to enter a key, but KEY_ENCRYPTION_KEYS is not set."
                )

    async def submitted(self, submission: Submission) -> None:
        """Take the key (the modal already says "Checking…"); the modal then shows the result in place."""
        key = await self._key(submission.channel, submission.user)

        async def shown(result: KeyResult) -> None:
            await self._show(submission.view_id, results.result_view(result))

        refused = await self.ctx.core.keys.take(key, submission.token, submission.region, shown)
        if isinstance(refused, TemporarilyUnavailable):
            await self._show(submission.view_id, modals.message_view(copy.KEY_TITLE, copy.TEMPORARILY_UNAVAILABLE))
        elif isinstance(refused, Refused):
            text = f"{copy.refused(refused.reason)} {copy.TRY_AGAIN_SOON}"
            await self._show(submission.view_id, modals.message_view(copy.KEY_TITLE, text))

    async def check_again(self, click: Click) -> None:
        """Re-run a check that could not finish, with the key kept encrypted since then."""
        ctx = self.ctx
        parsed = blocks.parse_step_value(click.value)
        if parsed is None:
            return
        if parsed[0] != click.user:
            await ctx.platform.tell(click.channel, click.user, NotYourGuide(parsed[0]), click.thread_ts)
            return
        late = await ctx.core.keys.late(await self._key(click.channel, click.user))
        if late is not None:
            await ctx.platform.tell(click.channel, click.user, late, click.thread_ts)
            return
        kept = await ctx.core.keys.kept_key(PLATFORM, click.channel, click.user)
        if kept is None:
            await calls.ephemeral(
                ctx.client,
                click.channel,
                click.user,
                copy.NO_KEPT_KEY,
                thread_ts=click.thread_ts,
            )
            return
        await self.submitted(Submission(click.channel, click.user, kept.region, kept.token, None))

    async def _show(self, view_id: str | None, view: dict[str, Any]) -> None:
        if view_id is None:
            return
        try:
            await self.ctx.client.views_update(view_id=view_id, view=view)
        except SlackApiError as exc:
            # The user may simply have closed the modal; the thread still gets the result.
            logger.info("views.update skipped: %s", calls.slack_error(exc))
