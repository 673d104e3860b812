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
from bot.core.copy import REGION_CHOICES, advice, progress
from conversations.events import StepOutcome
from conversations.guide import Guide, StepAction
from dentally.regions import region_label
from dentally.scopes import SCOPE_LABELS, CheckResult, ScopeStatus, Verdict

VERSION: Literal["1.5"] = "1.5"

ACTION_START = "guide_start"
ACTION_DONE = "step_done"
ACTION_BACK = "step_back"
ACTION_STUCK = "step_stuck"
ACTION_RESUME = "guide_resume"
ACTION_NEW_KEY = "guide_new_key"
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
}
_EMOJI_CODE = re.compile(r":[a-z_]+:")
_BOLD = re.compile(r"(?<![*\w])\*([^*\n]+)\*(?![*\w])")
_CODE = re.compile(r"`([^`\n]+)`")


def markdown(mrkdwn: str) -> str:
    """Slack-style text (``*bold*``, ``code``, ``:emoji:``) as the Markdown a Teams TextBlock shows."""
    text = _EMOJI_CODE.sub(lambda match: _EMOJI.get(match.group(0), match.group(0)), mrkdwn)
    text = _CODE.sub(lambda match: f"“{match.group(1)}”", text)
    return _BOLD.sub(lambda match: f"**{match.group(1)}**", text)


def card(*body: Any, actions: list[SubmitAction] | None = None) -> AdaptiveCard:
    """An Adaptive Card of schema 1.5 with ``body`` and, when given, card-level ``actions``."""
    return AdaptiveCard(version=VERSION, body=list(body), actions=actions or None)


def text(content: str, **style: Any) -> TextBlock:
    """A wrapping TextBlock of Markdown converted from Slack-style text."""
    return TextBlock(text=markdown(content), wrap=True, **style)


def submit(title: str, action: str, owner: str | None = None, step: str | None = None, **style: Any) -> SubmitAction:
    """An ``Action.Submit`` whose data names the action, the guide's owner and the step (ids only)."""
    data: dict[str, Any] = {"action": action}
    if owner is not None:
        data["owner"] = owner
    if step is not None:
        data["step"] = step
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
    greeting = "" if welcome is None else (f"Welcome {welcome}! " if welcome else "Welcome! ")
    return card(
        text(f"{greeting}**{guide.title}** 🦷", size="Medium", weight="Bolder"),
        text(guide.summary),
        text(
            f"**How it works:** {guide.step_count} short steps, one message each with a picture. At the end you paste "
            "the key into a private form and we check it with Dentally straight away.\n\n"
            f"**Time:** about {guide.estimated_minutes} minutes. **You'll need:** a Dentally administrator login."
        ),
        text("Each person gets their own guide, so several of you can follow along.", is_subtle=True, size="Small"),
        actions=[submit("Start Dentally setup", ACTION_START, style="positive")],
    )


def thread_opener(name: str, guide: Guide) -> str:
    """The short message under which a user's steps are posted (a thread in a channel)."""
    return f"**{name}** is connecting Dentally — steps below 👇 ({guide.step_count} steps)"


def step_card(guide: Guide, index: int, owner: str, image_url: str | None, again: bool = False) -> AdaptiveCard:
    """A step: progress, title, text, the picture (or its description when pictures are off) and the buttons."""
    step = guide.steps[index]
    lead = "Here's where you are: " if again else ""
    body: list[Any] = [
        TextBlock(text=f"{lead}{progress(index, guide.step_count)}", is_subtle=True, size="Small", wrap=True),
        text(step.title, size="Medium", weight="Bolder", style="heading"),
        text(step.text),
    ]
    if image_url:
        body.append(picture(image_url, step.alt))
    else:
        body.append(text(f"🖼️ _What you'll see:_ {step.alt}", is_subtle=True))
    if step.action is StepAction.ENTER_KEY:
        actions = [open_key_dialog("Enter the key privately", owner, step.id)]
    else:
        actions = [submit("Done, next step", ACTION_DONE, owner, step.id, style="positive")]
    if index > 0:
        actions.append(submit("Back", ACTION_BACK, owner, step.id))
    actions.append(submit("I'm stuck", ACTION_STUCK, owner, step.id))
    actions.append(
        SubmitAction(
            title=copy.HAND_OVER_BUTTON, data=OpenDialogData(DIALOG_HAND_OVER, {"owner": owner, "step": step.id})
        )
    )
    return card(*body, actions=actions)


_CLOSED_MARK = {
    StepOutcome.DONE: ("✅", ""),
    StepOutcome.WENT_BACK: ("↩️", " — went back a step"),
    StepOutcome.SUPERSEDED: ("⤵️", " — shown again below"),
}


