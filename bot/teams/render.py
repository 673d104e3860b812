"""Renders the core's neutral messages for Teams: an Adaptive Card or markdown text."""

from __future__ import annotations

from collections.abc import Callable

from bot.core import copy
from bot.core import messages as m
from bot.teams import cards
from bot.teams.messenger import Message
from conversations.guide import Guide, Step

PictureUrl = Callable[[Step], str | None]
Names = Callable[[str], str]
Accounts = Callable[[str], str | None]

LABEL = "Microsoft Teams"


def render(
    message: m.Outgoing, guide: Guide, picture_url: PictureUrl, name: Names, account: Accounts = lambda _: None
) -> Message:
    """``message`` as a card or markdown; ``name`` gives a person's display name, ``account`` their Teams account id.

    Only a hand-over @-mentions people (each is invited or told); elsewhere a name is shown, never mentioned.
    """
    match message:
        case m.Kickoff():
            return cards.kickoff(guide, welcome=message.welcome_name)
        case m.ThreadOpener():
            return cards.thread_opener(name(message.user), guide, message.connected)
        case m.StepMessage():
            url = picture_url(guide.steps[message.index]) if message.picture else None
            return cards.step_card(guide, message.index, message.user, url, again=message.again)
        case m.ClosedStep():
            return cards.closed_step(guide, message.index, message.how)
        case m.HelpComing():
            return cards.markdown(copy.help_coming(guide, message.index, message.promise))
        case m.TroubleOffer():
            return cards.trouble_offer(guide, message.index, message.owner)
        case m.TroubleAnswer():
            return cards.trouble_answer(guide, message.index, message.trouble_id, message.owner, message.moved_to)
        case m.Reminder():
            return cards.reminder(guide, message.index, message.user, name(message.user))
        case m.ResetNotice():
            by = cards.escape(name(message.connection.connected_by)) if message.connection else None
            return cards.reset_notice(message.disconnected, by, message.connection)
        case m.KeyCheckLost():
            return cards.key_check_lost(message.user, guide.steps[-1].id)
        case m.KeyResult():
            return cards.result_card(message.result, message.user, guide.steps[-1].id, message.standing)
        case m.AlreadyConnected():
            return cards.already_connected(cards.escape(name(message.connection.connected_by)), message.connection)
        case m.AlreadyDone():
            by = cards.escape(name(message.connection.connected_by)) if message.connection else None
            return cards.markdown(copy.already_done(by, message.connection))
        case m.ClosedReminder():
            return cards.card(cards.text(copy.CLOSED_REMINDER, is_subtle=True))
        case m.ClosedResult():
            return cards.card(cards.text(copy.closed_result(message.fingerprint), is_subtle=True))
        case m.ReplacementDecided():
            return cards.card(
                cards.text(copy.replacement_decided(message.accepted, message.fingerprint, message.connection))
            )
        case m.NewKeyNeeded():
            return cards.new_key_needed(message.fingerprint)
        case m.KeyExposed():
            return cards.key_exposed(message.fingerprint, message.stored)
        case m.QuestionForwarded():
            return cards.markdown(copy.QUESTION_FORWARDED)
        case m.NotYourGuide():
            return cards.not_your_guide(message.owner, name(message.owner))
        case m.GuideHandedOver():
            giver = (name(message.giver), account(message.giver))
            receiver = (name(message.receiver), account(message.receiver))
            return cards.guide_handed_over(guide, giver, receiver, message.index, message.taken)
        case m.StaleClick():
            return cards.markdown(copy.stale_click(guide, message.current_index, message.reason))
        case m.Refused():
            return cards.markdown(copy.refused(message.reason))
        case m.AlreadyGoing():
            return cards.markdown(copy.ALREADY_GOING)
        case m.NothingToResume():
            return cards.markdown(copy.NOTHING_TO_RESUME)
        case m.TemporarilyUnavailable():
            return cards.markdown(copy.TEMPORARILY_UNAVAILABLE)
        case m.GaveUp():
            return cards.markdown(copy.GAVE_UP)
        case m.NotAccepted():
            return cards.markdown(copy.not_accepted(LABEL, message.detail))
        case m.HelpText():
            return cards.markdown(copy.help_text(guide))
        case m.Forgotten():
            return cards.markdown(copy.FORGOTTEN)


def people_in(message: m.Outgoing) -> tuple[str, ...]:
    """The user ids whose display names rendering ``message`` needs."""
    match message:
        case m.ThreadOpener() | m.Reminder():
            return (message.user,)
        case m.NotYourGuide():
            return (message.owner,)
        case m.AlreadyConnected():
            return (message.connection.connected_by,)
        case m.AlreadyDone() | m.ResetNotice() if message.connection is not None:
            return (message.connection.connected_by,)
        case m.GuideHandedOver():
            return (message.giver, message.receiver)
    return ()
