"""Pure Block Kit renderers for the guide's messages; ``action_id``s live here beside the buttons that use them."""

from __future__ import annotations

from typing import Any

from bot.core import copy
from bot.core.copy import progress
from conversations.events import StepOutcome
from conversations.guide import Guide, Step, StepAction

ACTION_START = "guide_start"
ACTION_DONE = "step_done"
ACTION_BACK = "step_back"
ACTION_STUCK = "step_stuck"
ACTION_ENTER_KEY = "key_enter"
ACTION_RESUME = "guide_resume"
ACTION_NEW_KEY = "guide_new_key"
ACTION_HAND_OVER = "guide_hand_over"
ACTION_TAKE_OVER = "guide_take_over"

Blocks = list[dict[str, Any]]


def _text(markdown: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": markdown}


def _section(markdown: str, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": _text(markdown)}
    if block_id:
        block["block_id"] = block_id
    return block


def button(label: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def _context(markdown: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_text(markdown)]}


def step_value(owner: str, step_id: str) -> str:
    """The value carried by a step's buttons: whose guide it is and which step."""
    return f"{owner}|{step_id}"


def parse_step_value(value: str) -> tuple[str, str] | None:
    """Read ``step_value``; None when the value is not one."""
    owner, separator, step_id = value.partition("|")
    return (owner, step_id) if separator and owner and step_id else None


def kickoff(guide: Guide, welcome_user: str | None = None) -> tuple[str, Blocks]:
    """The kick-off message posted in a clinic's channel: what will happen, how long, and a Start button."""
    greeting = f"Welcome <@{welcome_user}>! " if welcome_user else ""
    text = f"{greeting}Let's connect Dentally to Aldense — about {guide.estimated_minutes} minutes."
    blocks: Blocks = [
        _section(f"{greeting}*{guide.title}* :tooth:\n{guide.summary}", block_id="kickoff:intro"),
        _section(
            f"*How it works:* {guide.step_count} short steps, one message each with a picture. At the end you "
            "paste the key into a private form and we check it with Dentally straight away.\n"
            f"*Time:* about {guide.estimated_minutes} minutes.   *You'll need:* a Dentally administrator login.",
            block_id="kickoff:how",
        ),
        {
            "type": "actions",
            "block_id": "kickoff:actions",
            "elements": [button("Start Dentally setup", ACTION_START, guide.id, style="primary")],
        },
        _context("Each person gets their own guide in a thread, so several of you can follow along."),
    ]
    return text, blocks


def thread_opener(user: str, guide: Guide) -> str:
    """The short top-level message under which a user's steps are posted."""
    return f"<@{user}> is connecting Dentally — steps below :point_down: ({guide.step_count} steps)"


def step_message(
    guide: Guide, index: int, owner: str, image_url: str | None, again: bool = False
) -> tuple[str, Blocks]:
    """A step: progress, title, text, the picture (or its description when pictures are off) and the buttons."""
    step = guide.steps[index]
    total = guide.step_count
    value = step_value(owner, step.id)
    fallback = f"Step {index + 1} of {total}: {step.title}"
    lead = "Here's where you are: " if again else ""
    blocks: Blocks = [
        _context(f"{lead}{progress(index, total)}"),
        _section(f"*{step.title}*\n{step.text}", block_id=f"step:{step.id}:text"),
    ]
    if image_url:
        blocks.append(
            {
                "type": "image",
                "block_id": f"step:{step.id}:picture",
                "image_url": image_url,
                "alt_text": step.alt,
                "title": {"type": "plain_text", "text": step.title, "emoji": True},
            }
        )
    else:
        blocks.append(_context(f":frame_with_picture: _What you'll see:_ {step.alt}"))
    blocks.append(
        {"type": "actions", "block_id": f"step:{step.id}:actions", "elements": _step_buttons(step, index, value)}
    )
    return fallback, blocks


def _step_buttons(step: Step, index: int, value: str) -> list[dict[str, Any]]:
    if step.action is StepAction.ENTER_KEY:
        buttons = [button("Enter the key privately", ACTION_ENTER_KEY, value, style="primary")]
    else:
        buttons = [button("Done, next step", ACTION_DONE, value, style="primary")]
    if index > 0:
        buttons.append(button("Back", ACTION_BACK, value))
    buttons.append(button("I'm stuck", ACTION_STUCK, value))
    buttons.append(button(copy.HAND_OVER_BUTTON, ACTION_HAND_OVER, value))
    return buttons


_CLOSED_MARK = {
    StepOutcome.DONE: (":white_check_mark:", ""),
    StepOutcome.WENT_BACK: (":leftwards_arrow_with_hook:", " — went back a step"),
    StepOutcome.SUPERSEDED: (":arrow_heading_down:", " — shown again below"),
}


def closed_step(guide: Guide, index: int, outcome: StepOutcome) -> tuple[str, Blocks]:
    """The compact, button-less form of a step message, e.g. ``✅ 2/9 Open Settings``."""
    step = guide.steps[index]
    mark, note = _CLOSED_MARK[outcome]
    line = f"{mark} {index + 1}/{guide.step_count} {step.title}{note}"
    return line, [_section(line, block_id=f"step:{step.id}:closed:{outcome.value}")]


def reminder(guide: Guide, index: int, owner: str, count: int) -> tuple[str, Blocks]:
    """A friendly nudge for a quiet guide, with a button that shows the current step again."""
    step = guide.steps[index]
    text = (
        f"Hi <@{owner}> :wave: whenever you have a moment, your Dentally setup is waiting at step {index + 1} of "
        f"{guide.step_count}, *{step.title}*. It only takes a few minutes to finish."
    )
    return text, [
        _section(text, block_id=f"reminder:{count}"),
        {
            "type": "actions",
            "block_id": f"reminder:{count}:actions",
            "elements": [button("Resume", ACTION_RESUME, step_value(owner, step.id), style="primary")],
        },
    ]


def reset_notice(guide: Guide) -> tuple[str, Blocks]:
    """Told to a user whose guide support reset."""
    text = (
        "Hi! The Aldense team has reset this Dentally setup so you can start afresh — nothing you need to undo. "
        "Click *Start Dentally setup* whenever you're ready."
    )
    return text, [
        _section(text, block_id="reset:text"),
        {
            "type": "actions",
            "block_id": "reset:actions",
            "elements": [button("Start Dentally setup", ACTION_START, guide.id, style="primary")],
        },
    ]


def new_key_needed(guide: Guide, fingerprint: str) -> tuple[str, Blocks]:
    """Told to a clinic whose stored key Dentally no longer accepts (expired after two quiet weeks, or revoked)."""
    text = (
        f":warning: Dentally no longer accepts the key ending `{fingerprint}` that connects this practice to Aldense "
        "— it was revoked or expired. An administrator can set up a new one in a couple of minutes."
    )
    return text, [
        _section(text, block_id="newkey:text"),
        {
            "type": "actions",
            "block_id": "newkey:actions",
            "elements": [button("Set up a new key", ACTION_NEW_KEY, guide.id, style="primary")],
        },
    ]


def key_exposed(guide: Guide, fingerprint: str, stored: bool) -> tuple[str, Blocks]:
    """Posted under a message that shows a Dentally key: revoke it, then set up a new one privately."""
    text = copy.key_exposed(fingerprint, stored)
    return text, [
        _section(text, block_id="exposed:text"),
        {
            "type": "actions",
            "block_id": "exposed:actions",
            "elements": [button(copy.KEY_EXPOSED_BUTTON, ACTION_NEW_KEY, guide.id, style="primary")],
        },
    ]


def key_check_lost(guide: Guide, owner: str) -> tuple[str, Blocks]:
    """Told when the check of a key was cut short (the service restarted while the key was only in memory)."""
    text = (
        "Sorry — I couldn't finish checking your key because the service restarted. For your security I never "
        "keep a key I haven't checked, so please enter it again."
    )
    return text, [
        _section(text, block_id="checklost:text"),
        {
            "type": "actions",
            "block_id": "checklost:actions",
            "elements": [
                button("Enter the key privately", ACTION_ENTER_KEY, step_value(owner, guide.steps[-1].id), "primary")
            ],
        },
    ]


def help_coming(guide: Guide, index: int) -> str:
    """Reply in the user's thread after I'm stuck."""
    return (
        f":raising_hand: Thanks — I've asked the Aldense team to help with step {index + 1}, "
        f"*{guide.steps[index].title}*. Someone will reply in this thread shortly. "
        "You can carry on whenever you're ready."
    )


def not_your_guide(owner: str, guide: Guide) -> tuple[str, Blocks]:
    """Ephemeral for someone who clicks a guide that belongs to another person: take it over, or start one."""
    text = copy.not_your_guide(f"<@{owner}>")
    return text, [
        _section(text, block_id="notyours:text"),
        {
            "type": "actions",
            "block_id": "notyours:actions",
            "elements": [
                button(copy.TAKE_OVER_BUTTON, ACTION_TAKE_OVER, owner, style="primary"),
                button("Start my own guide", ACTION_START, guide.id),
            ],
        },
    ]


def guide_handed_over(guide: Guide, giver: str, receiver: str, index: int, taken: bool) -> str:
    """Posted in the thread when a guide moves to another person (both are mentioned)."""
    step = f"step {index + 1} of {guide.step_count}, *{guide.steps[index].title}*"
    if taken:
        return copy.taken_over(f"<@{giver}>", f"<@{receiver}>", step)
    return copy.handed_over(f"<@{giver}>", f"<@{receiver}>", step)


def stale_click(guide: Guide, current_index: int | None, reason: str) -> str:
    """Ephemeral for a button of a step that is no longer current."""
    if current_index is None:
        return f"Nothing changed: {reason}."
    step = guide.steps[current_index]
    return (
        f"That button is from an earlier step, so nothing changed. You're on step {current_index + 1} of "
        f"{guide.step_count}, *{step.title}* — it's the latest message in your thread."
    )


def refused(reason: str) -> str:
    """Ephemeral for a move the guide does not allow right now."""
    return f"Sorry, that can't be done right now: {reason}."


def temporarily_unavailable() -> str:
    """Ephemeral when the state store is unreachable."""
    return (
        ":hourglass: Aldense Guide is temporarily unavailable — please try again in a minute. "
        "I'll also carry on by myself as soon as it's back, so nothing you did is lost."
    )


def temporarily_unavailable_for_staff() -> str:
    """Reply to a staff command or button while the state store is unreachable."""
    return (
        ":hourglass: Aldense Guide can't reach its state store right now, so I can't answer that — please try again "
        "in a minute. Clinics' clicks are kept and applied once it is back."
    )


def gave_up() -> str:
    """Ephemeral when the state store stayed unreachable for minutes."""
    return ":warning: Aldense Guide is still unavailable, so that click didn't go through. Please try it again later."


def help_text(guide: Guide) -> str:
    """What mentioning the bot with ``help`` answers."""
    return (
        f"I walk you through *{guide.title.lower()}* ({guide.step_count} steps, about "
        f"{guide.estimated_minutes} minutes). Mention me with *start* to begin, *resume* to see your current "
        "step again, or *help* for this message. Stuck? Press *I'm stuck* on any step and the Aldense team "
        "will join your thread."
    )


def sorry_not_accepted(detail: str) -> str:
    """Ephemeral when Slack refused one of the bot's messages for a guide."""
    return (
        f"Sorry — Slack didn't accept my last message ({detail}). Mention me with *resume* to see your current "
        "step again; nothing you did was lost."
    )


ALREADY_GOING = "You already have a Dentally guide going — I've put your current step at the bottom of your thread."
NOTHING_TO_RESUME = "You have no guide in progress here — mention me with *start* to begin."