def closed_step(guide: Guide, index: int, outcome: StepOutcome) -> AdaptiveCard:
    """The compact, button-less form of a step's card, e.g. ``✅ 2/9 Open Settings``."""
    mark, note = _CLOSED_MARK[outcome]
    return card(TextBlock(text=f"{mark} {index + 1}/{guide.step_count} {guide.steps[index].title}{note}", wrap=True))


def reminder(guide: Guide, index: int, owner: str, name: str) -> AdaptiveCard:
    """A friendly nudge for a quiet guide, with a button that shows the current step again."""
    step = guide.steps[index]
    return card(
        text(
            f"Hi {name} 👋 whenever you have a moment, your Dentally setup is waiting at step {index + 1} of "
            f"{guide.step_count}, **{step.title}**. It only takes a few minutes to finish."
        ),
        actions=[submit("Resume", ACTION_RESUME, owner, step.id, style="positive")],
    )


def reset_notice() -> AdaptiveCard:
    """Told to a user whose guide support reset."""
    return card(
        text(
            "Hi! The Aldense team has reset this Dentally setup so you can start afresh — nothing you need to undo. "
            "Click **Start Dentally setup** whenever you're ready."
        ),
        actions=[submit("Start Dentally setup", ACTION_START, style="positive")],
    )


def new_key_needed(fingerprint: str) -> AdaptiveCard:
    """Told to a clinic whose stored key Dentally no longer accepts."""
    return card(
        text(
            f"⚠️ Dentally no longer accepts the key ending “{fingerprint}” that connects this practice to Aldense — "
            "it was revoked or expired. An administrator can set up a new one in a couple of minutes."
        ),
        actions=[submit("Set up a new key", ACTION_NEW_KEY, style="positive")],
    )


def key_exposed(fingerprint: str, stored: bool) -> AdaptiveCard:
    """Posted under a message that shows a Dentally key: revoke it, then set up a new one privately."""
    return card(
        text(copy.key_exposed(fingerprint, stored)),
        actions=[submit(copy.KEY_EXPOSED_BUTTON, ACTION_NEW_KEY, style="positive")],
    )


def help_coming(guide: Guide, index: int) -> str:
    """Reply after I'm stuck."""
    return (
        f"🙋 Thanks — I've asked the Aldense team to help with step {index + 1}, **{guide.steps[index].title}**. "
        "Someone will reply here shortly. You can carry on whenever you're ready."
    )


def not_your_guide(owner: str, owner_name: str) -> AdaptiveCard:
    """For someone who clicks a guide that belongs to another person: take it over, or start one."""
    return card(
        text(copy.not_your_guide(owner_name)),
        actions=[
            submit(copy.TAKE_OVER_BUTTON, ACTION_TAKE_OVER, owner, style="positive"),
            submit("Start my own guide", ACTION_START),
        ],
    )


def guide_handed_over(guide: Guide, giver_name: str, receiver_name: str, index: int, taken: bool) -> str:
    """Posted in the thread when a guide moves to another person."""
    step = f"step {index + 1} of {guide.step_count}, *{guide.steps[index].title}*"
    giver, receiver = f"*{giver_name}*", f"*{receiver_name}*"
    said = copy.taken_over(giver, receiver, step) if taken else copy.handed_over(giver, receiver, step)
    return markdown(said)


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


def stale_click(guide: Guide, current_index: int | None, reason: str) -> str:
    """For a button of a step that is no longer current."""
    if current_index is None:
        return f"Nothing changed: {reason}."
    step = guide.steps[current_index]
    return (
        f"That button is from an earlier step, so nothing changed. You're on step {current_index + 1} of "
        f"{guide.step_count}, **{step.title}** — it's the latest card in your guide."
    )


def help_text(guide: Guide) -> str:
    """What mentioning the bot with anything it does not know answers."""
    return (
        f"I walk you through **{guide.title.lower()}** ({guide.step_count} steps, about {guide.estimated_minutes} "
        "minutes). Mention me with **start** to begin, **resume** to see your current step again, or **help** for "
        "this message. Stuck? Press **I'm stuck** on any step and the Aldense team will join in."
    )


_SCOPE_MARK = {ScopeStatus.GRANTED: "✅", ScopeStatus.MISSING: "❌", ScopeStatus.UNKNOWN: "❔"}


