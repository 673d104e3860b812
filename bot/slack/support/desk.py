"""Aldense staff tools: status replies, the App Home dashboard and the status card's buttons."""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any

from slack_bolt.async_app import AsyncRespond
from slack_sdk.errors import SlackApiError

from bot.core.clinics import connection_line, status_counts
from bot.core.credentials import open_stored_key
from bot.core.retention import kept_check
from bot.slack import blocks, calls, modals
from bot.slack.app import BotContext
from bot.slack.mrkdwn import escape
from bot.slack.payloads import Click, channel_reference, metadata_fields, selected_value
from bot.slack.platform import PLATFORM
from bot.slack.results import support_summary
from bot.slack.support import blocks as support_blocks
from bot.slack.support.blocks import parse_clinic_ref
from conversations.conversation import Conversation
from conversations.events import Abandon
from conversations.schema import IncompatibleRecord
from conversations.store import StoreUnavailable
from dentally.regions import parse_region

logger = logging.getLogger(__name__)

NOT_STAFF = "Only the Aldense team can use these buttons."
NOT_STAFF_RESET = "Only the Aldense team can reset a clinic's guide. Nothing was changed."
INCOMPATIBLE_FOR_STAFF = (
    ":warning: A stored record was written by a newer release of Aldense Guide, which this one cannot read, so I "
    "left it as it is. Finish deploying the newer release (or roll it back), then try again."
)
NOT_STAFF_FORGET = "Only the Aldense team can erase a clinic's data. Nothing was changed."


