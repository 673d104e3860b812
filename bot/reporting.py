"""Support-channel reporting: one parent message per clinic in the onboarding channel, milestones in its thread."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import slack_calls
from bot.results import support_summary
from conversations.clinic import Clinic
from conversations.conversation import Conversation
from conversations.events import Milestone
from conversations.guide import Guide
from conversations.service import OnboardingService
from dentally.scopes import CheckResult, Verdict

logger = logging.getLogger(__name__)


class SupportReporter:
    """Tells Aldense's support team what happens in each clinic's channel."""

    def __init__(self, client: AsyncWebClient, service: OnboardingService, guide: Guide, channel: str | None) -> None:
        self._client = client
        self._service = service
        self._guide = guide
        self._channel = channel

    async def milestone(
        self, conversation: Conversation, milestone: Milestone, index: int | None, note: str = ""
    ) -> None:
        """Post ``milestone`` in the clinic's support thread (creating the thread first when needed)."""
        if self._channel is None:
            return
        text, broadcast = await self._describe(conversation, milestone, index, note)
        try:
            parent = await self._support_thread(conversation)
            await slack_calls.post(self._client, self._channel, text, thread_ts=parent, broadcast=broadcast)
        except SlackApiError as exc:
            logger.warning("support report %s failed: %s", milestone.value, slack_calls.slack_error(exc))

    async def note(self, conversation: Conversation, text: str, broadcast: bool = False) -> None:
        """Post a free-form line in the clinic's support thread (``broadcast`` also shows it in the channel)."""
        if self._channel is None:
            return
        try:
            parent = await self._support_thread(conversation)
            await slack_calls.post(self._client, self._channel, text, thread_ts=parent, broadcast=broadcast)
        except SlackApiError as exc:
            logger.warning("support note failed: %s", slack_calls.slack_error(exc))

    async def _describe(
        self, conversation: Conversation, milestone: Milestone, index: int | None, note: str
    ) -> tuple[str, bool]:
        user = f"<@{conversation.user}>"
        step = ""
        if index is not None:
            step = f"step {index + 1}/{self._guide.step_count} — *{self._guide.steps[index].title}*"
        if milestone is Milestone.STARTED:
            return f":arrow_forward: {user} started the Dentally guide at {step}.", False
        if milestone is Milestone.STEP_DONE:
            return f":white_check_mark: {user} finished {step}.", False
        if milestone is Milestone.STUCK:
            link = None
            if conversation.thread_ref:
                link = await slack_calls.permalink(self._client, conversation.channel, conversation.thread_ref)
            where = f" <{link}|Open their thread>" if link else f" in <#{conversation.channel}>"
            return f":sos: {user} is stuck on {step}.{where}", True
        if milestone is Milestone.KEY_RECEIVED:
            return (
                f":key: {user} entered a key ending `{conversation.key_fingerprint}`; checking it with Dentally.",
                False,
            )
        clinic = await self._service.clinic(conversation.platform, conversation.channel)
        if clinic is not None and clinic.last_check is not None:
            result = CheckResult.model_validate(clinic.last_check)
            summary = support_summary(result, conversation.key_fingerprint or "????")
            return f":mag: Key check for {user}: {summary}", result.verdict is not Verdict.VERIFIED
        return f":mag: Key check for {user}: {note or conversation.last_verdict}", False

    async def _support_thread(self, conversation: Conversation) -> str:
        """The ts of the clinic's parent message, posted once; a lost race deletes its duplicate."""
        assert self._channel is not None
        clinic = await self._service.clinic(conversation.platform, conversation.channel)
        if clinic and clinic.support_ref:
            return clinic.support_ref
        channel_name = await self._channel_name(conversation.channel)
        name = clinic.display_name if clinic and clinic.name else f"#{channel_name or conversation.channel}"
        text = f":tooth: *{name}* — <#{conversation.channel}> · Dentally setup"
        ts = await slack_calls.post(self._client, self._channel, text)

        def claim(record: Clinic) -> Clinic:
            if record.support_ref:
                return record
            return record.model_copy(update={"support_ref": ts, "channel_name": record.channel_name or channel_name})

        after, _ = await self._service.update_clinic(conversation.platform, conversation.channel, claim)
        if after.support_ref != ts:
            await self._client.chat_delete(channel=self._channel, ts=ts)
        return str(after.support_ref)

    async def _channel_name(self, channel: str) -> str | None:
        try:
            response = await self._client.conversations_info(channel=channel)
        except SlackApiError as exc:
            logger.warning("conversations.info failed: %s", slack_calls.slack_error(exc))
            return None
        name = (response.get("channel") or {}).get("name")
        return str(name) if name else None
