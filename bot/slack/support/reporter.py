"""Support-channel reporting: a live status card per clinic in the onboarding channel, milestones in its thread.

Support waits behind clinics: thread posts go out at ``THREAD`` priority and card refreshes at ``CARD``. A change
marks its clinic's card out of date at once (``card_queue``), not after the thread post about it, so a card is
never held up behind the thread; a burst of changes costs one refresh showing the latest.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.clinics import Clinics, ClinicView
from bot.core.messages import Standing
from bot.core.outbound import Priority, priority
from bot.core.platform import Platforms
from bot.slack import calls
from bot.slack.client import CountingWebClient
from bot.slack.mrkdwn import escape, quoted
from bot.slack.platform import PLATFORM as SLACK
from bot.slack.results import support_evidence, support_summary
from bot.slack.support.blocks import connection_note, help_page_actions, status_card
from bot.slack.support.card_queue import CardQueue
from conversations.addresses import clinic_key
from conversations.clinic import Clinic
from conversations.conversation import Conversation
from conversations.events import Milestone
from conversations.guide import Guide, Step
from conversations.service import OnboardingService
from conversations.store import StoreUnavailable
from dentally.scopes import CheckResult, Verdict

logger = logging.getLogger(__name__)


class SupportReporter:
    """Tells Aldense's support team what happens in each clinic's channel."""

    def __init__(
        self,
        client: AsyncWebClient,
        service: OnboardingService,
        guide: Guide,
        channel: str | None,
        picture_url: Callable[[Step], str | None] = lambda step: None,
        spawn: Callable[[Coroutine[Any, Any, None], str], None] | None = None,
        platforms: Platforms | None = None,
        mention: str = "",
        step_posts: bool = False,
        card_seconds: float = 5.0,
    ) -> None:
        self._mention = mention
        self._step_posts = step_posts
        self._spawn = spawn
        self._queue: deque[Callable[[], Awaitable[None]]] = deque()
        self._draining = False
        self._client = client
        self._service = service
        self._guide = guide
        self._channel = channel
        self._picture_url = picture_url
        self._cards = CardQueue(service.store, self._update_card, spawn, card_seconds)
        self._platforms = platforms or Platforms()
        self.clinics = Clinics(service, self._platforms)

    @property
    def platforms(self) -> Platforms:
        """The platforms whose clinics support sees."""
        return self._platforms

    @property
    def channel(self) -> str | None:
        """Aldense's onboarding channel, if configured."""
        return self._channel

    async def milestone(self, conversation: Conversation, milestone: Milestone, step_id: str | None) -> None:
        """Queue ``milestone`` for the clinic's support thread (and a status card update)."""
        if self._channel is None:
            return
        index = None if step_id is None else self._guide.position(step_id)  # None too for a step an edit removed
        await self.refresh_card(conversation.platform, conversation.channel, urgent=milestone in URGENT)
        if milestone is Milestone.STEP_DONE and not (self._step_posts and _first_finish(conversation, step_id)):
            return  # progress lives on the card; the thread keeps what a person must read

        async def post() -> None:
            text, extra, broadcast = await self._describe(conversation, milestone, index)
            await self._post(conversation, text, extra, broadcast, milestone.value)

        await self._enqueue(post)

    async def note(self, conversation: Conversation, text: str, broadcast: bool = False) -> None:
        """Queue a free-form line for the clinic's support thread (``broadcast`` also shows it in the channel)."""
        if self._channel is None:
            return

        async def post() -> None:
            await self._post(conversation, text, None, broadcast, "note")

        await self.refresh_card(conversation.platform, conversation.channel, urgent=False)
        await self._enqueue(post)

    async def clinic_said(self, conversation: Conversation, speaker: str, text: str) -> None:
        """Forward what a clinic user typed in a guide's thread: who, a link to the thread, the words quoted.

        The words are escaped (a clinic cannot mention anyone or forge a link in Aldense's channel) and broadcast,
        since someone must answer them.
        """
        if self._channel is None:
            return

        async def post() -> None:
            person = await self.person(conversation.platform, speaker)
            link = await self._thread_link(conversation)
            where = f" <{link}|Open the thread>" if link else ""
            said = f":speech_balloon: {person} wrote in their Dentally guide thread:{where}\n{quoted(text)}"
            await self._post(conversation, said, None, True, "clinic_said")

        await self.refresh_card(conversation.platform, conversation.channel, urgent=False)
        await self._enqueue(post)

    async def clinic_note(self, platform: str, channel: str, text: str, broadcast: bool = False) -> None:
        """Like ``note`` for a clinic as a whole (keep-alive results, staff actions, a pasted key).

        A clinic where no guide has started has no support thread yet: the note goes in the onboarding channel.
        """
        view = await self.clinic_view(platform, channel)
        if view is not None and view.conversations:
            await self.note(view.conversations[0], text, broadcast)
            return
        if self._channel is None:
            return
        # No guide has started there yet, so the clinic has no support thread: say it in the channel itself.
        onboarding = self._channel

        async def post() -> None:
            place = await self._place(platform, channel)
            try:
                with priority(Priority.THREAD):
                    await calls.post(self._client, onboarding, f"{place} {text}", None)
            except SlackApiError as exc:
                logger.warning("support note for a clinic without a guide failed: %s", calls.slack_error(exc))

        await self._enqueue(post)

    async def connection_changed(self, platform: str, channel: str, standing: Standing) -> None:
        """Queue what a verified key did to the connection for the support thread (a held key with Accept/Reject)."""
        view = await self.clinic_view(platform, channel)
        if self._channel is None or view is None or not view.conversations:
            return
        described = connection_note(view, standing)
        if described is None:
            return
        text, extra = described

        async def post() -> None:
            await self._post(view.conversations[0], text, extra, standing.held, "connection")

        await self.refresh_card(platform, channel)
        await self._enqueue(post)

    async def _enqueue(self, post: Callable[[], Awaitable[None]]) -> None:
        """Posts go out in order, paced, by one background drain, so no user-facing work waits for them."""
        if self._spawn is None:  # no background runner (a one-off tool): post now
            await post()
            return
        self._queue.append(post)
        if not self._draining:
            self._draining = True
            self._spawn(self._drain(), "support_reports")

    async def _drain(self) -> None:
        try:
            while self._queue:
                post = self._queue.popleft()
                try:
                    with priority(Priority.THREAD):
                        await post()
                except Exception:
                    logger.exception("a support report failed")
        finally:
            self._draining = False

    async def _post(
        self, conversation: Conversation, text: str, extra: list[dict[str, Any]] | None, broadcast: bool, what: str
    ) -> None:
        assert self._channel is not None
        try:
            parent = await self._support_thread(conversation)
            blocks = None
            if extra:
                blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}, *extra]
            try:
                with priority(Priority.THREAD):
                    await calls.post(self._client, self._channel, text, blocks, thread_ts=parent, broadcast=broadcast)
            except SlackApiError as exc:
                if blocks is None or not calls.picture_refused(exc):
                    raise
                logger.warning("support report %s posted without its picture: Slack could not use it", what)
                with priority(Priority.THREAD):
                    await calls.post(self._client, self._channel, text, None, thread_ts=parent, broadcast=broadcast)
        except SlackApiError as exc:
            logger.warning("support report %s failed: %s", what, calls.slack_error(exc))

    async def _describe(
        self, conversation: Conversation, milestone: Milestone, index: int | None
    ) -> tuple[str, list[dict[str, Any]] | None, bool]:
        user = await self.person(conversation.platform, conversation.user)
        step = ""
        if index is not None:
            step = f"step {index + 1}/{self._guide.step_count} — *{self._guide.steps[index].title}*"
        if milestone is Milestone.STARTED:
            return f":arrow_forward: {user} started the Dentally guide at {step}.", None, False
        if milestone is Milestone.STEP_DONE:
            return f":white_check_mark: {user} finished {step}.", None, False
        if milestone is Milestone.STUCK:
            return await self._stuck(conversation, user, step, index)
        if milestone is Milestone.KEY_RECEIVED:
            fingerprint = conversation.key_fingerprint
            return f":key: {user} entered a key ending `{fingerprint}`; checking it with Dentally.", None, False
        if milestone is Milestone.NUDGED:
            return f":bell: Reminder {conversation.nudges} sent to {user} (quiet on {step}).", None, False
        if milestone is Milestone.RESET:
            return f":leftwards_arrow_with_hook: The guide of {user} was reset by Aldense.", None, False
        clinic = await self._service.clinic(conversation.platform, conversation.channel)
        if clinic is not None and clinic.last_check is not None:
            result = CheckResult.model_validate(clinic.last_check)
            summary = support_summary(result, conversation.key_fingerprint or "????")
            evidence = [{"type": "section", "text": {"type": "mrkdwn", "text": support_evidence(result)}}]
            return f":mag: Key check for {user}: {summary}", evidence, result.verdict is not Verdict.VERIFIED
        return f":mag: Key check for {user}: {conversation.last_verdict}", None, False

    async def _stuck(
        self, conversation: Conversation, user: str, step: str, index: int | None
    ) -> tuple[str, list[dict[str, Any]] | None, bool]:
        link = await self._thread_link(conversation)
        place = await self._place(conversation.platform, conversation.channel)
        where = f" <{link}|Open their thread>" if link else f" in {place}"
        extra: list[dict[str, Any]] = []
        if index is not None and (url := self._picture_url(self._guide.steps[index])):
            shown = self._guide.steps[index]
            extra = [{"type": "image", "image_url": url, "alt_text": shown.alt, "title": _plain(shown.title)}]
        if conversation.stuck_at is not None:
            extra.append(help_page_actions(conversation.key, conversation.stuck_at))
        mention = f"{self._mention} " if self._mention else ""
        text = (
            f"{mention}:sos: {user} is stuck on {step}.{where} Answer in their thread, or press *Resolved* when done."
        )
        return text, extra or None, True

    async def person(self, platform: str, user: str) -> str:
        """How support sees a clinic user: a Slack mention, or the name another platform knows them by."""
        return await self.clinics.person(platform, user)

    async def _place(self, platform: str, channel: str) -> str:
        """How support sees a clinic's channel: a Slack channel mention, or its name on another platform."""
        if platform == SLACK:
            return f"<#{channel}>"
        clinic = await self._service.clinic(platform, channel)
        name = clinic.channel_name if clinic else None
        return f"*{escape(name)}*" if name else "their channel"

    async def _thread_link(self, conversation: Conversation) -> str | None:
        served = self._platforms.get(conversation.platform)
        return await served.thread_link(conversation) if served else None

    async def refresh_card(self, platform: str, channel: str, urgent: bool = True) -> None:
        """Re-render a clinic's status card soon, showing the clinic as it is when the refresh goes out.

        Changes within ``card_seconds`` fold into one refresh; an ``urgent`` one (what a person waits on: a key
        result, a request for help, a staff action) goes out within a second, before cards that only show progress.
        """
        if self._channel is not None:
            await self._cards.mark(platform, channel, urgent)

    async def close_page(self, conversation: Conversation, asked_at: float, line: str) -> None:
        """Replace the Resolved button of the request's page in the clinic's support thread with ``line``.

        The page is found by its button (which names the request), so a request answered in the clinic's thread
        never leaves a page that still asks to be resolved.
        """
        clinic = await self._service.clinic(conversation.platform, conversation.channel)
        if self._channel is None or clinic is None or clinic.support_ref is None:
            return
        actions = help_page_actions(conversation.key, asked_at)
        value = actions["elements"][0]["value"]
        try:
            with priority(Priority.THREAD):
                replies = await self._client.conversations_replies(
                    channel=self._channel, ts=clinic.support_ref, limit=1000
                )
                for message in replies.get("messages") or []:
                    blocks = [b for b in message.get("blocks") or [] if isinstance(b, dict)]
                    # Slack hands blocks back with fields of its own added: match the button by its value alone.
                    page = [b for b in blocks if b.get("block_id") == actions["block_id"]]
                    if not any(e.get("value") == value for b in page for e in b.get("elements") or []):
                        continue
                    kept = [b for b in blocks if b.get("block_id") != actions["block_id"]]
                    shown = [*kept, {"type": "context", "elements": [{"type": "mrkdwn", "text": line}]}]
                    await calls.update(self._client, self._channel, str(message["ts"]), str(message.get("text")), shown)
        except SlackApiError as exc:
            logger.warning("a request's page kept its Resolved button: %s", calls.slack_error(exc))

    async def retire_card(self, support_ref: str, text: str) -> bool:
        """Replace a forgotten clinic's status card with ``text`` alone: no name, people or progress stay on it."""
        if self._channel is None:
            return False
        try:
            with priority(Priority.CARD):
                await calls.update(self._client, self._channel, support_ref, text, [_section(text)])
        except SlackApiError as exc:
            logger.warning("status card not retired: %s", calls.slack_error(exc))
            return False
        return True

    async def clinic_view(self, platform: str, channel: str) -> ClinicView | None:
        """Everything support sees about a clinic, or None when it has no record."""
        return await self.clinics.view(platform, channel)

    async def _update_card(self, platform: str, channel: str, taken: Callable[[], Awaitable[None]]) -> None:
        assert self._channel is not None
        onboarding = self._channel
        try:
            with priority(Priority.CARD):
                view = await self.clinic_view(platform, channel)
                if view is not None and view.clinic.support_ref is None and view.conversations:
                    # No card yet (its thread's first post still waits behind other clinics' posts): post it now,
                    # at the card's priority, drawn from the clinic as it is once off the queue (a change after
                    # that marks the card again, and a refresh follows).
                    await taken()
                    view = await self.clinic_view(platform, channel)
                    if view is not None and view.conversations:
                        await self._support_thread(view.conversations[0], fresh=view)
                    return

                async def update() -> None:
                    # Read when the budget allows the call, so a refresh that waited shows the clinic as it is now.
                    await taken()
                    view = await self.clinic_view(platform, channel)
                    if view is None or view.clinic.support_ref is None:
                        return
                    text, card = status_card(self._guide, view)
                    await calls.update(self._client, onboarding, view.clinic.support_ref, text, card)

                if isinstance(self._client, CountingWebClient):
                    await self._client.when_admitted("chat.update", onboarding, update)
                else:
                    await update()
        except SlackApiError as exc:
            logger.warning("status card update failed: %s", calls.slack_error(exc))

    async def _support_thread(self, conversation: Conversation, fresh: ClinicView | None = None) -> str:
        """The ts of the clinic's status card, posted once; a lost race deletes its duplicate.

        A card is drawn from ``fresh`` (the clinic as stored now) when given. Otherwise it is drawn from
        ``conversation`` alone (the change that opened the thread) and refreshed soon after, to show what happened
        while it waited to be posted.
        """
        assert self._channel is not None
        clinic = (
            fresh.clinic
            if fresh is not None
            else await self._service.clinic(conversation.platform, conversation.channel)
        )
        if clinic and clinic.support_ref:
            return clinic.support_ref
        if not await self._may_post_card(conversation.platform, conversation.channel):
            # Another replica (or this one's other path) is posting this clinic's card: use it once it is there.
            for _ in range(POSTING_WAITS):
                await asyncio.sleep(POSTING_WAIT_SECONDS)
                clinic = await self._service.clinic(conversation.platform, conversation.channel)
                if clinic and clinic.support_ref:
                    return clinic.support_ref
        channel_name = await self._channel_name(conversation.platform, conversation.channel)
        draft = clinic or Clinic(
            platform=conversation.platform,
            channel=conversation.channel,
            created_at=conversation.started_at,
            updated_at=conversation.started_at,
        )
        draft = draft.model_copy(update={"channel_name": draft.channel_name or channel_name})
        if fresh is not None:
            view = replace(fresh, clinic=draft)
        else:
            names = {conversation.user: await self.person(conversation.platform, conversation.user)}
            view = ClinicView(draft, (conversation,), platform=conversation.platform, names=names)
        text, card = status_card(self._guide, view)
        with priority(Priority.CARD):
            ts = await calls.post(self._client, self._channel, text, card)

        def claim(record: Clinic) -> Clinic:
            team = record.team or conversation.team
            if record.support_ref:
                return record.model_copy(update={"team": team})
            return record.model_copy(
                update={"support_ref": ts, "channel_name": record.channel_name or channel_name, "team": team}
            )

        after, _ = await self._service.update_clinic(conversation.platform, conversation.channel, claim)
        if after.support_ref != ts:
            with priority(Priority.COSMETIC):
                await self._client.chat_delete(channel=self._channel, ts=ts)
        elif fresh is None:
            await self.refresh_card(conversation.platform, conversation.channel, urgent=False)
        return str(after.support_ref)

    async def _may_post_card(self, platform: str, channel: str) -> bool:
        """Whether no one else is posting this clinic's card just now (the store down: post, a duplicate is deleted).

        The mark sits at the clinic's own address, so forgetting the clinic takes it too.
        """
        try:
            return await self._service.store.mark_once(clinic_key(platform, channel), POSTING_SECONDS)
        except StoreUnavailable:
            return True

    async def _channel_name(self, platform: str, channel: str) -> str | None:
        served = self._platforms.get(platform)
        return await served.channel_name(channel) if served else None


# A process posting a clinic's card holds it this long; another waits up to POSTING_WAITS x POSTING_WAIT_SECONDS for
# that card (a lost race still deletes its duplicate, the backstop when the holder dies mid-post).
POSTING_SECONDS = 30.0
POSTING_WAITS = 50
POSTING_WAIT_SECONDS = 0.2

# Milestones support acts on: their card goes out before cards that only show progress.
URGENT = frozenset({Milestone.STUCK, Milestone.CHECKED, Milestone.RESET})


def _first_finish(conversation: Conversation, step_id: str | None) -> bool:
    """Whether ``step_id`` was just finished for the first time (after Back, Done finishes it again)."""
    times = conversation.steps.get(step_id or "")
    if times is None or times.done is None:
        return False
    reached = [t.reached for t in conversation.steps.values() if t.reached > times.reached]
    return not reached or min(reached) >= times.done


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}
