"""Pure Block Kit renderers for the guide's messages; ``action_id``s live here beside the buttons that use them."""

from __future__ import annotations

from typing import Any

from bot.core import copy
from bot.core.messages import AlreadyConnected, AlreadyDone, ClosedResult, ReplacementDecided
from bot.slack.mrkdwn import mention
from conversations.connection import Connection
from conversations.events import ClosedAs
from conversations.guide import Guide, Step, StepAction

ACTION_START = "guide_start"
ACTION_DONE = "step_done"
ACTION_BACK = "step_back"
ACTION_STUCK = "step_stuck"
ACTION_TROUBLE = "step_trouble"
"""The prefix of the troubles' buttons: ``step_trouble_1``, ``_2``, … (Slack wants action ids unique in a block)."""
ACTION_ASK_ALDENSE = "step_ask_aldense"
ACTION_ENTER_KEY = "key_enter"
ACTION_RESUME = "guide_resume"
ACTION_NEW_KEY = "guide_new_key"
ACTION_REPLACE_KEY = "guide_replace_key"
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


def trouble_action(position: int) -> str:
    """The action id of the trouble button at ``position`` (from 1) of an offer."""
    return f"{ACTION_TROUBLE}_{position}"


def trouble_value(owner: str, step_id: str, trouble_id: str) -> str:
    """The value carried by a trouble's button: whose guide, which step, which trouble."""
    return f"{owner}|{step_id}|{trouble_id}"


def parse_trouble_value(value: str) -> tuple[str, str, str] | None:
    """Read ``trouble_value``; None when the value is not one."""
    parts = value.split("|")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 and all(parts) else None


def trouble_offer(guide: Guide, index: int, owner: str) -> tuple[str, Blocks]:
    """Shown privately after I'm stuck: a button per common problem of the step, and "Still stuck — ask Aldense"."""
    step = guide.steps[index]
    text = copy.trouble_offer(guide, index)
    buttons = [
        button(t.label, trouble_action(n), trouble_value(owner, step.id, t.id))
        for n, t in enumerate(step.troubles, start=1)
    ]
    buttons.append(button(copy.STILL_STUCK, ACTION_ASK_ALDENSE, step_value(owner, step.id)))
    return text, [
        _section(text, block_id=f"troubles:{step.id}:text"),
        {"type": "actions", "block_id": f"troubles:{step.id}:actions", "elements": buttons},
    ]


def trouble_answer(guide: Guide, index: int, trouble_id: str, owner: str, moved_to: int | None) -> tuple[str, Blocks]:
    """The answer to a trouble, shown privately, with "Still stuck" (and the hand-over when the trouble offers it)."""
    step = guide.steps[index]
    trouble = step.trouble(trouble_id)
    if trouble is None:  # an edit removed it after it was picked
        return copy.trouble_offer(guide, index), [_section(copy.trouble_offer(guide, index))]
    text = copy.trouble_answer(guide, index, trouble, moved_to)
    current = guide.steps[moved_to if moved_to is not None else index].id
    value = step_value(owner, current)
    buttons = [button(copy.HAND_OVER_BUTTON, ACTION_HAND_OVER, value, style="primary")] if trouble.hand_over else []
    buttons.append(button(copy.STILL_STUCK, ACTION_ASK_ALDENSE, value))
    return text, [
        _section(text, block_id=f"trouble:{step.id}:{trouble.id}:text"),
        {"type": "actions", "block_id": f"trouble:{step.id}:{trouble.id}:actions", "elements": buttons},
    ]


def kickoff(guide: Guide, welcome_user: str | None = None) -> tuple[str, Blocks]:
    """The kick-off message posted in a clinic's channel: what will happen, how long, and a Start button."""
    greeting = copy.greeting(mention(welcome_user)) if welcome_user else ""
    blocks: Blocks = [
        _section(f"{copy.kickoff_title(guide, greeting)}\n{guide.summary}", block_id="kickoff:intro"),
        _section(copy.kickoff_how(guide), block_id="kickoff:how"),
        {
            "type": "actions",
            "block_id": "kickoff:actions",
            "elements": [button(copy.START, ACTION_START, guide.id, style="primary")],
        },
        _context(copy.KICKOFF_NOTE),
    ]
    return copy.kickoff_fallback(guide, greeting), blocks


def thread_opener(user: str, guide: Guide, connected: bool = False) -> str:
    """The short top-level message under which a user's steps are posted (``connected`` once their key did)."""
    return copy.thread_opener(mention(user), guide, connected)


def step_message(
    guide: Guide, index: int, owner: str, image_url: str | None, again: bool = False
) -> tuple[str, Blocks]:
    """A step: progress, title, text, the picture (or its description when pictures are off) and the buttons."""
    step = guide.steps[index]
    value = step_value(owner, step.id)
    blocks: Blocks = [
        _context(copy.step_progress(guide, index, again)),
        _section(f"*{step.title}*\n{step.text}", block_id=f"step:{step.id}:text"),
    ]
    if image_url:
        blocks.append(
            {
                "type": "image",
                "block_id": f"step:{step.id}:picture",
                "image_url": image_url,
                "alt_text": step.alt,
            }
        )
    else:
        blocks.append(_context(copy.picture_description(step.alt)))
    blocks.append(
        {"type": "actions", "block_id": f"step:{step.id}:actions", "elements": _step_buttons(step, index, value)}
    )
    return copy.step_fallback(guide, index), blocks


