"""Renders the core's neutral messages for Teams: an Adaptive Card or markdown text."""

from __future__ import annotations

from collections.abc import Callable

from microsoft_teams.cards import AdaptiveCard

from bot.core import copy
from bot.core import messages as m
from bot.teams import cards
from conversations.guide import Guide, Step

PictureUrl = Callable[[Step], str | None]
Names = Callable[[str], str]

NOT_ACCEPTED = (
    "Sorry — Teams didn't accept my last message. Mention me with **resume** to see your current step again; "
    "nothing you did was lost."
)
ALREADY_GOING = "You already have a Dentally guide going — I've put your current step at the bottom of it."
NOTHING_TO_RESUME = "You have no guide in progress here — mention me with **start** to begin."
UNAVAILABLE = "⏳ Aldense Guide is temporarily unavailable — please try again in a minute. Nothing was lost."
GAVE_UP = "⚠️ Aldense Guide is still unavailable, so that click didn't go through. Please try it again later."


def render(message: m.Outgoing, guide: Guide, picture_url: PictureUrl, name: Names) -> AdaptiveCard | str:
    """``message`` as a card or markdown; ``name`` gives a person's display name (Teams cannot mention by id)."""
    match message:
        case m.Kickoff():
            return cards.kickoff(guide, welcome=message.welcome_name)
        case m.ThreadOpener():
            return cards.thread_opener(name(message.user), guide)
        case m.StepMessage():
            url = picture_url(guide.steps[message.index]) if message.picture else None
            return cards.step_card(guide, message.index, message.user, url, again=message.again)
        case m.ClosedStep():
            return cards.closed_step(guide, message.index, message.how)
        case m.HelpComing():
            return cards.help_coming(guide, message.index)
        case m.Reminder():
            return cards.reminder(guide, message.index, message.user, name(message.user))
        case m.ResetNotice():
            return cards.reset_notice()
        case m.KeyCheckLost():
            return cards.key_check_lost(message.user, guide.steps[-1].id)
        case m.KeyResult():
            return cards.result_card(message.result, message.user, guide.steps[-1].id)
        case m.NewKeyNeeded():
            return cards.new_key_needed(message.fingerprint)
        case m.KeyExposed():
            return cards.key_exposed(message.fingerprint, message.stored)
        case m.QuestionForwarded():
            return cards.markdown(copy.QUESTION_FORWARDED)
        case m.NotYourGuide():
            return cards.not_your_guide(message.owner, name(message.owner))
        case m.GuideHandedOver():
            return cards.guide_handed_over(
                guide, name(message.giver), name(message.receiver), message.index, message.taken
            )
        case m.StaleClick():
            return cards.stale_click(guide, message.current_index, message.reason)
        case m.Refused():
            return f"Sorry, that can't be done right now: {message.reason}."
        case m.AlreadyGoing():
            return ALREADY_GOING
        case m.NothingToResume():
            return NOTHING_TO_RESUME
        case m.TemporarilyUnavailable():
            return UNAVAILABLE
        case m.GaveUp():
            return GAVE_UP
        case m.NotAccepted():
            return NOT_ACCEPTED
        case m.HelpText():
            return cards.help_text(guide)


def people_in(message: m.Outgoing) -> tuple[str, ...]:
    """The user ids whose display names rendering ``message`` needs."""
    match message:
        case m.ThreadOpener() | m.Reminder():
            return (message.user,)
        case m.NotYourGuide():
            return (message.owner,)
        case m.GuideHandedOver():
            return (message.giver, message.receiver)
    return ()
