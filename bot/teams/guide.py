"""The guide's moves on Teams (start, Done, Back, I'm stuck, resume) under Slack's ownership and stale-click rules."""

from __future__ import annotations

import logging

from bot.teams import cards
from bot.teams.activities import Actor, CardClick, Place
from bot.teams.directory import TeamsDirectory
from bot.teams.messenger import TeamsMessenger
from bot.teams.presenter import TeamsPresenter, Trigger
from conversations.addresses import ConversationKey
from conversations.events import Back, Done, PostStep, Resume, Start, Stuck
from conversations.guide import Guide
from conversations.service import OnboardingService, Outcome
from conversations.store import StoreUnavailable

logger = logging.getLogger(__name__)

PLATFORM = "teams"
# A second click on a step finished this recently is a double click: it changes nothing and says nothing.
DOUBLE_CLICK_SECONDS = 10.0
UNAVAILABLE = "⏳ Aldense Guide is temporarily unavailable — please try again in a minute. Nothing was lost."


class GuideFlow:
    """Turns a Teams user's clicks and words into guide events, and shows the outcome."""

    def __init__(
        self, service: OnboardingService, presenter: TeamsPresenter, messenger: TeamsMessenger, team: str
    ) -> None:
        self._service = service
        self._presenter = presenter
        self._messenger = messenger
        self._team = team

    @property
    def guide(self) -> Guide:
        """The guide being run."""
        return self._service.guide

    @property
    def directory(self) -> TeamsDirectory:
        """Where Teams conversations and people are remembered."""
        return self._messenger.directory

    def key(self, place: Place, user: str) -> ConversationKey:
        """The conversation key of ``user``'s guide in ``place``: Aldense's tenant is the installing team."""
        return ConversationKey(PLATFORM, self._team, place.channel, user)

    async def _handle(self, place: Place, actor: Actor, event: Start | Done | Back | Stuck | Resume) -> Outcome | None:
        try:
            return await self._service.handle(self.key(place, actor.id), event)
        except StoreUnavailable:
            await self._messenger.notify(place.channel, actor.id, UNAVAILABLE)
            return None

    async def start(self, place: Place, actor: Actor, at_step: str | None = None) -> None:
        """Start (or show again) ``actor``'s own guide."""
        outcome = await self._handle(place, actor, Start(at=self._service.clock(), at_step=at_step))
        if outcome is None:
            return
        if outcome.refused is not None:
            await self._messenger.notify(
                place.channel, actor.id, f"Sorry, that can't be done: {outcome.refused.reason}."
            )
            return
        if any(isinstance(effect, PostStep) and effect.again for effect in outcome.effects):
            await self._messenger.notify(
                place.channel,
                actor.id,
                "You already have a Dentally guide going — I've put your current step at the bottom of it.",
            )
        await self._presenter.carry_out(outcome)

    async def owns(self, place: Place, actor: Actor, click: CardClick) -> bool:
        """Whether ``actor`` owns the guide behind ``click``; tells them (only) when they do not."""
        if click.owner is None or click.owner == actor.id:
            return click.owner is not None
        name = await self.directory.name(click.owner)
        await self._messenger.notify(place.channel, actor.id, cards.not_your_guide(name))
        return False

    async def step(self, place: Place, actor: Actor, click: CardClick) -> None:
        """Done, Back or I'm stuck on a step card."""
        if click.step is None or not await self.owns(place, actor, click):
            return
        at = self._service.clock()
        event: Done | Back | Stuck
        if click.action == cards.ACTION_DONE:
            event = Done(click.step, at)
        elif click.action == cards.ACTION_BACK:
            event = Back(click.step, at)
        else:
            event = Stuck(click.step, at)
        outcome = await self._handle(place, actor, event)
        if outcome is None:
            return
        if outcome.refused is not None:
            await self._explain_refusal(place, actor, click.step, outcome)
            return
        await self._presenter.carry_out(outcome, Trigger(clicked_id=click.message_id))

    async def _explain_refusal(self, place: Place, actor: Actor, step_id: str, outcome: Outcome) -> None:
        state, refused = outcome.state, outcome.refused
        assert refused is not None
        if refused.stale and state is not None:
            times = state.steps.get(step_id)
            if times and times.done is not None and self._service.clock() - times.done < DOUBLE_CLICK_SECONDS:
                return
            text = cards.stale_click(self.guide, state.step_index, refused.reason)
        else:
            text = f"Sorry, that can't be done right now: {refused.reason}."
        await self._messenger.notify(place.channel, actor.id, text)

    async def resume(self, place: Place, actor: Actor, click: CardClick | None) -> None:
        """Show the current step again (a reminder's button, or the word ``resume``)."""
        if click is not None and click.owner is not None and not await self.owns(place, actor, click):
            return
        outcome = await self._handle(place, actor, Resume(at=self._service.clock()))
        if outcome is None:
            return
        if outcome.refused is not None:
            await self._messenger.notify(
                place.channel, actor.id, "You have no guide in progress here — mention me with **start** to begin."
            )
            return
        await self._presenter.carry_out(outcome)

    async def help(self, place: Place, actor: Actor) -> None:
        """What the bot does and which words it knows."""
        await self._messenger.notify(place.channel, actor.id, cards.help_text(self.guide))
