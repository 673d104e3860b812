"""Renders the core's neutral messages as Slack messages: fallback text and Block Kit blocks."""

from __future__ import annotations

from collections.abc import Callable

from bot.core import copy
from bot.core import messages as m
from bot.slack import blocks, results
from bot.slack.blocks import Blocks
from conversations.guide import Guide, Step

PictureUrl = Callable[[Step], str | None]
LABEL = "Slack"


def render(message: m.Outgoing, guide: Guide, picture_url: PictureUrl) -> tuple[str, Blocks | None]:
    """``message`` as Slack's ``text`` (the notification fallback) and ``blocks`` (None for plain text)."""
    match message:
        case m.Kickoff():
            return blocks.kickoff(guide, welcome_user=message.welcome_user)
        case m.ThreadOpener():
            return blocks.thread_opener(message.user, guide, message.connected), None
        case m.StepMessage():
            url = picture_url(guide.steps[message.index]) if message.picture else None
            return blocks.step_message(guide, message.index, message.user, url, again=message.again)
        case m.ClosedStep():
            return blocks.closed_step(guide, message.index, message.how)
        case m.HelpComing():
            return copy.help_coming(guide, message.index, message.promise), None
        case m.TroubleOffer():
            return blocks.trouble_offer(guide, message.index, message.owner)
        case m.TroubleAnswer():
            return blocks.trouble_answer(guide, message.index, message.trouble_id, message.owner, message.moved_to)
        case m.Reminder():
            return blocks.reminder(guide, message.index, message.user, message.count)
        case m.ResetNotice():
            return blocks.reset_notice(guide, message.disconnected, message.connection)
        case m.KeyCheckLost():
            return blocks.key_check_lost(guide, message.user)
        case m.KeyResult():
            return results.result_message(message.result, message.user, guide.steps[-1].id, message.standing)
        case m.AlreadyConnected():
            return blocks.already_connected(guide, message)
        case m.AlreadyDone():
            return blocks.already_done(message), None
        case m.ClosedReminder():
            return copy.CLOSED_REMINDER, [
                {"type": "context", "elements": [{"type": "mrkdwn", "text": copy.CLOSED_REMINDER}]}
            ]
        case m.ClosedResult():
            return blocks.closed_result(message)
        case m.ReplacementDecided():
            return blocks.replacement_decided(message)
        case m.NewKeyNeeded():
            return blocks.new_key_needed(guide, message.fingerprint)
        case m.KeyExposed():
            return blocks.key_exposed(guide, message.fingerprint, message.stored)
        case m.QuestionForwarded():
            return copy.QUESTION_FORWARDED, None
        case m.GuideHandedOver():
            return blocks.guide_handed_over(guide, message.giver, message.receiver, message.index, message.taken), None
        case m.NotYourGuide():
            return blocks.not_your_guide(message.owner, guide)
        case m.StaleClick():
            return copy.stale_click(guide, message.current_index, message.reason), None
        case m.Refused():
            return copy.refused(message.reason), None
        case m.AlreadyGoing():
            return copy.ALREADY_GOING, None
        case m.NothingToResume():
            return copy.NOTHING_TO_RESUME, None
        case m.TemporarilyUnavailable():
            return copy.TEMPORARILY_UNAVAILABLE, None
        case m.GaveUp():
            return copy.GAVE_UP, None
        case m.NotAccepted():
            return copy.not_accepted(LABEL, message.detail), None
        case m.HelpText():
            return copy.help_text(guide), None
        case m.Forgotten():
            return copy.FORGOTTEN, None


def has_picture(message: m.Outgoing) -> bool:
    """Whether ``message`` may carry a picture Slack has to fetch."""
    return isinstance(message, m.StepMessage) and message.picture


def without_picture(message: m.Outgoing) -> m.Outgoing:
    """``message`` with a picture's description in place of the picture."""
    return message.without_picture() if isinstance(message, m.StepMessage) else message