def _headline(result: CheckResult) -> str:
    if result.verdict is Verdict.VERIFIED:
        where = " · ".join(
            [p for p in (result.clinic_name, region_label(result.region) if result.region else None) if p]
        )
        return f"✅ **Dentally is connected!** The key works ({where})." if where else "✅ **Dentally is connected!**"
    if result.verdict is Verdict.MISSING_SCOPES:
        return "❌ **The key works, but some permissions weren't ticked.**"
    if result.verdict is Verdict.INVALID_KEY:
        return "❌ **Dentally didn't accept that key.**"
    if result.verdict is Verdict.COULD_NOT_PROVE:
        return "❔ **Dentally answered, but I couldn't prove the key's permissions.**"
    return "⏳ **I couldn't check the key with Dentally just yet.**"


def _scope_facts(result: CheckResult) -> TextBlock:
    lines = [f"{_SCOPE_MARK[check.status]} {SCOPE_LABELS[check.scope]}" for check in result.scopes]
    return TextBlock(text="\n\n".join(lines), wrap=True)


def result_card(result: CheckResult, owner: str, key_step_id: str) -> AdaptiveCard:
    """The check's result in the user's conversation: verdict, every permission, what to do next."""
    body: list[Any] = [text(_headline(result))]
    if result.verdict is not Verdict.INVALID_KEY:
        body.append(_scope_facts(result))
    body.append(text(advice(result).replace("\n", "\n\n")))
    actions: list[SubmitAction] = []
    if result.verdict in (Verdict.MISSING_SCOPES, Verdict.INVALID_KEY):
        actions.append(open_key_dialog("Try another key", owner, key_step_id))
    elif result.verdict is Verdict.COULD_NOT_CHECK:
        actions.append(submit("Check again", ACTION_CHECK_AGAIN, owner, key_step_id, style="positive"))
        actions.append(open_key_dialog("Use another key", owner, key_step_id))
    elif result.verdict is Verdict.COULD_NOT_PROVE:
        actions.append(open_key_dialog("Try another key", owner, key_step_id))
        actions.append(submit("Check again", ACTION_CHECK_AGAIN, owner, key_step_id))
    return card(*body, actions=actions)


def result_dialog(result: CheckResult) -> AdaptiveCard:
    """The dialog after a check: the verdict and the per-permission list (the full advice is in the conversation)."""
    body: list[Any] = [text(_headline(result))]
    if result.verdict is not Verdict.INVALID_KEY:
        body.append(_scope_facts(result))
    body.append(text(advice(result).split("\n")[0]))
    body.append(text("_The full result is in your conversation. You can close this window._", is_subtle=True))
    return card(*body)


def key_form(
    owner: str, min_length: int, max_length: int, region: str = "detect", error: str | None = None
) -> AdaptiveCard:
    """The private form: region and a masked key field. The key is never put back into a form."""
    body: list[Any] = [
        text(
            "Paste the key you copied from Dentally. The field is masked, and the key is **never shown in the "
            "conversation**: it goes straight to Aldense's checker and is stored encrypted."
        ),
        ChoiceSetInput(
            id=INPUT_REGION,
            label="Where is your practice?",
            style="compact",
            value=region if region in {value for value, _ in REGION_CHOICES} else "detect",
            choices=[Choice(title=label, value=value) for value, label in REGION_CHOICES],
            is_required=True,
            error_message="Choose your practice's region, or 'Not sure — detect it'.",
        ),
        TextInput(
            id=INPUT_KEY,
            label="Dentally API key",
            style="Password",
            placeholder="Paste the key here",
            is_required=True,
            max_length=max_length,
            error_message=f"Paste the whole key ({min_length}–{max_length} characters).",
        ),
    ]
    if error:
        body.append(text(f"⚠️ {error}", color="Attention"))
    body.append(
        text("🔒 Aldense's team only ever sees the last 4 characters of your key.", is_subtle=True, size="Small")
    )
    return card(*body, actions=[submit("Check key", SUBMIT_KEY, owner, style="positive")])


def message_dialog(content: str) -> AdaptiveCard:
    """A dialog with one message (refusals, errors, "still checking")."""
    return card(text(content))


def cannot_accept_keys() -> AdaptiveCard:
    """Instead of the form when the deployment has no encryption keys: a key is never stored in plaintext."""
    return message_dialog(
        "⚠️ Aldense can't accept keys just yet — secure storage isn't switched on for this service. Nothing you "
        "type would be kept, so please don't enter your key now. The Aldense team has been told and will let you "
        "know here when it's ready."
    )


def key_check_lost(owner: str, key_step_id: str) -> AdaptiveCard:
    """Told when the check of a key was cut short (the key was only in memory): enter it again."""
    return card(
        text("⏳ Your key check was interrupted on our side, so nothing was decided. Please enter it again."),
        actions=[open_key_dialog("Enter the key again", owner, key_step_id)],
    )
