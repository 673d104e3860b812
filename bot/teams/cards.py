"""Pure Adaptive Card renderers for the guide on Teams, built from the SDK's card models (schema 1.5).

Button data carries ids only: ``action`` (one of the constants below), the guide's ``owner`` and the ``step``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from microsoft_teams.cards import (
    AdaptiveCard,
    Choice,
    ChoiceSetInput,
    Image,
    SubmitAction,
    TextBlock,
    TextInput,
)
from microsoft_teams.cards.utilities import OpenDialogData

from bot.core import copy
from bot.core.copy import Shown
from bot.core.key_intake import identity_of
from bot.core.messages import Standing
from bot.teams.messenger import Mentioning
from conversations.connection import Connection, Decision
from conversations.events import ClosedAs
from conversations.guide import Guide, StepAction
from dentally.scopes import CheckResult, Verdict

VERSION: Literal["1.5"] = "1.5"

ACTION_START = "guide_start"
ACTION_DONE = "step_done"
ACTION_BACK = "step_back"
ACTION_STUCK = "step_stuck"
ACTION_TROUBLE = "step_trouble"
ACTION_ASK_ALDENSE = "step_ask_aldense"
ACTION_RESUME = "guide_resume"
ACTION_NEW_KEY = "guide_new_key"
ACTION_REPLACE_KEY = "guide_replace_key"
ACTION_CHECK_AGAIN = "key_check_again"
ACTION_TAKE_OVER = "guide_take_over"

# Teams' host extension on an Image (stage view); the only field our cards add to the official schema.
TEAMS_IMAGE_EXTENSION = "msTeams"

DIALOG_KEY = "enter_key"
SUBMIT_KEY = "submit_key"
DIALOG_HAND_OVER = "hand_over"
SUBMIT_HAND_OVER = "submit_hand_over"
INPUT_COLLEAGUE = "colleague"
INPUT_KEY = "api_key"
INPUT_REGION = "region"

_EMOJI = {
    ":white_check_mark:": "✅",
    ":x:": "❌",
    ":grey_question:": "❔",
    ":hourglass:": "⏳",
    ":hourglass_flowing_sand:": "⏳",
    ":sos:": "🆘",
    ":arrows_counterclockwise:": "🔄",
    ":tooth:": "🦷",
    ":warning:": "⚠️",
    ":raising_hand:": "🙋",
    ":wave:": "👋",
    ":lock:": "🔒",
    ":leftwards_arrow_with_hook:": "↩️",
    ":arrow_heading_down:": "⤵️",
    ":point_down:": "👇",
    ":frame_with_picture:": "🖼️",
    ":no_entry:": "⛔",
    ":heavy_minus_sign:": "➖",
    ":link:": "🔗",
}
# A backslash before a character is ``escape``'s: that character is text, never part of the markup around it.
_EMOJI_CODE = re.compile(r"(?<!\\):[a-z_]+:")
_BOLD = re.compile(r"(?<![*\w\\])\*([^*\n]+)(?<!\\)\*(?![*\w])")
_CODE = re.compile(r"(?<!\\)`([^`\n]+)(?<!\\)`")
# Markdown's markup characters (CommonMark lets any ASCII punctuation be backslash-escaped): emphasis, code,
# strike-through, links and images, autolinks and HTML, and the backslash itself.
_MARKUP = frozenset("\\*_`~[]<>")

NAME_LIMIT = 80
"""The longest outside value shown (names, typed words), in characters before escaping; longer ones end in ``…``."""


def escape(text: str, limit: int = NAME_LIMIT) -> Shown:
    """Outside text (names, typed words) as inert Teams Markdown: the one escape for everything Teams shows.

    Every markup character gets a backslash, so a name can form no link, HTML, emphasis or code, in a card or a
    message; line breaks and other control characters become spaces (a name is one line); the text is cut to
    ``limit`` characters.

    Args:
        text: Text from outside (Dentally, the clinic, Teams).
        limit: The most characters of ``text`` kept (escapes not counted); longer text ends in ``…``.

    Returns:
        The escaped text.
    """
    cut = text if len(text) <= limit else text[: limit - 1] + "…"
    return Shown("".join(f"\\{c}" if c in _MARKUP else (c if c.isprintable() else " ") for c in cut))


def markdown(mrkdwn: str) -> str:
    """The neutral markup of ``bot.core.copy`` (``*bold*``, ``code``, ``:emoji:``) as a TextBlock's Markdown."""
    text = _EMOJI_CODE.sub(lambda match: _EMOJI.get(match.group(0), match.group(0)), mrkdwn)
    text = _CODE.sub(lambda match: f"“{match.group(1)}”", text)
    return _BOLD.sub(lambda match: f"**{match.group(1)}**", text)