class StaffDesk:
    """What staff can ask for and do; every entry point checks that the actor is Aldense staff."""

    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx

    async def is_staff(self, team: str | None) -> bool:
        """Whether ``team`` is Aldense's own workspace (the app's installing team)."""
        return team is not None and team == await self.ctx.workspace.installing_team()

    async def is_staff_user(self, user: str) -> bool | None:
        """Whether ``user`` belongs to Aldense's workspace, asked of Slack (``users.info``); None when Slack won't say.

        For requests that do not carry the actor's own team: a slash command's top-level ``team_id`` is the
        workspace the command ran in, not necessarily the person's.
        """
        try:
            profile = await self.ctx.platform.profiles.get(user)
        except SlackApiError as exc:
            logger.warning("users.info failed for a staff check: %s", calls.slack_error(exc))
            return None
        team = profile.get("team_id")
        return await self.is_staff(team if isinstance(team, str) else None)

    async def status(self, words: list[str], respond: AsyncRespond) -> None:
        """``/aldense status`` (every clinic in progress) or ``/aldense status #channel`` (one in detail)."""
        ctx = self.ctx
        if len(words) > 1:
            channel = channel_reference(words[1])
            if channel is None:
                found = await ctx.reporter.clinics.find(" ".join(words[1:]))
                if found is None:
                    await respond(
                        f"`{escape(' '.join(words[1:]))}` is neither a channel nor the name of one clinic. Usage: "
                        "`/aldense status #clinic-channel` or `/aldense status clinic name` (for Teams clinics)."
                    )
                    return
                text, detail = support_blocks.clinic_detail(ctx.guide, found, ctx.clock())
                await respond(text=text, blocks=detail)
                return
            view = await ctx.reporter.clinic_view(PLATFORM, channel)
            if view is None:
                await respond(f"<#{channel}> has no Dentally onboarding yet. Start one with `/aldense onboard`.")
                return
            text, detail = support_blocks.clinic_detail(ctx.guide, view, ctx.clock())
            await respond(text=text, blocks=detail)
            return
        views = await ctx.reporter.clinics.all()
        text, listing = support_blocks.status_list(ctx.guide, status_counts(views), ctx.clock())
        await respond(text=text, blocks=listing)

    async def home(self, user: str) -> None:
        """Publish App Home: the dashboard for staff, a short explanation for anyone else."""
        ctx = self.ctx
        try:
            profile = await ctx.platform.profiles.get(user)
        except SlackApiError as exc:
            logger.warning("users.info failed for App Home: %s", calls.slack_error(exc))
            return
        if await self.is_staff(profile.get("team_id")):
            conversations: list[Conversation] = await ctx.service.conversations(
                PLATFORM, await ctx.workspace.installing_team()
            )
            views = await ctx.reporter.clinics.all()
            conversations += [c for v in views if v.platform != PLATFORM for c in v.conversations]
            home = support_blocks.home_for_staff(ctx.guide, conversations, views, ctx.clock())
        else:
            home = support_blocks.home_for_others()
        try:
            await ctx.client.views_publish(user_id=user, view=home)
        except SlackApiError as exc:
            logger.warning("views.publish failed: %s", calls.slack_error(exc))

    async def unavailable(self, click: Click, work: Coroutine[Any, Any, None]) -> None:
        """Run a staff button's ``work``; with the state store down, tell the clicker instead of going silent."""
        try:
            await work
        except StoreUnavailable:
            logger.warning("a staff button was answered 'unavailable': the state store is unreachable")
            await calls.ephemeral(
                self.ctx.client, click.channel, click.user, blocks.temporarily_unavailable_for_staff()
            )
        except IncompatibleRecord as exc:
            logger.warning("a staff button met a record of a newer release: %s", exc)
            await calls.ephemeral(self.ctx.client, click.channel, click.user, INCOMPATIBLE_FOR_STAFF)

    async def refuse(self, click: Click) -> None:
        """Tell a non-staff clicker that the button is not for them."""
        await calls.ephemeral(self.ctx.client, click.channel, click.user, NOT_STAFF)

    async def recheck(self, click: Click) -> None:
        """Re-run the scope check with the clinic's stored key and report the result."""
        ctx = self.ctx
        ref = parse_clinic_ref(click.value)
        if ref is None:
            logger.warning("re-check click naming no clinic ignored")
            return
        platform, channel = ref
        clinic = await ctx.service.clinic(platform, channel)
        credential = clinic.credential if clinic else None
        if clinic is None or credential is None or ctx.vault is None or ctx.checker is None:
            await calls.ephemeral(ctx.client, click.channel, click.user, "There is no stored key to re-check.")
            return
        token = await open_stored_key(ctx.service, ctx.vault, ctx.reporter, platform, channel, credential)
        if token is None:
            await calls.ephemeral(
                ctx.client, click.channel, click.user, "The stored key can't be decrypted: check KEY_ENCRYPTION_KEYS."
            )
            return
        result = await ctx.checker.check(token, parse_region(credential.region))
        ctx.metrics.checks.labels(result.verdict.value).inc()
        summary = kept_check(result)
        await ctx.service.update_clinic(
            platform, clinic.channel, lambda c: c.model_copy(update={"last_check": summary})
        )
        line = support_summary(result, credential.fingerprint)
        await ctx.reporter.clinic_note(platform, clinic.channel, f":repeat: Re-check by <@{click.user}>: {line}")
        await ctx.reporter.refresh_card(platform, clinic.channel)
        answer = f"Re-checked {support_blocks.name(clinic)}: {line}"
        await calls.ephemeral(ctx.client, click.channel, click.user, answer)

    async def replacement(self, click: Click, accepted: bool) -> None:
        """Accept or Reject on a held-key alert (staff only, checked by the listener)."""
        ctx = self.ctx
        ref = parse_clinic_ref(click.value)
        if ref is None:
            logger.warning("replacement click naming no clinic ignored")
            return
        platform, channel = ref
        held = await ctx.service.clinic(platform, channel)
        pending = held.connection.pending if held and held.connection else None
        told = await ctx.core.keys.decide_replacement(platform, channel, accepted)
        if told is None or pending is None:
            await calls.ephemeral(
                ctx.client,
                click.channel,
                click.user,
                "Nothing is waiting for a decision there any more.",
                thread_ts=click.thread_ts,
            )
            return
        line = support_blocks.replacement_decided(accepted, click.user, pending.key.fingerprint)
        try:
            await calls.update(ctx.client, click.channel, click.message_ts, line, None)
        except SlackApiError as exc:
            logger.warning("the held-key alert kept its buttons: %s", calls.slack_error(exc))
        await ctx.reporter.clinic_note(platform, channel, line)
        await ctx.reporter.refresh_card(platform, channel)

    async def help_given(self, click: Click, page: dict[str, Any]) -> None:
        """**Resolved** on a request for help: close it, and show on the page who resolved it after how long."""
        ctx = self.ctx
        named = support_blocks.parse_help_value(click.value)
        help_desk = ctx.core.help_desk
        if named is None or help_desk is None:
            logger.warning("resolved click naming no request ignored")
            return
        key, asked_at = named
        waited = await help_desk.answered(key, asked_at, f"<@{click.user}>", None)
        kept = [b for b in page.get("blocks") or [] if isinstance(b, dict) and b.get("type") != "actions"]
        text = str(page.get("text") or "Request for help")
        try:
            resolved = support_blocks.help_page_resolved(f"<@{click.user}>", waited)
            await calls.update(ctx.client, click.channel, click.message_ts, text, kept + resolved)
        except SlackApiError as exc:
            logger.warning("the request for help kept its Resolved button: %s", calls.slack_error(exc))

    async def resend_handoff(self, click: Click) -> None:
        """Hand the clinic's stored key to Aldense again after a failed hand-off (bot.core.handoffs)."""
        ctx = self.ctx
        ref = parse_clinic_ref(click.value)
        if ref is None:
            logger.warning("re-send hand-off click naming no clinic ignored")
            return
        handoffs = ctx.core.handoffs
        if handoffs is None or not handoffs.enabled:
            await calls.ephemeral(
                ctx.client, click.channel, click.user, "Hand-offs are off: ALDENSE_HANDOFF_URL is not set."
            )
            return
        platform, channel = ref
        await ctx.reporter.clinic_note(platform, channel, f":repeat: Hand-off re-sent by <@{click.user}>.")
        sent = await handoffs.resend(platform, channel)
        said = {
            "delivered": "The key was handed to Aldense.",
            "retrying": f"Not delivered yet ({sent.detail}); it will be tried again automatically.",
            "failed": f"The hand-off failed again ({sent.detail}); see the clinic's support thread.",
        }.get(sent.what, f"Nothing was sent: {sent.detail or 'no pending hand-off'}.")
        await ctx.reporter.refresh_card(platform, channel)
        await calls.ephemeral(ctx.client, click.channel, click.user, said)

    async def confirm_reset(self, click: Click) -> None:
        """Open the confirmation modal of a guide reset."""
        ctx = self.ctx
        ref = parse_clinic_ref(click.value)
        if ref is None:
            logger.warning("reset click naming no clinic ignored")
            return
        clinic = await ctx.service.clinic(*ref)
        name = clinic.display_name if clinic else ref[1]
        view = await ctx.reporter.clinic_view(*ref)
        connection = clinic.connection if clinic else None
        line = connection_line(view, connection) if view is not None and connection is not None else None
        people = [(c.user, view.name_of(c.user)) for c in view.conversations] if view is not None else []
        try:
            await ctx.client.views_open(
                trigger_id=click.trigger_id, view=support_blocks.reset_confirmation(*ref, name, line, people)
            )
        except SlackApiError as exc:
            logger.warning("reset confirmation did not open: %s", calls.slack_error(exc))

    async def reset(self, body: dict[str, Any]) -> None:
        """Reset every guide in the clinic's channel, and its connection when chosen (after the confirmation modal)."""
        ctx = self.ctx
        view = body.get("view")
        metadata = (metadata_fields(view.get("private_metadata")) if isinstance(view, dict) else None) or {}
        ref = parse_clinic_ref(f"{metadata.get('platform') or PLATFORM}|{metadata.get('channel') or ''}")
        if ref is None:
            logger.warning("reset confirmation naming no clinic ignored")
            return
        platform, channel = ref
        clinic = await ctx.service.clinic(platform, channel)
        team = clinic.team if clinic and clinic.team else await ctx.workspace.installing_team()
        staff = (body.get("user") or {}).get("id")
        state = view.get("state") if isinstance(view, dict) else None
        chosen = selected_value(
            state.get("values") if isinstance(state, dict) else None,
            support_blocks.BLOCK_RESET_SCOPE,
            support_blocks.ACTION_RESET_SCOPE,
        )
        connected = clinic is not None and clinic.connection is not None
        disconnect = chosen == support_blocks.RESET_CONNECTION and connected
        only = (
            chosen[len(support_blocks.RESET_PERSON) :]
            if chosen and chosen.startswith(support_blocks.RESET_PERSON)
            else None
        )
        if disconnect:
            await ctx.core.keys.disconnect(platform, channel)
        for conversation in await ctx.service.conversations(platform, team, channel):
            if only is not None and conversation.user != only:
                continue
            outcome = await ctx.service.handle(conversation.key, Abandon(ctx.clock(), disconnect))
            if outcome.refused is None:
                await ctx.core.runner.carry_out(outcome)
        kept = "the connection is kept" if connected else "nothing is connected yet"
        if disconnect:
            scope = "every guide *and the clinic's Dentally connection*"
        elif only is not None:
            scope = f"only {await ctx.reporter.person(platform, only)}'s guide ({kept})"
        else:
            scope = f"every guide ({kept})"
        await ctx.reporter.clinic_note(
            platform, channel, f":leftwards_arrow_with_hook: <@{staff}> reset {scope}.", broadcast=disconnect
        )
        await ctx.reporter.refresh_card(platform, channel)

    async def confirm_forget(self, words: list[str], trigger_id: str | None, respond: AsyncRespond) -> None:
        """``/aldense forget #channel``: open the confirmation, or say that nothing is stored for the channel."""
        ctx = self.ctx
        channel = channel_reference(words[1]) if len(words) == 2 else None
        if channel is None:
            await respond("Usage: `/aldense forget #clinic-channel` — name one channel.")
            return
        conversations, clinic = await ctx.core.erasure.stored(PLATFORM, channel)
        if not conversations and clinic is None:
            await respond(f"Nothing is stored for <#{channel}>: there is nothing to forget.")
            return
        name = str((clinic or {}).get("name") or f"<#{channel}>")
        view = support_blocks.forget_confirmation(
            PLATFORM, channel, name, conversations, bool((clinic or {}).get("credential"))
        )
        try:
            await ctx.client.views_open(trigger_id=trigger_id or "", view=view)
        except SlackApiError as exc:
            logger.warning("forget confirmation did not open: %s", calls.slack_error(exc))
            await respond("I couldn't open the confirmation — please run the command again. Nothing was changed.")

    async def forget(self, body: dict[str, Any]) -> None:
        """Erase the clinic (after the confirmation modal) and show staff what was erased in the modal."""
        ctx = self.ctx
        view = body.get("view") if isinstance(body.get("view"), dict) else {}
        assert isinstance(view, dict)
        metadata = metadata_fields(view.get("private_metadata")) or {}
        ref = parse_clinic_ref(f"{metadata.get('platform') or PLATFORM}|{metadata.get('channel') or ''}")
        if ref is None:
            logger.warning("forget confirmation naming no clinic ignored")
            return
        staff = (body.get("user") or {}).get("id")
        try:
            erased = await ctx.core.erasure.forget(
                *ref, by=f"<@{staff}>", tell_clinic=support_blocks.forget_tells_clinic(view)
            )
            text = f"Done: {erased.summary()}." + (" The clinic was told." if erased.clinic_told else "")
        except StoreUnavailable:
            logger.warning("a forget was answered 'unavailable': the state store is unreachable")
            text = blocks.temporarily_unavailable_for_staff()
        except IncompatibleRecord:
            text = INCOMPATIBLE_FOR_STAFF
        view_id = view.get("id")
        if isinstance(view_id, str):
            try:
                await ctx.client.views_update(view_id=view_id, view=modals.message_view("Clinic forgotten", text))
            except SlackApiError as exc:
                logger.warning("forget result not shown: %s", calls.slack_error(exc))
