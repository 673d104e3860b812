"""Thin Teams handlers: remember where the activity came from, answer at once, hand the rest to a background task.

Card buttons arrive as message activities whose ``value`` is the button's data; typed words (``start``, ``resume``,
``help``, and for Aldense staff ``status`` and ``onboard``) as plain messages; the key dialog as ``task/fetch`` and
``task/submit`` invokes, which must be answered in the HTTP response.
"""

from __future__ import annotations

import logging
from typing import Any

from microsoft_teams.api.activities.conversation import ConversationUpdateActivity
from microsoft_teams.api.activities.invoke.task import TaskFetchInvokeActivity, TaskSubmitInvokeActivity
from microsoft_teams.api.activities.message import MessageActivity
from microsoft_teams.api.models import TaskModuleResponse
from microsoft_teams.apps import ActivityContext, App

from bot.tasks import BackgroundTasks
from bot.teams import activities, cards
from bot.teams.activities import Actor, CardClick, Place
from bot.teams.desk import TeamsDesk
from bot.teams.dialog import KeyDialog, dialog
from bot.teams.guide import GuideFlow

logger = logging.getLogger(__name__)


def _dialog_data(activity: TaskFetchInvokeActivity | TaskSubmitInvokeActivity) -> dict[str, Any]:
    data = activity.value.data if activity.value else None
    return data if isinstance(data, dict) else {}


class TeamsHandlers:
    """Registers the bot's handlers on the SDK's ``App``."""

    def __init__(
        self, flow: GuideFlow, keys: KeyDialog, desk: TeamsDesk, tasks: BackgroundTasks, kickoff_on_join: bool
    ) -> None:
        self._flow = flow
        self._keys = keys
        self._desk = desk
        self._tasks = tasks
        self._kickoff_on_join = kickoff_on_join

    def register(self, app: App) -> None:
        """Attach every handler to ``app``."""

        @app.on_message
        async def message(ctx: ActivityContext[MessageActivity]) -> None:
            await self.message(ctx.activity)

        @app.on_conversation_update
        async def conversation_update(ctx: ActivityContext[ConversationUpdateActivity]) -> None:
            await self.conversation_update(ctx.activity)

        @app.on_dialog_open
        async def dialog_open(ctx: ActivityContext[TaskFetchInvokeActivity]) -> TaskModuleResponse:
            return await self.dialog_open(ctx.activity)

        @app.on_dialog_submit
        async def dialog_submit(ctx: ActivityContext[TaskSubmitInvokeActivity]) -> TaskModuleResponse:
            return await self.dialog_submit(ctx.activity)

    async def _arrived(self, activity: Any) -> tuple[Place, Actor]:
        place, actor = activities.place(activity), activities.actor(activity)
        await self._flow.directory.learn(place, actor, activities.time_zone(activity))
        return place, actor

    async def message(self, activity: MessageActivity) -> None:
        """A card button or typed words: answered at once, handled in the background."""
        place, actor = await self._arrived(activity)
        click = activities.card_click(activity)
        if click is not None:
            self._tasks.spawn(self._click(place, actor, click), name=f"teams_{click.action}")
        else:
            self._tasks.spawn(self._words(place, actor, activities.words(activity)), name="teams_words")

    async def _click(self, place: Place, actor: Actor, click: CardClick) -> None:
        flow = self._flow
        if click.action == cards.ACTION_START:
            await flow.start(place, actor)
        elif click.action == cards.ACTION_NEW_KEY:
            await flow.start(place, actor, at_step=flow.guide.new_key_step)
        elif click.action in cards.STEP_ACTIONS:
            await flow.step(place, actor, click)
        elif click.action == cards.ACTION_RESUME:
            await flow.resume(place, actor, click)
        elif click.action == cards.ACTION_CHECK_AGAIN:
            if await flow.owns(place, actor, click):
                await self._keys.check_again(place, actor, click)
        else:
            logger.warning("ignored unknown Teams card action %r", click.action[:80])

    async def _words(self, place: Place, actor: Actor, words: list[str]) -> None:
        if "start" in words:
            await self._flow.start(place, actor)
        elif "resume" in words:
            await self._flow.resume(place, actor, None)
        elif "status" in words:
            await self._desk.status(place, actor, words[words.index("status") + 1 :])
        elif "onboard" in words:
            await self._desk.onboard(place, actor)
        else:
            await self._flow.help(place, actor)

    async def conversation_update(self, activity: ConversationUpdateActivity) -> None:
        """Remember the conversation; welcome a member of another tenant who joins a shared channel."""
        place = activities.place(activity)
        await self._flow.directory.learn(place)
        if not self._kickoff_on_join or not place.shared:
            return
        for member in activity.members_added or []:
            if member.id == activity.recipient.id:
                continue
            self._tasks.spawn(self._desk.welcome(place, member.id, member.name), name="teams_member_joined")

    async def dialog_open(self, activity: TaskFetchInvokeActivity) -> TaskModuleResponse:
        """``task/fetch``: the key form (or why not)."""
        place, actor = await self._arrived(activity)
        data = _dialog_data(activity)
        if data.get("dialog_id") != cards.DIALOG_KEY:
            return dialog(cards.message_dialog("This button no longer opens anything. Please use the latest card."))
        return await self._keys.open(place, actor, data)

    async def dialog_submit(self, activity: TaskSubmitInvokeActivity) -> TaskModuleResponse:
        """``task/submit``: check the key and answer in the dialog."""
        place, actor = await self._arrived(activity)
        data = _dialog_data(activity)
        if data.get("action") != cards.SUBMIT_KEY:
            return dialog(cards.message_dialog("This form has expired. Close it and try again."))
        return await self._keys.submit(place, actor, data)