def card(*body: Any, actions: list[SubmitAction] | None = None) -> AdaptiveCard:
    """An Adaptive Card of schema 1.5 with ``body`` and, when given, card-level ``actions``."""
    return AdaptiveCard(version=VERSION, body=list(body), actions=actions or None)


def text(content: str, **style: Any) -> TextBlock:
    """A wrapping TextBlock of Markdown converted from Slack-style text."""
    return TextBlock(text=markdown(content), wrap=True, **style)


def submit(
    title: str,
    action: str,
    owner: str | None = None,
    step: str | None = None,
    *,
    trouble: str | None = None,
    **style: Any,
) -> SubmitAction:
    """An ``Action.Submit`` whose data names the action, the guide's owner, the step and a trouble (ids only)."""
    data: dict[str, Any] = {"action": action}
    if owner is not None:
        data["owner"] = owner
    if step is not None:
        data["step"] = step
    if trouble is not None:
        data["trouble"] = trouble
    return SubmitAction(title=title, data=data, **style)


def open_key_dialog(title: str, owner: str, step: str) -> SubmitAction:
    """The button that opens the key dialog (Teams sends ``task/fetch``)."""
    return SubmitAction(title=title, data=OpenDialogData(DIALOG_KEY, {"owner": owner, "step": step}), style="positive")


def picture(url: str, alt: str) -> Image:
    """A full-width picture that Teams can open in its stage view.

    Teams' documented form is ``"msTeams": {"allowExpand": true}``; the SDK's own ``allow_expand`` is a top-level
    ``allowExpand``, which the official Adaptive Card 1.5 schema does not have (an Image allows no extra fields),
    and the SDK's ``msteams`` field is spelt differently from Teams' documentation, so the field is set by name.
    """
    return Image(url=url, alt_text=alt, size="Stretch", **{TEAMS_IMAGE_EXTENSION: {"allowExpand": True}})


def kickoff(guide: Guide, welcome: str | None = None) -> AdaptiveCard:
    """The kick-off posted in a clinic's channel: what will happen, how long, and a Start button.

    ``welcome`` greets someone who just joined: their name, or "" when Teams did not say it (member events often
    carry only ids).
    """
    greeting = "" if welcome is None else copy.greeting(escape(welcome) if welcome else None)
    return card(
        text(copy.kickoff_title(guide, greeting), size="Medium", weight="Bolder"),
        text(guide.summary),
        text(copy.kickoff_how(guide)),
        text(copy.KICKOFF_NOTE, is_subtle=True, size="Small"),
        actions=[submit(copy.START, ACTION_START, style="positive")],
    )


def thread_opener(name: str, guide: Guide, connected: bool = False) -> str:
    """The short message under which a user's steps are posted (a thread in a channel); ``name``: Teams'.

    ``connected`` once the user's key connected the clinic.
    """
    return markdown(copy.thread_opener(escape(name), guide, connected))


def step_card(guide: Guide, index: int, owner: str, image_url: str | None, again: bool = False) -> AdaptiveCard:
    """A step: progress, title, text, the picture (or its description when pictures are off) and the buttons."""
    step = guide.steps[index]
    body: list[Any] = [
        TextBlock(text=copy.step_progress(guide, index, again), is_subtle=True, size="Small", wrap=True),
        text(step.title, size="Medium", weight="Bolder", style="heading"),
        text(step.text),
    ]
    if image_url:
        body.append(picture(image_url, step.alt))
    else:
        body.append(text(copy.picture_description(step.alt), is_subtle=True))
    if step.action is StepAction.ENTER_KEY:
        actions = [open_key_dialog(copy.ENTER_KEY, owner, step.id)]
    else:
        actions = [submit(copy.DONE, ACTION_DONE, owner, step.id, style="positive")]
    if index > 0:
        actions.append(submit(copy.BACK, ACTION_BACK, owner, step.id))
    actions.append(submit(copy.STUCK, ACTION_STUCK, owner, step.id))
    actions.append(
        SubmitAction(
            title=copy.HAND_OVER_BUTTON, data=OpenDialogData(DIALOG_HAND_OVER, {"owner": owner, "step": step.id})
        )
    )
    return card(*body, actions=actions)


def trouble_offer(guide: Guide, index: int, owner: str) -> AdaptiveCard:
    """Told privately after I'm stuck: a button per common problem of the step, and "Still stuck — ask Aldense"."""
    step = guide.steps[index]
    actions = [submit(t.label, ACTION_TROUBLE, owner, step.id, trouble=t.id) for t in step.troubles]
    actions.append(submit(copy.STILL_STUCK, ACTION_ASK_ALDENSE, owner, step.id))
    return card(text(copy.trouble_offer(guide, index)), actions=actions)


