"""Thin Teams handlers: remember where the activity came from, answer at once, hand the rest to a background task.

Card buttons arrive as message activities whose ``value`` is the button's data; typed words (``start``, ``resume``,
``help``, and for Aldense staff ``status``, ``onboard`` and ``forget``) as plain messages; the key dialog as
``task/fetch`` and ``task/submit`` invokes, which must be answered in the HTTP response.
"""

from __future__ import annotations

import logging
from typing import Any

from microsoft_teams.api.activities.conversation import ConversationUpdateActivity
from microsoft_teams.api.activities.invoke.task import TaskFetchInvokeActivity, TaskSubmitInvokeActivity
from microsoft_teams.api.activities.message import MessageActivity
from microsoft_teams.api.models import TaskModuleResponse
from microsoft_teams.apps import ActivityContext, App

from bot.core import copy
from bot.core.kit import Core
from bot.core.listening import Heard
from bot.core.messages import HelpText
from bot.core.moves import StepButton
from bot.teams import activities, cards
from bot.teams.activities import Actor, CardClick, Place
from bot.teams.desk import TeamsDesk
from bot.teams.dialog import TeamsKeyDialog, dialog
from bot.teams.directory import TeamsDirectory
from bot.teams.platform import PLATFORM, TeamsPlatform
from conversations.addresses import ConversationKey

logger = logging.getLogger(__name__)


def _dialog_data(activity: TaskFetchInvokeActivity | TaskSubmitInvokeActivity) -> dict[str, Any]:
    data = activity.value.data if activity.value else None
    return data if isinstance(data, dict) else {}


_STEP_BUTTONS = {
    cards.ACTION_DONE: StepButton.DONE,
    cards.ACTION_BACK: StepButton.BACK,
    cards.ACTION_STUCK: StepButton.STUCK,
    cards.ACTION_ASK_ALDENSE: StepButton.ASK_ALDENSE,
}


