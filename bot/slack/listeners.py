"""Thin Bolt listeners: ack first, translate the payload, hand the work to a background task."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError

from bot.core import copy
from bot.core.listening import Heard
from bot.core.messages import ClosedStep, HelpText, Kickoff
from bot.core.moves import StepButton
from bot.slack import blocks, calls, modals, results
from bot.slack.app import BotContext
from bot.slack.key_modal import SlackKeyModal, read_submission
from bot.slack.mrkdwn import escape
from bot.slack.payloads import Click, PayloadError, Typed, channel_reference, mention_words, to_click, to_typed
from bot.slack.platform import PLATFORM
from bot.slack.support import blocks as support_blocks
from bot.slack.support.desk import INCOMPATIBLE_FOR_STAFF, NOT_STAFF_FORGET, NOT_STAFF_RESET, StaffDesk
from conversations.addresses import ConversationKey
from conversations.schema import IncompatibleRecord
from conversations.store import StoreUnavailable

logger = logging.getLogger(__name__)

_MEMBER_PAGES = 10  # 2,000 members: a clinic channel is far smaller; past that the hand-over is let through


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

    step_actions = (blocks.ACTION_DONE, blocks.ACTION_BACK, blocks.ACTION_STUCK, blocks.ACTION_ASK_ALDENSE)

    @app.action(re.compile(f"^({'|'.join(step_actions)})$"))
    async def step_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await handlers.step_click(body)

    @app.action(re.compile(f"^{blocks.ACTION_TROUBLE}_[0-9]+$"))
    async def trouble_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await handlers.trouble_click(body)

    @app.action(blocks.ACTION_RESUME)
    async def resume_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await handlers.resume_from_click(body)

    keys = SlackKeyModal(ctx)

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

    @app.view(modals.KEY_VIEW)
    async def key_submitted(ack: AsyncAck, body: dict[str, Any]) -> None:
        submission = read_submission(body)
        if isinstance(submission, dict):
            await ack(response_action="errors", errors=submission)
            return
        if ctx.vault is None or ctx.checker is None:
            await ack(response_action="update", view=modals.cannot_accept_keys_view())
            return
        await ack(response_action="update", view=modals.checking_view())
        ctx.tasks.spawn(keys.submitted(submission), name="key_check")

    @app.action(blocks.ACTION_HAND_OVER)
    async def hand_over_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = _read_click(body, "hand-over click")
        if click is None:
            return
        ctx.tasks.spawn(handlers.offer_hand_over(click), name="offer_hand_over")

    @app.view(modals.HAND_OVER_VIEW)
    async def hand_over_submitted(ack: AsyncAck, body: dict[str, Any]) -> None:
        picked = handlers.read_hand_over(body)
        if isinstance(picked, dict):
            await ack(response_action="errors", errors=picked)
            return
        channel, user, colleague = picked
        if await handlers.outside_channel(channel, colleague):
            # Slack's user picker lists the whole workspace; a guide can only go to someone who can see its thread.
            await ack(response_action="errors", errors={modals.BLOCK_COLLEAGUE: copy.HAND_OVER_NOT_IN_CHANNEL})
            return
        await ack()
        ctx.tasks.spawn(handlers.hand_over(channel, user, colleague), name="hand_over")

    @app.action(blocks.ACTION_TAKE_OVER)
    async def take_over_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = _read_click(body, "take-over click")
        if click is None or not click.value:
            return
        ctx.tasks.spawn(handlers.take_over(click.channel, click.user, click.value), name="take_over")

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

    @app.action(blocks.ACTION_REPLACE_KEY)
    async def replace_key_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = _read_click(body, "replace-key click")
        if click is None:
            return
        # The person already has the new key (rotated, say): straight to the key step.
        await handlers.start(click.channel, click.user, ctx.guide.steps[-1].id, replacing=True)

    @app.action(re.compile(f"^({support_blocks.ACTION_ACCEPT_KEY}|{support_blocks.ACTION_REJECT_KEY})$"))
    async def replacement_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = _read_click(body, "replacement click")
        if click is None:
            return
        if not await staff.is_staff(click.user_team):
            ctx.tasks.spawn(staff.refuse(click), name="staff_refused")
            return
        accepted = click.action_id == support_blocks.ACTION_ACCEPT_KEY
        ctx.tasks.spawn(staff.unavailable(click, staff.replacement(click, accepted)), name="replacement")

    staff_actions = (support_blocks.ACTION_RECHECK, support_blocks.ACTION_RESET, support_blocks.ACTION_RESEND_HANDOFF)

    @app.action(re.compile(f"^({'|'.join(staff_actions)})$"))
    async def staff_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = _read_click(body, "staff click")
        if click is None:
            return
        if not await staff.is_staff(click.user_team):
            ctx.tasks.spawn(staff.refuse(click), name="staff_refused")
        elif click.action_id == support_blocks.ACTION_RECHECK:
            ctx.tasks.spawn(staff.unavailable(click, staff.recheck(click)), name="recheck")
        elif click.action_id == support_blocks.ACTION_RESEND_HANDOFF:
            ctx.tasks.spawn(staff.unavailable(click, staff.resend_handoff(click)), name="resend_handoff")
        else:
            ctx.tasks.spawn(staff.unavailable(click, staff.confirm_reset(click)), name="confirm_reset")

    @app.action(support_blocks.ACTION_HELP_GIVEN)
    async def help_given_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = _read_click(body, "resolved click")
        if click is None:
            return
        if not await staff.is_staff(click.user_team):
            ctx.tasks.spawn(staff.refuse(click), name="staff_refused")
            return
        message = body.get("message")
        page: dict[str, Any] = message if isinstance(message, dict) else {}
        ctx.tasks.spawn(staff.unavailable(click, staff.help_given(click, page)), name="help_given")

    @app.action(support_blocks.ACTION_OPEN_THREAD)
    async def open_thread_clicked(ack: AsyncAck) -> None:
        await ack()  # a link button: Slack opens the URL; the click needs only an answer

    @app.view(support_blocks.RESET_VIEW)
    async def reset_confirmed(ack: AsyncAck, body: dict[str, Any]) -> None:
        if not await staff.is_staff((body.get("user") or {}).get("team_id")):
            # The confirmation has no input to pin an error on (Slack refuses an empty ``errors``): say it instead.
            await ack(response_action="update", view=modals.message_view("Aldense staff only", NOT_STAFF_RESET))
            return
        await ack()
        ctx.tasks.spawn(staff.reset(body), name="reset")

    @app.view(support_blocks.FORGET_VIEW)
    async def forget_confirmed(ack: AsyncAck, body: dict[str, Any]) -> None:
        if not await staff.is_staff((body.get("user") or {}).get("team_id")):
            await ack(response_action="update", view=modals.message_view("Aldense staff only", NOT_STAFF_FORGET))
            return
        await ack(response_action="update", view=modals.message_view("Forgetting the clinic", "Erasing…"))
        ctx.tasks.spawn(staff.forget(body), name="forget")

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

    # Every ``message`` event, whatever its subtype, is answered here so none reaches Bolt's "Unhandled request"
    # warning; what a person typed is read by ``to_typed`` and the rest ignored.
    @app.event("message")
    async def message_typed(body: dict[str, Any]) -> None:
        typed = to_typed(body.get("event") or {})
        if typed is None:
            return
        ctx.tasks.spawn(handlers.once(body, lambda: handlers.typed(typed)), name="message")

    @app.action(re.compile(".*"))
    async def unknown_action(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        actions = body.get("actions") or [{}]
        logger.warning("ignored unknown action %r", str(actions[0].get("action_id"))[:80])


class _Handlers:
    """The work behind each listener: guide moves go to the shared core, Slack-only work is done here."""

    def __init__(self, ctx: BotContext, staff: StaffDesk) -> None:
        self.ctx = ctx
        self.staff = staff

    async def _key(self, channel: str, user: str) -> ConversationKey:
        return ConversationKey(PLATFORM, await self.ctx.workspace.installing_team(), channel, user)

    async def start_from_click(self, body: dict[str, Any]) -> None:
        click = _read_click(body, "start click")
        if click is None:
            return
        await self.start(click.channel, click.user)

    async def start(self, channel: str, user: str, at_step: str | None = None, replacing: bool = False) -> None:
        """Start (or show again) ``user``'s guide in ``channel``, at ``at_step`` for a fresh run there."""
        await self.ctx.core.moves.start(await self._key(channel, user), at_step, replacing=replacing)

    async def step_click(self, body: dict[str, Any]) -> None:
        click = _read_click(body, "step click")
        if click is None:
            return
        parsed = blocks.parse_step_value(click.value)
        if parsed is None:
            logger.warning("step click with a malformed value ignored")
            return
        owner, step_id = parsed
        button = _STEP_BUTTONS[click.action_id]
        key = await self._key(click.channel, click.user)
        replace = None
        if click.response_url is not None:
            response_url = click.response_url

            async def replace_clicked(closed: ClosedStep) -> None:
                await self.ctx.platform.replace_clicked(response_url, closed)

            replace = replace_clicked
        await self.ctx.core.moves.step(key, owner, step_id, button, click.message_ts, click.thread_ts, replace)

    async def trouble_click(self, body: dict[str, Any]) -> None:
        click = _read_click(body, "trouble click")
        if click is None:
            return
        parsed = blocks.parse_trouble_value(click.value)
        if parsed is None:
            logger.warning("trouble click with a malformed value ignored")
            return
        owner, step_id, trouble_id = parsed
        key = await self._key(click.channel, click.user)
        await self.ctx.core.moves.trouble(key, owner, step_id, trouble_id, click.thread_ts)

    async def resume_from_click(self, body: dict[str, Any]) -> None:
        click = _read_click(body, "resume click")
        if click is None:
            return
        parsed = blocks.parse_step_value(click.value)
        owner = parsed[0] if parsed is not None else None
        await self.ctx.core.moves.resume(await self._key(click.channel, click.user), owner, click.thread_ts)

    async def resume(self, channel: str, user: str) -> None:
        """Show ``user``'s current step again."""
        await self.ctx.core.moves.resume(await self._key(channel, user))

    async def command(self, body: dict[str, Any], respond: AsyncRespond) -> None:
        """``/aldense``: answered even when the state store is down (staff are told to try again)."""
        try:
            await self._command(body, respond)
        except StoreUnavailable:
            logger.warning("/aldense answered 'unavailable': the state store is unreachable")
            await respond(blocks.temporarily_unavailable_for_staff())
        except IncompatibleRecord as exc:
            logger.warning("/aldense met a record of a newer release: %s", exc)
            await respond(INCOMPATIBLE_FOR_STAFF)

    async def _command(self, body: dict[str, Any], respond: AsyncRespond) -> None:
        user = body.get("user_id")
        staff = await self.staff.is_staff_user(user) if isinstance(user, str) else False
        if staff is None:
            await respond("I couldn't check with Slack that you're on the Aldense team — please try again in a minute.")
            return
        if not staff:
            await respond("Sorry, `/aldense` is for the Aldense team only.")
            return
        words = str(body.get("text") or "").split()
        sub = words[0].lower() if words else "help"
        if sub == "onboard" and len(words) == 2:
            await self._onboard(words[1], respond)
        elif sub == "status":
            await self.staff.status(words, respond)
        elif sub == "forget":
            trigger = body.get("trigger_id")
            await self.staff.confirm_forget(words, trigger if isinstance(trigger, str) else None, respond)
        elif sub == "help":
            await respond(_COMMAND_HELP)
        elif sub == "onboard":
            await respond("Usage: `/aldense onboard #clinic-channel` — name one channel.\n\n" + _COMMAND_HELP)
        else:
            await respond(f"I don't know `/aldense {escape(sub, 40)}`.\n\n" + _COMMAND_HELP)

    async def _onboard(self, reference: str, respond: AsyncRespond) -> None:
        ctx = self.ctx
        channel = channel_reference(reference)
        if channel is None:
            await respond(f"`{escape(reference)}` isn't a channel. Usage: `/aldense onboard #clinic-channel`.")
            return
        try:
            await ctx.platform.post(channel, Kickoff())
        except SlackApiError as exc:
            error = calls.slack_error(exc)
            hint = {
                "not_in_channel": "Invite me to that channel first (`/invite @Aldense Guide`).",
                "channel_not_found": "I can't see that channel — invite me to it first.",
                "is_archived": "That channel is archived.",
            }.get(error, "Please try again in a minute.")
            await respond(f"I couldn't post the kick-off in <#{channel}> ({error}). {hint}")
            return
        await respond(f"Kick-off posted in <#{channel}>. I'll report progress here in the onboarding channel.")

    async def member_joined(self, body: dict[str, Any]) -> None:
        """Greet someone of another workspace who joins a Slack Connect channel the bot is in.

        The event says who joined, their team (``event.team``) and whether the channel is shared
        (``is_ext_shared_channel``); Slack is asked only for what an event lacks. ``users.info`` may answer
        ``user_not_visible`` for people of other workspaces, so a failed look-up greets rather than stays silent.
        """
        ctx = self.ctx
        event = body.get("event") or {}
        user, channel = event.get("user"), event.get("channel")
        if not (ctx.kickoff_on_join and isinstance(user, str) and isinstance(channel, str)):
            return
        await ctx.workspace.ensure()
        if user == ctx.workspace.bot_user_id:
            return
        shared = body.get("is_ext_shared_channel")
        if not isinstance(shared, bool):
            shared = await self._is_shared(channel)
        if not shared:
            return
        team = event.get("team")
        if not isinstance(team, str) or not team:
            team = await self._team_of(user)
        # On Enterprise Grid an event may name the organisation (E…) rather than the workspace.
        if team is not None and team in (ctx.workspace.team_id, ctx.workspace.enterprise_id):
            return
        try:
            await ctx.platform.post(channel, Kickoff(welcome_user=user))
        except SlackApiError as exc:
            logger.warning("kick-off on join failed: %s", calls.slack_error(exc))

    async def _is_shared(self, channel: str) -> bool:
        """Whether ``channel`` is shared with another workspace; a failed look-up counts as shared (greet)."""
        try:
            info = await self.ctx.client.conversations_info(channel=channel)
        except SlackApiError as exc:
            logger.warning("conversations.info failed for a join (%s); greeting anyway", calls.slack_error(exc))
            return True
        return bool((info.get("channel") or {}).get("is_ext_shared"))

    async def _team_of(self, user: str) -> str | None:
        """The team ``user`` belongs to, or None when Slack won't say."""
        try:
            member = await self.ctx.platform.profiles.get(user)
        except SlackApiError as exc:
            logger.warning("users.info failed for a join (%s); greeting anyway", calls.slack_error(exc))
            return None
        team = member.get("team_id")
        return team if isinstance(team, str) else None

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
            await ctx.platform.tell(channel, user, HelpText())

    async def offer_hand_over(self, click: Click) -> None:
        """The owner of a guide picks the colleague with the Dentally login in a modal."""
        parsed = blocks.parse_step_value(click.value)
        if parsed is None:
            return
        key = await self._key(click.channel, click.user)
        if not self.ctx.core.moves.owns(key, parsed[0], click.thread_ts):
            return
        try:
            await self.ctx.client.views_open(
                trigger_id=click.trigger_id, view=modals.hand_over_modal(click.channel, click.user)
            )
        except SlackApiError as exc:
            logger.warning("views.open failed for a hand-over: %s", calls.slack_error(exc))

    def read_hand_over(self, body: dict[str, Any]) -> tuple[str, str, str] | dict[str, str]:
        """(channel, giver, colleague) from a hand-over submission, or inline errors."""
        view = body.get("view") if isinstance(body.get("view"), dict) else {}
        assert isinstance(view, dict)
        user = (body.get("user") or {}).get("id")
        target = modals.read_key_metadata(view.get("private_metadata"))
        if target is None or target[1] != user or not isinstance(user, str):
            return {modals.BLOCK_COLLEAGUE: "This form has expired. Close it and click the button again."}
        colleague = modals.picked_user((view.get("state") or {}).get("values"))
        if colleague is None:
            return {modals.BLOCK_COLLEAGUE: "Pick the colleague who has the Dentally login."}
        if colleague == user:
            return {modals.BLOCK_COLLEAGUE: "That's you — pick the colleague who has the Dentally login."}
        if colleague == self.ctx.workspace.bot_user_id:
            return {modals.BLOCK_COLLEAGUE: "Pick a person: I can't log in to Dentally."}
        return target[0], user, colleague

    async def outside_channel(self, channel: str, user: str) -> bool:
        """Whether ``user`` is known not to be in ``channel`` (False when Slack will not say)."""
        cursor = None
        try:
            for _ in range(_MEMBER_PAGES):
                page = await self.ctx.client.conversations_members(channel=channel, limit=200, cursor=cursor)
                if user in (page.get("members") or []):
                    return False
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    return True
        except SlackApiError as exc:
            logger.warning("conversations.members failed for a hand-over: %s", calls.slack_error(exc))
        return False

    async def hand_over(self, channel: str, user: str, colleague: str) -> None:
        """``user`` hands their guide in ``channel`` to ``colleague``."""
        await self.ctx.core.handovers.hand_over(await self._key(channel, user), colleague)

    async def take_over(self, channel: str, user: str, owner: str) -> None:
        """``user`` takes over ``owner``'s guide in ``channel`` (from the "not yours" answer)."""
        await self.ctx.core.handovers.take_over(await self._key(channel, user), owner)

    async def typed(self, typed: Typed) -> None:
        """A person typed in a channel: the shared listener flags keys and forwards words typed in guide threads."""
        ctx = self.ctx
        await ctx.workspace.ensure()
        if typed.user == ctx.workspace.bot_user_id:
            return
        staff = typed.user_team is not None and typed.user_team in (ctx.workspace.team_id, ctx.workspace.enterprise_id)
        heard = Heard(
            platform=PLATFORM,
            team=await ctx.workspace.installing_team(),
            channel=typed.channel,
            user=typed.user,
            text=typed.text,
            ref=typed.ts,
            thread=typed.thread_ts,
            from_staff=staff,
            # A mention's words are answered by the ``app_mention`` listener (Slack sends both events).
            to_bot=f"<@{ctx.workspace.bot_user_id}>" in typed.text,
        )
        await ctx.core.listener.heard(heard)

    async def once(self, body: dict[str, Any], work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` for an Events API delivery unless it was already handled (Slack retries by ``event_id``)."""
        event_id = body.get("event_id")
        await self.ctx.core.deliveries.once(PLATFORM, event_id if isinstance(event_id, str) else None, work)


_STEP_BUTTONS = {
    blocks.ACTION_DONE: StepButton.DONE,
    blocks.ACTION_BACK: StepButton.BACK,
    blocks.ACTION_STUCK: StepButton.STUCK,
    blocks.ACTION_ASK_ALDENSE: StepButton.ASK_ALDENSE,
}


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
    "• `/aldense forget #clinic-channel` — erase everything stored about a clinic (asks to confirm first)\n"
    "• `/aldense help` — this list"
)