def trouble_answer(guide: Guide, index: int, trouble_id: str, owner: str, moved_to: int | None) -> AdaptiveCard:
    """The answer to a trouble, told privately, with "Still stuck" (and the hand-over when the trouble offers it)."""
    trouble = guide.steps[index].trouble(trouble_id)
    if trouble is None:  # an edit removed it after it was picked
        return card(text(copy.trouble_offer(guide, index)))
    current = guide.steps[moved_to if moved_to is not None else index].id
    actions: list[SubmitAction] = []
    if trouble.hand_over:
        data = OpenDialogData(DIALOG_HAND_OVER, {"owner": owner, "step": current})
        actions.append(SubmitAction(title=copy.HAND_OVER_BUTTON, data=data, style="positive"))
    actions.append(submit(copy.STILL_STUCK, ACTION_ASK_ALDENSE, owner, current))
    return card(text(copy.trouble_answer(guide, index, trouble, moved_to)), actions=actions)


def closed_step(guide: Guide, index: int, outcome: ClosedAs) -> AdaptiveCard:
    """The compact, button-less form of a step's card, e.g. ``✅ 2/9 Open Settings``."""
    return card(text(copy.closed_step(guide, index, outcome)))


def reminder(guide: Guide, index: int, owner: str, name: str) -> AdaptiveCard:
    """A friendly nudge for a quiet guide, with a button that shows the current step again; ``name``: Teams'."""
    step = guide.steps[index]
    return card(
        text(copy.reminder(guide, index, escape(name))),
        actions=[submit(copy.RESUME, ACTION_RESUME, owner, step.id, style="positive")],
    )


def reset_notice(
    disconnected: bool = False, by: str | None = None, connection: Connection | None = None
) -> AdaptiveCard:
    """Told to a user whose guide support reset, saying whether the clinic's connection was reset too."""
    actions = [submit(copy.START, ACTION_START, style="positive")] if connection is None else None
    return card(text(copy.reset_notice(disconnected, by, connection)), actions=actions)


def already_connected(by: str, connection: Connection) -> AdaptiveCard:
    """Told privately on Start in a connected clinic: who connected it and when, with "Replace the key"."""
    return card(text(copy.already_connected(by, connection)), actions=[submit(copy.REPLACE_KEY, ACTION_REPLACE_KEY)])


def held_text(result: CheckResult, standing: Standing) -> str:
    """What the person reads when their verified key is held for staff."""
    return copy.held_headline(escape(identity_of(result).label), standing.connection)


def _revoke_note(standing: Standing | None) -> str | None:
    replaced = standing.connection.replaced_fingerprint if standing else None
    if standing is None or standing.decision is not Decision.REPLACE or replaced is None:
        return None
    return copy.revoke_old_key(replaced)


def new_key_needed(fingerprint: str) -> AdaptiveCard:
    """Told to a clinic whose stored key Dentally no longer accepts."""
    return card(
        text(copy.new_key_needed(fingerprint)), actions=[submit(copy.NEW_KEY, ACTION_NEW_KEY, style="positive")]
    )


def key_exposed(fingerprint: str, stored: bool) -> AdaptiveCard:
    """Posted under a message that shows a Dentally key: revoke it, then set up a new one privately."""
    return card(
        text(copy.key_exposed(fingerprint, stored)),
        actions=[submit(copy.KEY_EXPOSED_BUTTON, ACTION_NEW_KEY, style="positive")],
    )


def not_your_guide(owner: str, owner_name: str) -> AdaptiveCard:
    """For someone who clicks a guide that belongs to another person: take it over, or start one (``owner_name``:
    Teams')."""
    return card(
        text(copy.not_your_guide(escape(owner_name))),
        actions=[
            submit(copy.TAKE_OVER_BUTTON, ACTION_TAKE_OVER, owner, style="positive"),
            submit(copy.START_OWN, ACTION_START),
        ],
    )


def guide_handed_over(
    guide: Guide, giver: tuple[str, str | None], receiver: tuple[str, str | None], index: int, taken: bool
) -> Mentioning:
    """Posted in the thread when a guide moves to another person; each is @-mentioned when their account is known.

    ``giver`` and ``receiver`` are (display name, Teams account id or None); without an account id the name is bold.
    """
    step = f"step {index + 1} of {guide.step_count}, *{guide.steps[index].title}*"
    people: list[tuple[str, str]] = []

    def shown(name: str, account: str | None) -> Shown:
        if account is None:
            return Shown(f"*{escape(name)}*")
        people.append((account, escape(name)))
        return Shown(f"<at>{escape(name)}</at>")

    giver_shown, receiver_shown = shown(*giver), shown(*receiver)
    told = copy.taken_over if taken else copy.handed_over
    said = told(giver_shown, receiver_shown, step)
    return Mentioning(markdown(said), tuple(people))


