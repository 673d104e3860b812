"""Thin Bolt listeners: ack first, translate the payload, hand the work to a background task."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError

from bot import blocks, results, slack_calls, support_blocks, views
from bot.app import BotContext
from bot.inbound import Click, PayloadError, channel_reference, mention_words, to_click
from bot.keyflow import KeyFlow, read_submission
from bot.presenter import Trigger
from bot.staff import StaffDesk
from conversations.addresses import ConversationKey, store_key
from conversations.events import Back, Done, PostStep, Resume, Start, Stuck
from conversations.service import Outcome
from conversations.store import StoreUnavailable

logger = logging.getLogger(__name__)

PLATFORM = "slack"
# A second click on a step finished this recently is a double click: it changes nothing and says nothing.
_DOUBLE_CLICK_SECONDS = 10.0
# An Events API delivery being handled blocks its retries this long; once handled, for an hour (Slack retries
# after about 0 s, 1 min and 5 min).
_EVENT_CLAIM_SECONDS = 50.0
# The longest a click waits for the store before it is acknowledged anyway and applied in the background.
_INLINE_STORE_SECONDS = 1.5
# Pauses before each attempt to reach an unreachable store: about two minutes in all.
_STORE_RETRY_PAUSES = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 30.0, 30.0)
_EVENT_DONE_SECONDS = 3600.0

GuideMove = Start | Done | Back | Stuck | Resume
Presenting = Callable[[Outcome], Coroutine[Any, Any, None]]


def register(app: AsyncApp, ctx: BotContext) -> None:
    """Register every listener of the guide on ``app``."""
    staff = StaffDesk(ctx)
    handlers = _Handlers(ctx, staff)

    # Guide moves are saved before the response goes out (Bolt answers when the listener returns), so an
    # acknowledged click survives the process dying a moment later; the Slack calls run in the background.
    @app.action(blocks.ACTION_START)
    async def start_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await handlers.start_from_click(body)

    @app.action(re.compile(f"^({blocks.ACTION_DONE}|{blocks.ACTION_BACK}|{blocks.ACTION_STUCK})$"))
    async def step_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await handlers.step_click(body)

    @app.action(blocks.ACTION_RESUME)
    async def resume_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await handlers.resume_from_click(body)

    keys = KeyFlow(ctx)

    @app.action(blocks.ACTION_ENTER_KEY)
    async def enter_key_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = _read_click(body, "key button click")
        if click is None:
            return
        ctx.tasks.spawn(keys.open_form(click), name="open_key_form")

    @app.action(results.ACTION_CHECK_AGAIN)
    async def check_again_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = _read_click(body, "check-again click")
        if click is None:
            return
        ctx.tasks.spawn(keys.check_again(click), name="check_again")

    @app.view(views.KEY_VIEW)
    async def key_submitted(ack: AsyncAck, body: dict[str, Any]) -> None:
        submission = read_submission(body)
        if isinstance(submission, dict):
            await ack(response_action="errors", errors=submission)
            return
        if ctx.vault is None or ctx.checker is None:
            await ack(response_action="update", view=views.cannot_accept_keys_view())
            return
        await ack(response_action="update", view=views.checking_view())
        ctx.tasks.spawn(keys.submitted(submission), name="key_check")

    @app.command("/aldense")
    async def aldense_command(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        ctx.tasks.spawn(handlers.command(body, respond), name="command")

    @app.action(blocks.ACTION_NEW_KEY)
    async def new_key_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = _read_click(body, "new-key click")
        if click is None:
            return
        await handlers.start(click.channel, click.user, ctx.guide.new_key_step)

    @app.action(re.compile(f"^({support_blocks.ACTION_RECHECK}|{support_blocks.ACTION_RESET})$"))
    async def staff_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = _read_click(body, "staff click")
        if click is None:
            return
        if not await staff.is_staff(click.user_team):
            ctx.tasks.spawn(staff.refuse(click), name="staff_refused")
        elif click.action_id == support_blocks.ACTION_RECHECK:
            ctx.tasks.spawn(staff.recheck(click), name="recheck")
        else:
            ctx.tasks.spawn(staff.confirm_reset(click), name="confirm_reset")

    @app.action(support_blocks.ACTION_OPEN_THREAD)
    async def open_thread_clicked(ack: AsyncAck) -> None:
        await ack()  # a link button: Slack opens the URL; the click needs only an answer

    @app.view(support_blocks.RESET_VIEW)
    async def reset_confirmed(ack: AsyncAck, body: dict[str, Any]) -> None:
        if not await staff.is_staff((body.get("user") or {}).get("team_id")):
            await ack(response_action="errors", errors={})
            return
        await ack()
        ctx.tasks.spawn(staff.reset(body), name="reset")

    @app.event("app_home_opened")
    async def home_opened(body: dict[str, Any]) -> None:
        event = body.get("event") or {}
        if event.get("tab", "home") == "home" and isinstance(event.get("user"), str):
            ctx.tasks.spawn(staff.home(event["user"]), name="home")

    @app.event("member_joined_channel")
    async def member_joined(body: dict[str, Any]) -> None:
        ctx.tasks.spawn(handlers.once(body, lambda: handlers.member_joined(body)), name="member_joined")

    @app.event("app_mention")
    async def mentioned(body: dict[str, Any]) -> None:
        ctx.tasks.spawn(handlers.once(body, lambda: handlers.mention(body)), name="mention")

    @app.action(re.compile(".*"))
    async def unknown_action(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        actions = body.get("actions") or [{}]
        logger.warning("ignored unknown action %r", str(actions[0].get("action_id"))[:80])


class _Handlers:
    """The work behind each listener, run after the ack."""

    def __init__(self, ctx: BotContext, staff: StaffDesk) -> None:
        self.ctx = ctx
        self.staff = staff

    async def _key(self, channel: str, user: str) -> ConversationKey:
        return ConversationKey(PLATFORM, await self.ctx.workspace.installing_team(), channel, user)

    def _later(self, work: Coroutine[Any, Any, None], name: str) -> None:
        self.ctx.tasks.spawn(work, name=name)

    async def _apply(
        self, channel: str, user: str, event: GuideMove, thread_ts: str | None, present: Presenting
    ) -> None:
        """Save ``event``'s transition now, then hand ``present`` the outcome in the background.

        When the store is unreachable the click is still acknowledged: the user is told, and the event is applied
        in the background as soon as the store is back (the machine makes a late move safe).
        """
        try:
            # Slack wants its answer within 3 seconds: a store that hangs is treated as a store that is down.
            async with asyncio.timeout(_INLINE_STORE_SECONDS):
                outcome = await self.ctx.service.handle(await self._key(channel, user), event)
        except (StoreUnavailable, TimeoutError):
            self._later(self._apply_when_back(channel, user, event, thread_ts, present), "store_retry")
            return
        self._later(present(outcome), type(event).__name__)

    async def _apply_when_back(
        self, channel: str, user: str, event: GuideMove, thread_ts: str | None, present: Presenting
    ) -> None:
        ctx = self.ctx
        await slack_calls.ephemeral(ctx.client, channel, user, blocks.temporarily_unavailable(), thread_ts=thread_ts)
        for pause in _STORE_RETRY_PAUSES:
            await asyncio.sleep(pause)
            try:
                outcome = await ctx.service.handle(await self._key(channel, user), event)
            except StoreUnavailable:
                continue
            await present(outcome)
            return
        logger.error("gave up on a %s: the state store stayed unreachable", type(event).__name__)
        await slack_calls.ephemeral(ctx.client, channel, user, blocks.gave_up(), thread_ts=thread_ts)

    async def start_from_click(self, body: dict[str, Any]) -> None:
        click = _read_click(body, "start click")
        if click is None:
            return
        await self.start(click.channel, click.user)

    async def start(self, channel: str, user: str, at_step: str | None = None) -> None:
        """Start (or show again) ``user``'s guide in ``channel``, at ``at_step`` for a fresh run there."""

        async def present(outcome: Outcome) -> None:
            if any(isinstance(effect, PostStep) and effect.again for effect in outcome.effects):
                await slack_calls.ephemeral(
                    self.ctx.client,
                    channel,
                    user,
                    "You already have a Dentally guide going — I've put your current step at the bottom of your "
                    "thread.",
                )
            await self.ctx.presenter.carry_out(outcome)

        await self._apply(channel, user, Start(at=self.ctx.clock(), at_step=at_step), None, present)

    async def step_click(self, body: dict[str, Any]) -> None:
        ctx = self.ctx
        click = _read_click(body, "step click")
        if click is None:
            return
        parsed = blocks.parse_step_value(click.value)
        if parsed is None:
            logger.warning("step click with a malformed value ignored")
            return
        owner, step_id = parsed
        if owner != click.user:
            self._later(self._not_yours(click, owner), "not_yours")
            return
        at = ctx.clock()
        event: Done | Back | Stuck
        if click.action_id == blocks.ACTION_DONE:
            event = Done(step_id, at)
        elif click.action_id == blocks.ACTION_BACK:
            event = Back(step_id, at)
        else:
            event = Stuck(step_id, at)

        async def present(outcome: Outcome) -> None:
            if outcome.refused is not None:
                await self._explain_refusal(click.channel, click.user, click.thread_ts, step_id, outcome)
                return
            await ctx.presenter.carry_out(outcome, Trigger(clicked_ts=click.message_ts))

        await self._apply(click.channel, click.user, event, click.thread_ts, present)

    async def _not_yours(self, click: Click, owner: str) -> None:
        text, not_yours = blocks.not_your_guide(owner, self.ctx.guide)
        await slack_calls.ephemeral(self.ctx.client, click.channel, click.user, text, not_yours, click.thread_ts)

    async def _explain_refusal(
        self, channel: str, user: str, thread_ts: str | None, step_id: str, outcome: Outcome
    ) -> None:
        ctx = self.ctx
        state = outcome.state
        refused = outcome.refused
        assert refused is not None
        if refused.stale and state is not None:
            times = state.steps.get(step_id)
            if times and times.done is not None and ctx.clock() - times.done < _DOUBLE_CLICK_SECONDS:
                return
            text = blocks.stale_click(ctx.guide, state.step_index, refused.reason)
        else:
            text = blocks.refused(refused.reason)
        await slack_calls.ephemeral(ctx.client, channel, user, text, thread_ts=thread_ts)

    async def resume_from_click(self, body: dict[str, Any]) -> None:
        click = _read_click(body, "resume click")
        if click is None:
            return
        parsed = blocks.parse_step_value(click.value)
        if parsed is not None and parsed[0] != click.user:
            self._later(self._not_yours(click, parsed[0]), "not_yours")
            return
        await self.resume(click.channel, click.user)

    async def resume(self, channel: str, user: str) -> None:
        """Show ``user``'s current step again."""

        async def present(outcome: Outcome) -> None:
            if outcome.refused is not None:
                await slack_calls.ephemeral(
                    self.ctx.client,
                    channel,
                    user,
                    "You have no guide in progress here — mention me with *start* to begin.",
                )
                return
            await self.ctx.presenter.carry_out(outcome)

        await self._apply(channel, user, Resume(at=self.ctx.clock()), None, present)

    async def command(self, body: dict[str, Any], respond: AsyncRespond) -> None:
        ctx = self.ctx
        if body.get("team_id") != await ctx.workspace.installing_team():
            await respond("Sorry, `/aldense` is for the Aldense team only.")
            return
        words = str(body.get("text") or "").split()
        sub = words[0].lower() if words else "help"
        if sub == "onboard" and len(words) == 2:
            await self._onboard(words[1], respond)
        elif sub == "status":
            await self.staff.status(words, respond)
        elif sub == "help":
            await respond(_COMMAND_HELP)
        elif sub == "onboard":
            await respond("Usage: `/aldense onboard #clinic-channel` — name one channel.\n\n" + _COMMAND_HELP)
        else:
            await respond(f"I don't know `/aldense {sub[:40]}`.\n\n" + _COMMAND_HELP)

    async def _onboard(self, reference: str, respond: AsyncRespond) -> None:
        ctx = self.ctx
        channel = channel_reference(reference)
        if channel is None:
            await respond(f"`{reference[:80]}` isn't a channel. Usage: `/aldense onboard #clinic-channel`.")
            return
        text, kickoff = blocks.kickoff(ctx.guide)
        try:
            await slack_calls.post(ctx.client, channel, text, kickoff)
        except SlackApiError as exc:
            error = slack_calls.slack_error(exc)
            hint = {
                "not_in_channel": "Invite me to that channel first (`/invite @Aldense Guide`).",
                "channel_not_found": "I can't see that channel — invite me to it first.",
                "is_archived": "That channel is archived.",
            }.get(error, "Please try again in a minute.")
            await respond(f"I couldn't post the kick-off in <#{channel}> ({error}). {hint}")
            return
        await respond(f"Kick-off posted in <#{channel}>. I'll report progress here in the onboarding channel.")

    async def member_joined(self, body: dict[str, Any]) -> None:
        ctx = self.ctx
        event = body.get("event") or {}
        user, channel = event.get("user"), event.get("channel")
        if not (ctx.kickoff_on_join and isinstance(user, str) and isinstance(channel, str)):
            return
        await ctx.workspace.ensure()
        if user == ctx.workspace.bot_user_id:
            return
        try:
            info = await ctx.client.conversations_info(channel=channel)
            member = await ctx.client.users_info(user=user)
        except SlackApiError as exc:
            logger.warning("member_joined_channel lookup failed: %s", slack_calls.slack_error(exc))
            return
        shared = bool((info.get("channel") or {}).get("is_ext_shared"))
        member_team = (member.get("user") or {}).get("team_id")
        if not shared or member_team == ctx.workspace.team_id:
            return
        text, kickoff = blocks.kickoff(ctx.guide, welcome_user=user)
        try:
            await slack_calls.post(ctx.client, channel, text, kickoff)
        except SlackApiError as exc:
            logger.warning("kick-off on join failed: %s", slack_calls.slack_error(exc))

    async def mention(self, body: dict[str, Any]) -> None:
        ctx = self.ctx
        event = body.get("event") or {}
        user, channel = event.get("user"), event.get("channel")
        if not (isinstance(user, str) and isinstance(channel, str)):
            return
        words = mention_words(str(event.get("text") or ""))
        if "start" in words:
            await self.start(channel, user)
        elif "resume" in words:
            await self.resume(channel, user)
        else:
            await slack_calls.ephemeral(ctx.client, channel, user, blocks.help_text(ctx.guide))

    async def once(self, body: dict[str, Any], work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` for an Events API delivery unless it was already handled.

        Slack retries a delivery with the same ``event_id``. A claim (short TTL) is taken on receipt so a retry
        that overlaps the first delivery is dropped; a done mark (long TTL) is set after the work. A retry whose
        first delivery was claimed but never finished (its process died) is handled once the claim expires.
        """
        store = self.ctx.service.store
        event_id = body.get("event_id")
        if not isinstance(event_id, str) or not event_id or ":" in event_id:
            await work()
            return
        done, claim = store_key("event", event_id, "done"), store_key("event", event_id, "claim")
        try:
            if await store.marked(done) or not await store.mark_once(claim, _EVENT_CLAIM_SECONDS):
                return
        except StoreUnavailable:
            logger.warning("event de-duplication skipped: the state store is unreachable")
            await work()
            return
        try:
            await work()
        except BaseException:
            await store.unmark(claim)
            raise
        await store.mark_once(done, _EVENT_DONE_SECONDS)


def _read_click(body: dict[str, Any], what: str) -> Click | None:
    """The click in a ``block_actions`` body, or None (logged) when the body lacks what a click needs."""
    try:
        return to_click(body)
    except PayloadError as exc:
        logger.warning("%s ignored: %s", what, exc)
        return None


_COMMAND_HELP = (
    "*Aldense Guide commands* (only you see the replies)\n"
    "• `/aldense onboard #clinic-channel` — post the Dentally set-up kick-off in a clinic's shared channel\n"
    "• `/aldense status` — every clinic in progress, longest idle first\n"
    "• `/aldense status #clinic-channel` — one clinic in detail: each guide, the last check, the stored key\n"
    "• `/aldense help` — this list"
)