def _step_buttons(step: Step, index: int, value: str) -> list[dict[str, Any]]:
    if step.action is StepAction.ENTER_KEY:
        buttons = [button(copy.ENTER_KEY, ACTION_ENTER_KEY, value, style="primary")]
    else:
        buttons = [button(copy.DONE, ACTION_DONE, value, style="primary")]
    if index > 0:
        buttons.append(button(copy.BACK, ACTION_BACK, value))
    buttons.append(button(copy.STUCK, ACTION_STUCK, value))
    buttons.append(button(copy.HAND_OVER_BUTTON, ACTION_HAND_OVER, value))
    return buttons


def closed_step(guide: Guide, index: int, outcome: ClosedAs) -> tuple[str, Blocks]:
    """The compact, button-less form of a step message, e.g. ``✅ 2/9 Open Settings``."""
    line = copy.closed_step(guide, index, outcome)
    return line, [_section(line, block_id=f"step:{guide.steps[index].id}:closed:{outcome.value}")]


def reminder(guide: Guide, index: int, owner: str, count: int) -> tuple[str, Blocks]:
    """A friendly nudge for a quiet guide, with a button that shows the current step again."""
    step = guide.steps[index]
    text = copy.reminder(guide, index, mention(owner))
    return text, [
        _section(text, block_id=f"reminder:{count}"),
        {
            "type": "actions",
            "block_id": f"reminder:{count}:actions",
            "elements": [button(copy.RESUME, ACTION_RESUME, step_value(owner, step.id), style="primary")],
        },
    ]


def reset_notice(guide: Guide, disconnected: bool, connection: Connection | None) -> tuple[str, Blocks]:
    """Told to a user whose guide support reset, saying whether the clinic's connection was reset too."""
    by = f"<@{connection.connected_by}>" if connection else None
    text = copy.reset_notice(disconnected, by, connection)
    shown: Blocks = [_section(text, block_id="reset:text")]
    if connection is None:
        shown.append(
            {
                "type": "actions",
                "block_id": "reset:actions",
                "elements": [button(copy.START, ACTION_START, guide.id, style="primary")],
            }
        )
    return text, shown


def already_connected(guide: Guide, message: AlreadyConnected) -> tuple[str, Blocks]:
    """Told privately on Start in a connected clinic: who connected it and when, with "Replace the key"."""
    text = copy.already_connected(f"<@{message.connection.connected_by}>", message.connection)
    return text, [
        _section(text, block_id="connected:text"),
        {
            "type": "actions",
            "block_id": "connected:actions",
            "elements": [button(copy.REPLACE_KEY, ACTION_REPLACE_KEY, guide.id)],
        },
    ]


def already_done(message: AlreadyDone) -> str:
    """Told privately for a late click on a button whose moment passed."""
    connection = message.connection
    return copy.already_done(f"<@{connection.connected_by}>" if connection else None, connection)


def closed_result(message: ClosedResult) -> tuple[str, Blocks]:
    """An earlier key result whose buttons retired."""
    text = copy.closed_result(message.fingerprint)
    return text, [_context(text)]


def replacement_decided(message: ReplacementDecided) -> tuple[str, Blocks]:
    """Told in the clinic's thread when staff accepted or rejected a held key."""
    text = copy.replacement_decided(message.accepted, message.fingerprint, message.connection)
    return text, [_section(text, block_id="replacement:text")]


def new_key_needed(guide: Guide, fingerprint: str) -> tuple[str, Blocks]:
    """Told to a clinic whose stored key Dentally no longer accepts (expired after two quiet weeks, or revoked)."""
    text = copy.new_key_needed(fingerprint)
    return text, [
        _section(text, block_id="newkey:text"),
        {
            "type": "actions",
            "block_id": "newkey:actions",
            "elements": [button(copy.NEW_KEY, ACTION_NEW_KEY, guide.id, style="primary")],
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
    return copy.KEY_CHECK_LOST, [
        _section(copy.KEY_CHECK_LOST, block_id="checklost:text"),
        {
            "type": "actions",
            "block_id": "checklost:actions",
            "elements": [button(copy.ENTER_KEY, ACTION_ENTER_KEY, step_value(owner, guide.steps[-1].id), "primary")],
        },
    ]


def not_your_guide(owner: str, guide: Guide) -> tuple[str, Blocks]:
    """Ephemeral for someone who clicks a guide that belongs to another person: take it over, or start one."""
    text = copy.not_your_guide(mention(owner))
    return text, [
        _section(text, block_id="notyours:text"),
        {
            "type": "actions",
            "block_id": "notyours:actions",
            "elements": [
                button(copy.TAKE_OVER_BUTTON, ACTION_TAKE_OVER, owner, style="primary"),
                button(copy.START_OWN, ACTION_START, guide.id),
            ],
        },
    ]


def guide_handed_over(guide: Guide, giver: str, receiver: str, index: int, taken: bool) -> str:
    """Posted in the thread when a guide moves to another person (both are mentioned)."""
    step = f"step {index + 1} of {guide.step_count}, *{guide.steps[index].title}*"
    if taken:
        return copy.taken_over(mention(giver), mention(receiver), step)
    return copy.handed_over(mention(giver), mention(receiver), step)


def temporarily_unavailable_for_staff() -> str:
    """Reply to a staff command or button while the state store is unreachable."""
    return (
        ":hourglass: Aldense Guide can't reach its state store right now, so I can't answer that — please try again "
        "in a minute. Clinics' clicks are kept and applied once it is back."
    )