class TeamsHandlers:
    """Registers the bot's handlers on the SDK's ``App``; guide moves go to the shared core."""

    def __init__(
        self,
        core: Core,
        platform: TeamsPlatform,
        keys: TeamsKeyDialog,
        desk: TeamsDesk,
        team: str,
        kickoff_on_join: bool,
    ) -> None:
        self._core = core
        self._platform = platform
        self._keys = keys
        self._desk = desk
        self._team = team
        self._kickoff_on_join = kickoff_on_join

    @property
    def directory(self) -> TeamsDirectory:
        """Where Teams conversations and people are remembered."""
        return self._platform.messenger.directory

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

    def _key(self, place: Place, actor: Actor) -> ConversationKey:
        """The conversation key of ``actor``'s guide in ``place``: Aldense's tenant is the installing team."""
        return ConversationKey(PLATFORM, self._team, place.channel, actor.id)

    async def _arrived(self, activity: Any) -> tuple[Place, Actor]:
        actor = activities.actor(activity)
        place = await self.directory.learn(activities.place(activity), actor, activities.time_zone(activity))
        return place, actor

    async def message(self, activity: MessageActivity) -> None:
        """A card button or typed words, handled once per activity id (the Bot Framework redelivers).

        A guide move is saved before Teams gets its answer, as on Slack; the rest runs in the background.
        """
        place, actor = await self._arrived(activity)
        click = activities.card_click(activity)

        async def work() -> None:
            if click is not None:
                await self._click(place, actor, click)
                return
            to_bot = place.kind == "personal" or activities.mentions_bot(activity)
            if place.kind != "personal":
                self._core.tasks.spawn(self._heard(place, actor, activity, to_bot), name="teams_heard")
            if to_bot:
                words = activities.words(activity)
                self._core.tasks.spawn(self._words(place, actor, words), name="teams_words")

        await self._core.deliveries.once(PLATFORM, activity.id, work)

    async def _heard(self, place: Place, actor: Actor, activity: MessageActivity, to_bot: bool) -> None:
        """A message typed in a channel or group chat (with the RSC permission the bot hears them all)."""
        heard = Heard(
            platform=PLATFORM,
            team=self._team,
            channel=place.channel,
            user=actor.id,
            text=activity.text or "",
            ref=activity.id,
            thread=activities.thread_root(activity),
            # Teams rarely says the sender's tenant on a message: the desk asks the connector (cached).
            from_staff=await self._desk.is_staff(place, actor),
            to_bot=to_bot,
        )
        await self._core.listener.heard(heard)

    async def _click(self, place: Place, actor: Actor, click: CardClick) -> None:
        moves, key = self._core.moves, self._key(place, actor)
        if click.action == cards.ACTION_START:
            await moves.start(key)
        elif click.action == cards.ACTION_NEW_KEY:
            await moves.start(key, at_step=self._core.guide.new_key_step)
        elif click.action == cards.ACTION_REPLACE_KEY:
            await moves.start(key, at_step=self._core.guide.steps[-1].id, replacing=True)
        elif click.action in _STEP_BUTTONS:
            if click.step is not None and click.owner is not None:
                await moves.step(key, click.owner, click.step, _STEP_BUTTONS[click.action], click.message_id)
        elif click.action == cards.ACTION_TROUBLE:
            trouble = click.data.get("trouble")
            if click.step is not None and click.owner is not None and isinstance(trouble, str) and trouble:
                await moves.trouble(key, click.owner, click.step, trouble)
        elif click.action == cards.ACTION_RESUME:
            await moves.resume(key, click.owner)
        elif click.action == cards.ACTION_TAKE_OVER:
            if click.owner is not None:
                await self._core.handovers.take_over(key, click.owner)
        elif click.action == cards.ACTION_CHECK_AGAIN:
            if click.owner is not None and moves.owns(key, click.owner):
                self._core.tasks.spawn(self._keys.check_again(place, actor), name="teams_check_again")
        else:
            logger.warning("ignored unknown Teams card action %r", click.action[:80])

    async def _words(self, place: Place, actor: Actor, words: list[str]) -> None:
        moves, key = self._core.moves, self._key(place, actor)
        if words[:1] == ["forget"]:
            await self._desk.forget(place, actor, words[1:])
        elif "start" in words:
            await moves.start(key)
        elif "resume" in words:
            await moves.resume(key)
        elif "status" in words:
            await self._desk.status(place, actor, words[words.index("status") + 1 :])
        elif "onboard" in words:
            await self._desk.onboard(place, actor)
        else:
            await self._platform.tell(place.channel, actor.id, HelpText())

    async def conversation_update(self, activity: ConversationUpdateActivity) -> None:
        """Remember the conversation; welcome a member of another tenant who joins one of its channels.

        Which event Teams sends for a shared channel varies (``channelMemberAdded``, sometimes twice, for direct and
        transitive members; ``teamMemberAdded`` elsewhere), so any member added to a channel is considered, and the
        desk welcomes each member of a channel once. Only someone of another tenant is welcomed: in Aldense's own
        channels that is no one, since guests of Aldense's tenant belong to it.
        """
        place = await self.directory.learn(activities.place(activity))
        if not self._kickoff_on_join or place.kind != "channel":
            return
        said = activities.membership_tenant(activity)
        for member in activity.members_added or []:
            if member.id == activity.recipient.id:
                continue
            tenant = activities.member_tenant(member) or said
            self._core.tasks.spawn(
                self._desk.welcome(place, member.id, member.name, tenant), name="teams_member_joined"
            )

    async def dialog_open(self, activity: TaskFetchInvokeActivity) -> TaskModuleResponse:
        """``task/fetch``: the key form (or why not)."""
        place, actor = await self._arrived(activity)
        data = _dialog_data(activity)
        if data.get("dialog_id") == cards.DIALOG_HAND_OVER:
            return await self._hand_over_form(place, actor, data)
        if data.get("dialog_id") != cards.DIALOG_KEY:
            return dialog(cards.message_dialog(copy.BUTTON_OUTDATED))
        return await self._keys.open(place, actor, data)

    async def dialog_submit(self, activity: TaskSubmitInvokeActivity) -> TaskModuleResponse:
        """``task/submit``: check the key and answer in the dialog."""
        place, actor = await self._arrived(activity)
        data = _dialog_data(activity)
        if data.get("action") == cards.SUBMIT_HAND_OVER:
            return await self._hand_over(place, actor, data)
        if data.get("action") != cards.SUBMIT_KEY:
            return dialog(cards.message_dialog(copy.FORM_EXPIRED))
        return await self._keys.submit(place, actor, data)

    async def _colleagues(self, place: Place, actor: Actor) -> list[Actor]:
        """The channel's members other than ``actor`` and the bot."""
        members = await self._platform.messenger.members(place.channel)
        return [m for m in members if m.id != actor.id and not m.account_id.startswith("28:")]

    async def _hand_over_form(self, place: Place, actor: Actor, data: dict[str, Any]) -> TaskModuleResponse:
        """``task/fetch`` of "Someone else has the Dentally login": pick a colleague from the channel's members."""
        owner = data.get("owner")
        if owner != actor.id:
            name = await self.directory.name(str(owner)) if isinstance(owner, str) else "someone else"
            return dialog(cards.message_dialog(f"This guide belongs to {name}, so only they can hand it over."))
        people = await self._colleagues(place, actor)
        if not people:
            return dialog(cards.message_dialog("I couldn't list this channel's members just now — please try again."))
        return dialog(cards.hand_over_form(actor.id, [(p.id, p.name) for p in people]), title="Hand over the guide")

    async def _hand_over(self, place: Place, actor: Actor, data: dict[str, Any]) -> TaskModuleResponse:
        """``task/submit`` of the hand-over form: the picked colleague carries on from the same step."""
        if data.get("owner") != actor.id:
            return dialog(cards.message_dialog("This form has expired. Close it and click the button again."))
        people = {p.id: p for p in await self._colleagues(place, actor)}
        picked = people.get(str(data.get(cards.INPUT_COLLEAGUE) or ""))
        if picked is None:
            choices = [(p.id, p.name) for p in people.values()]
            return dialog(cards.hand_over_form(actor.id, choices, error="Pick a colleague from this channel."))
        # Learnt now, so the thread and support can name them before they ever write to the bot.
        await self.directory.learn(place, picked)
        key = self._key(place, actor)
        self._core.tasks.spawn(self._core.handovers.hand_over(key, picked.id), name="teams_hand_over")
        return dialog(cards.message_dialog(f"Handed over to {picked.name} — they're asked to carry on in the thread."))