def hand_over_form(owner: str, people: list[tuple[str, str]], error: str | None = None) -> AdaptiveCard:
    """Pick the colleague with the Dentally login from the channel's members (``people``: id and name)."""
    body: list[Any] = [
        text(copy.HAND_OVER_PICK),
        ChoiceSetInput(
            id=INPUT_COLLEAGUE,
            label="Colleague",
            style="compact",
            choices=[Choice(title=name, value=user) for user, name in people],
            is_required=True,
            error_message="Pick the colleague who has the Dentally login.",
        ),
    ]
    if error:
        body.append(text(f"⚠️ {error}", color="Attention"))
    return card(*body, actions=[submit("Hand over", SUBMIT_HAND_OVER, owner, style="positive")])


def _scope_facts(result: CheckResult) -> TextBlock:
    return text("\n\n".join(copy.scope_line(check) for check in result.scopes))


def result_card(result: CheckResult, owner: str, key_step_id: str, standing: Standing | None = None) -> AdaptiveCard:
    """The check's result in the user's conversation: verdict, every permission, what to do next."""
    if standing is not None and standing.held:
        return card(text(held_text(result, standing)), _scope_facts(result))
    body: list[Any] = [text(copy.headline(result, escape))]
    if result.verdict is not Verdict.INVALID_KEY:
        body.append(_scope_facts(result))
    body.append(text(copy.advice(result, escape).replace("\n", "\n\n")))
    note = _revoke_note(standing)
    if note:
        body.append(text(note))
    actions: list[SubmitAction] = []
    if result.verdict in (Verdict.MISSING_SCOPES, Verdict.INVALID_KEY):
        actions.append(open_key_dialog(copy.TRY_ANOTHER_KEY, owner, key_step_id))
    elif result.verdict is Verdict.COULD_NOT_CHECK:
        actions.append(submit(copy.CHECK_AGAIN, ACTION_CHECK_AGAIN, owner, key_step_id, style="positive"))
        actions.append(open_key_dialog(copy.USE_ANOTHER_KEY, owner, key_step_id))
    elif result.verdict is Verdict.COULD_NOT_PROVE:
        actions.append(open_key_dialog(copy.TRY_ANOTHER_KEY, owner, key_step_id))
        actions.append(submit(copy.CHECK_AGAIN, ACTION_CHECK_AGAIN, owner, key_step_id))
    return card(*body, actions=actions)


def result_dialog(result: CheckResult, standing: Standing | None = None) -> AdaptiveCard:
    """The dialog after a check: the verdict and the per-permission list (the full advice is in the conversation)."""
    if standing is not None and standing.held:
        body: list[Any] = [text(held_text(result, standing))]
    else:
        body = [text(copy.headline(result, escape))]
        if result.verdict is not Verdict.INVALID_KEY:
            body.append(_scope_facts(result))
        body.append(text(copy.advice_in_brief(result, escape)))
        note = _revoke_note(standing)
        if note:
            body.append(text(note))
    body.append(text(copy.RESULT_WITH_GUIDE, is_subtle=True))
    return card(*body)


def key_form(
    owner: str, min_length: int, max_length: int, region: str = "detect", error: str | None = None
) -> AdaptiveCard:
    """The private form: region and a masked key field. The key is never put back into a form."""
    body: list[Any] = [
        text(copy.key_form_intro(masked=True)),
        ChoiceSetInput(
            id=INPUT_REGION,
            label=copy.REGION_LABEL,
            style="compact",
            value=region if region in {value for value, _ in copy.REGION_CHOICES} else "detect",
            choices=[Choice(title=label, value=value) for value, label in copy.REGION_CHOICES],
            is_required=True,
            error_message=copy.CHOOSE_REGION,
        ),
        TextInput(
            id=INPUT_KEY,
            label=copy.KEY_LABEL,
            style="Password",
            placeholder=copy.KEY_PLACEHOLDER,
            is_required=True,
            max_length=max_length,
            error_message=copy.whole_key(min_length, max_length),
        ),
    ]
    if error:
        body.append(text(f":warning: {error}", color="Attention"))
    body.append(text(copy.KEY_FOOTNOTE, is_subtle=True, size="Small"))
    return card(*body, actions=[submit(copy.CHECK_KEY, SUBMIT_KEY, owner, style="positive")])


def message_dialog(content: str) -> AdaptiveCard:
    """A dialog with one message (refusals, errors, "still checking")."""
    return card(text(content))


def cannot_accept_keys() -> AdaptiveCard:
    """Instead of the form when the deployment has no encryption keys: a key is never stored in plaintext."""
    return message_dialog(copy.CANNOT_ACCEPT_KEYS)


def key_check_lost(owner: str, key_step_id: str) -> AdaptiveCard:
    """Told when the check of a key was cut short (the key was only in memory): enter it again."""
    return card(text(copy.KEY_CHECK_LOST), actions=[open_key_dialog(copy.ENTER_KEY, owner, key_step_id)])
