"""Every clinic-facing sentence and button label, written once in a neutral markup each platform renders.

**Markup.** The small set both renderers understand: ``*bold*``, ``_italic_``, ```code``` and ``:emoji:`` short
codes, lines separated by ``\\n``. Slack shows it as it is (it is Slack's own mrkdwn); Teams converts it with
``bot.teams.cards.markdown``.

**Outside text.** Anything that did not come from us (practice and site names, display names, channel names, typed
words) reaches a sentence only as ``Shown``: text the platform that will show it has already made inert with its one
escape function (``bot.slack.mrkdwn.escape``, ``bot.teams.cards.escape``), which also caps its length. The type makes
mypy refuse a raw ``str`` where a ``Shown`` belongs, so no renderer can forget the escape.

**People.** A sentence that names someone takes ``who``: a ``Shown`` the platform rendered, because each platform
names people its own way (Slack mentions by id, ``<@U…>``, which Slack resolves for every reader; Teams has no
mention in our text and shows an escaped display name). A span type would only make both renderers translate the
same thing back; a ready-made ``Shown`` keeps the sentence one f-string and the platform choice in one place.

**Adding a sentence.** Write it here as a constant (fixed words) or a function of neutral inputs (guide, indices,
results, ``Shown`` values) returning the neutral markup, then call it from both renderers. Button labels are here too;
which button does what (action ids, layout) stays in each renderer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NewType, Protocol

from conversations.connection import Connection, ConnectionState
from conversations.events import ClosedAs
from conversations.guide import Guide, Trouble
from dentally.regions import parse_region, region_label
from dentally.scopes import REQUIRED_SCOPES, SCOPE_LABELS, CheckResult, Problem, ScopeCheck, ScopeStatus, Verdict

Shown = NewType("Shown", str)
"""Outside text made inert (escaped and length-capped) by the platform that will show it."""


class Escape(Protocol):
    """A platform's escape function: outside text in, ``Shown`` out, at most about ``limit`` characters."""

    def __call__(self, text: str, limit: int = ...) -> Shown:
        """``text`` made inert for the platform, cut to ``limit``."""
        ...


REGION_CHOICES = (
    ("detect", "Not sure — detect it"),
    ("uk", "UK & Ireland"),
    ("au", "Australia & New Zealand"),
    ("ca", "Canada"),
)

# Button labels ------------------------------------------------------------------------------------------------------

START = "Start Dentally setup"
START_OWN = "Start my own guide"
DONE = "Done, next step"
BACK = "Back"
STUCK = "I'm stuck"
ENTER_KEY = "Enter the key privately"
RESUME = "Resume"
NEW_KEY = "Set up a new key"
TRY_ANOTHER_KEY = "Try another key"
USE_ANOTHER_KEY = "Use another key"
CHECK_AGAIN = "Check again"
CHECK_KEY = "Check key"
CANCEL = "Cancel"
CLOSE = "Close"

# The guide ----------------------------------------------------------------------------------------------------------


def minutes_left(seconds: int) -> str:
    """``about 3 minutes left``, rounded to whole minutes and never below one."""
    minutes = max(1, round(seconds / 60))
    return f"about {minutes} minute{'' if minutes == 1 else 's'} left"


def progress(guide: Guide, index: int) -> str:
    """``Step 4 of 9 · about 3 minutes left`` with a small bar; the time is the guide's estimate for what remains."""
    total = guide.step_count
    bar = "▰" * (index + 1) + "▱" * (total - index - 1)
    return f"Step {index + 1} of {total} · {minutes_left(guide.seconds_left(index))}  {bar}"


def kickoff_fallback(guide: Guide, greeting: str = "") -> str:
    """The kick-off in one line (Slack's notification text)."""
    return f"{greeting}Let's connect Dentally to Aldense — about {guide.estimated_minutes} minutes."


def greeting(who: Shown | None) -> str:
    """``Welcome Jane! `` for someone who just joined; ``Welcome! `` when the platform did not say who."""
    return f"Welcome {who}! " if who else "Welcome! "


def kickoff_title(guide: Guide, greeting: str = "") -> str:
    """The kick-off's first line: the guide's title."""
    return f"{greeting}*{guide.title}* :tooth:"


def kickoff_how(guide: Guide) -> str:
    """What will happen, how long it takes and what is needed."""
    return (
        f"*How it works:* {guide.step_count} short steps, one message each with a picture. At the end you paste "
        "the key into a private form and we check it with Dentally straight away.\n"
        f"*Time:* about {guide.estimated_minutes} minutes.   *You'll need:* a computer (not a phone) and a "
        "Dentally login with administrator access."
    )


KICKOFF_NOTE = "Each person gets their own guide, so several of you can follow along."


def thread_opener(who: Shown, guide: Guide, connected: bool = False) -> str:
    """The short top-level message under which a person's steps are posted; ``connected`` once their key connected
    the clinic (the opener is edited in place, so the channel shows at a glance that it is done)."""
    if connected:
        return f"{who} connected Dentally :white_check_mark: — steps below ({guide.step_count} steps)"
    return f"{who} is connecting Dentally — steps below :point_down: ({guide.step_count} steps)"


def step_fallback(guide: Guide, index: int) -> str:
    """A step in one line (Slack's notification text)."""
    return f"Step {index + 1} of {guide.step_count}: {guide.steps[index].title}"


def step_progress(guide: Guide, index: int, again: bool = False) -> str:
    """The step's progress line; ``again`` when the step is shown again on request."""
    return ("Here's where you are: " if again else "") + progress(guide, index)


def picture_description(alt: str) -> str:
    """Shown instead of a step's picture when the platform could not use it."""
    return f":frame_with_picture: _What you'll see:_ {alt}"


_CLOSED_MARK = {
    ClosedAs.DONE: (":white_check_mark:", ""),
    ClosedAs.WENT_BACK: (":leftwards_arrow_with_hook:", " — went back a step"),
    ClosedAs.SUPERSEDED: (":arrow_heading_down:", " — shown again below"),
    ClosedAs.JUMPED: (":leftwards_arrow_with_hook:", " — went to another step to fix a problem, below"),
}


def closed_step(guide: Guide, index: int, outcome: ClosedAs) -> str:
    """The compact, button-less form of a step, e.g. ``✅ 2/9 Open Settings``."""
    mark, note = _CLOSED_MARK[outcome]
    return f"{mark} {index + 1}/{guide.step_count} {guide.steps[index].title}{note}"


def reminder(guide: Guide, index: int, who: Shown) -> str:
    """A friendly nudge for a quiet guide."""
    return (
        f"Hi {who} :wave: whenever you have a moment, your Dentally setup is waiting at step {index + 1} of "
        f"{guide.step_count}, *{guide.steps[index].title}*. It only takes a few minutes to finish."
    )


RESET_NOTICE = (
    "Hi! The Aldense team has reset this Dentally setup so you can start afresh — nothing you need to undo. "
    f"Click *{START}* whenever you're ready."
)


def new_key_needed(fingerprint: str) -> str:
    """Told to a clinic whose stored key Dentally no longer accepts (expired after two quiet weeks, or revoked)."""
    return (
        f":warning: Dentally no longer accepts the key ending `{fingerprint}` that connects this practice to Aldense "
        "— it was revoked or expired. An administrator can set up a new one in a couple of minutes."
    )


KEY_CHECK_LOST = (
    ":hourglass: Sorry — I couldn't finish checking your key because the service restarted, so nothing was decided. "
    "For your security I never keep a key I haven't checked, so please enter it again."
)


def help_coming(guide: Guide, index: int, promise: str | None = None) -> str:
    """The reply in the person's thread after I'm stuck (``promise``: support's hours and usual wait, if set)."""
    when = f"Someone will reply here. {promise}" if promise else "Someone will reply here shortly."
    return (
        f":raising_hand: Thanks — I've asked the Aldense team to help with step {index + 1}, "
        f"*{guide.steps[index].title}*. {when} You can carry on whenever you're ready."
    )


STILL_STUCK = "Still stuck — ask Aldense"


def trouble_offer(guide: Guide, index: int) -> str:
    """Shown privately after I'm stuck, above a button per common problem of the step and "Still stuck"."""
    return (
        f":mag: Common problems on step {index + 1}, *{guide.steps[index].title}* — pick yours for a quick answer, "
        f"or ask the Aldense team:"
    )


def trouble_answer(guide: Guide, index: int, trouble: Trouble, moved_to: int | None) -> str:
    """The answer to a trouble, shown privately; ``moved_to`` is the step its jump took the guide to."""
    text = f":bulb: *{trouble.label}*\n{trouble.answer}"
    if moved_to is not None:
        text += (
            f"\n:arrow_heading_down: I've taken your guide to step {moved_to + 1} of {guide.step_count}, "
            f"*{guide.steps[moved_to].title}* — it's the latest message in your thread."
        )
    return text + "\nStill stuck? Ask the Aldense team below."


def trouble_reported(guide: Guide, index: int, trouble: Trouble, who: str, moved_to: int | None) -> str:
    """The one line support's thread gets when ``who`` (already shown as a person) picks a trouble."""
    line = f":bulb: {who} picked trouble _{trouble.label}_ at step {index + 1}/{guide.step_count}"
    if moved_to is not None:
        line += f" and was taken to step {moved_to + 1}/{guide.step_count}"
    return line + " (answered by the guide, nobody paged)."


def not_your_guide(who: Shown) -> str:
    """Told privately to someone who clicks another person's guide (``who`` already shown by the platform)."""
    return (
        f"This guide belongs to {who}. If you have the Dentally login, take it over (they'll be told), or start "
        "your own guide."
    )


def stale_click(guide: Guide, current_index: int | None, reason: str) -> str:
    """For a button of a step that is no longer current (``reason``: the machine's own words)."""
    if current_index is None:
        return f"Nothing changed: {reason}."
    return (
        f"That button is from an earlier step, so nothing changed. You're on step {current_index + 1} of "
        f"{guide.step_count}, *{guide.steps[current_index].title}* — it's the latest message of your guide."
    )


def refused(reason: str) -> str:
    """For a move the guide does not allow right now (``reason``: the machine's own words)."""
    return f"Sorry, that can't be done right now: {reason}."


ALREADY_GOING = "You already have a Dentally guide going — I've put your current step at the bottom of it."
NOTHING_TO_RESUME = "You have no guide in progress here — mention me with *start* to begin."
TEMPORARILY_UNAVAILABLE = (
    ":hourglass: Aldense Guide is temporarily unavailable — please try again in a minute. "
    "I'll also carry on by myself as soon as it's back, so nothing you did is lost."
)
GAVE_UP = ":warning: Aldense Guide is still unavailable, so that click didn't go through. Please try it again later."


def not_accepted(platform: str, detail: str) -> str:
    """When ``platform`` (``Slack``, ``Microsoft Teams``) refused one of the bot's messages for a guide."""
    return (
        f"Sorry — {platform} didn't accept my last message ({detail}). Mention me with *resume* to see your "
        "current step again; nothing you did was lost."
    )


def help_text(guide: Guide) -> str:
    """What mentioning the bot with ``help`` (or a word it does not know) answers."""
    return (
        f"I walk you through *{guide.title}* ({guide.step_count} steps, about {guide.estimated_minutes} "
        "minutes). Mention me with *start* to begin, *resume* to see your current step again, or *help* for this "
        f"message. Stuck? Press *{STUCK}* on any step and the Aldense team will join in."
    )


# The key form -------------------------------------------------------------------------------------------------------

KEY_TITLE = "Dentally key"


def key_form_intro(masked: bool) -> str:
    """The form's first words; ``masked`` says whether the platform hides what is typed (Slack cannot)."""
    if masked:
        return (
            "Paste the key you copied from Dentally. The field is masked, and the key is *never shown in the "
            "conversation*: it goes straight to Aldense's checker and is stored encrypted."
        )
    return (
        "Paste the key you copied from Dentally. Only you see this form, and the key is *never shown in the "
        "channel*: it goes straight to Aldense's checker and is stored encrypted."
    )


REGION_LABEL = "Where is your practice?"
REGION_HINT = "Dentally runs separately in each region; we can try each one for you."
CHOOSE_REGION = "Choose your practice's region, or 'Not sure — detect it'."
KEY_LABEL = "Dentally API key"
KEY_PLACEHOLDER = "Paste the key here"
KEY_FOOTNOTE = ":lock: Aldense's team only ever sees the last 4 characters of your key."


def whole_key(min_length: int, max_length: int) -> str:
    """The form's error for a key of the wrong length."""
    return f"Paste the whole key ({min_length}–{max_length} characters)."


FORM_EXPIRED = f"This form has expired. Close it and click *{ENTER_KEY}* again."
FORM_DID_NOT_OPEN = "Sorry, the form didn't open — please click the button again."
BUTTON_OUTDATED = "This button no longer opens anything. Please use the latest message of your guide."
CHECKING = ":hourglass_flowing_sand: *Checking with Dentally…*"
CHECKING_NOTE = "This usually takes a few seconds. The result also goes to your guide."
STILL_CHECKING = (
    ":hourglass: Still checking with Dentally — the result will appear with your guide in a moment. "
    "You can close this window."
)
CANNOT_ACCEPT_KEYS = (
    ":warning: Aldense can't accept keys just yet — secure storage isn't switched on for this service. Nothing you "
    "type would be kept, so please don't enter your key now. The Aldense team has been told and will let you know "
    "here when it's ready."
)
NO_KEPT_KEY = f"I no longer have that key to check — please click *{USE_ANOTHER_KEY}* and paste it again."
TRY_AGAIN_SOON = "Close this form and try again in a moment."


def not_your_key_form(who: Shown) -> str:
    """For someone who opens the key form of another person's guide."""
    return f"This guide belongs to {who}, so only they can enter its key."


# A key check's result -----------------------------------------------------------------------------------------------

SCOPE_MARK = {
    ScopeStatus.GRANTED: ":white_check_mark:",
    ScopeStatus.MISSING: ":x:",
    ScopeStatus.UNKNOWN: ":grey_question:",
}


def scope_line(check: ScopeCheck) -> str:
    """One required permission with Dentally's tick-box name and ✅ / ❌ / ❔."""
    return f"{SCOPE_MARK[check.status]} {SCOPE_LABELS[check.scope]}"


def where(result: CheckResult, escape: Escape) -> str:
    """``Maple Leaf Dental · UK & Ireland``: the practice (outside text, escaped) and the region, as far as known."""
    parts: list[str] = [escape(result.clinic_name)] if result.clinic_name else []
    if result.region:
        parts.append(region_label(result.region))
    return " · ".join(parts)


def headline(result: CheckResult, escape: Escape) -> str:
    """The verdict in one sentence; ``escape`` is the showing platform's, for the practice name Dentally gave."""
    if result.verdict is Verdict.VERIFIED:
        place = where(result, escape)
        return f":white_check_mark: *Dentally is connected!* The key works{f' ({place})' if place else ''}."
    if result.verdict is Verdict.MISSING_SCOPES:
        return ":x: *The key works, but some permissions weren't ticked.*"
    if result.verdict is Verdict.INVALID_KEY:
        return ":x: *Dentally didn't accept that key.*"
    if result.verdict is Verdict.COULD_NOT_PROVE:
        return ":grey_question: *Dentally answered, but I couldn't prove the key's permissions.*"
    return ":hourglass: *I couldn't check the key with Dentally just yet.*"


RESULT_FALLBACK = {
    Verdict.VERIFIED: "Dentally is connected — the key has every permission Aldense needs.",
    Verdict.MISSING_SCOPES: "The key lacks some permissions Aldense needs.",
    Verdict.INVALID_KEY: "Dentally didn't accept that key.",
    Verdict.COULD_NOT_CHECK: "I couldn't check the key with Dentally yet.",
    Verdict.COULD_NOT_PROVE: "Dentally answered, but I couldn't prove the key's permissions.",
}
"""A result in one line (Slack's notification text)."""

RESULT_WITH_GUIDE = "_The full result is also posted with your guide. You can close this window._"


def could_not_prove_text(result: CheckResult) -> str:
    """What the clinic reads when Dentally's answers prove neither a grant nor a refusal (no markup, any platform).

    Args:
        result: A check whose verdict is ``could_not_prove``.

    Returns:
        Plain text, one numbered step per line where there are steps.
    """
    if result.problem in (Problem.DISAGREEMENT, Problem.INCIDENT):
        return (
            "Dentally's answers about this key don't add up, so I won't call it connected. Nothing you did is "
            "wrong: the Aldense team has been alerted and will look into it with you here."
        )
    unproven = [SCOPE_LABELS[s] for s in result.unknown_scopes] or [SCOPE_LABELS[s] for s in REQUIRED_SCOPES]
    needed = ", ".join(SCOPE_LABELS[s] for s in REQUIRED_SCOPES)
    return (
        f"Dentally answered, but not in a way that proves this key has {', '.join(unproven)}, so I won't call it "
        "connected yet. Please:\n"
        f"1. Make sure the key was made with exactly these ticked: {needed}. Extra ticks (for example any "
        "Patient permission) stop me from proving the others.\n"
        "2. Dentally fixes a key's ticks when it is made, so if you're not sure, generate a new token in "
        f"Settings → Developer with exactly those five ticked, then use {TRY_ANOTHER_KEY} (and revoke the old one).\n"
        f"3. If the ticks were exactly right, use {CHECK_AGAIN}. The Aldense team has been told and can confirm "
        "the connection with you."
    )


REVOKE_WHERE = "Settings → *Developer* → Personal tokens"

SUCCESS_NEXT = (
    "Aldense can now read and manage your appointment book. *What happens next:* nothing more for you to do — "
    "the Aldense team has been told, and I'll let you know in this channel if Dentally ever stops accepting this key. "
    "You can close Dentally's key window now.\n"
    f"If you made any other key while setting this up (an earlier try, or one you didn't finish), revoke it in "
    f"Dentally ({REVOKE_WHERE}) so only this one is in use."
)


def advice_in_brief(result: CheckResult, escape: Escape) -> str:
    """What to do next in whole sentences short enough for the key form; the full steps are with the guide."""
    if result.verdict is Verdict.MISSING_SCOPES:
        return (
            "Dentally fixes a key's permissions when the key is made, so this key can't be changed. The steps to "
            "make a new one are with your guide."
        )
    if result.verdict is Verdict.COULD_NOT_PROVE and result.problem not in (Problem.DISAGREEMENT, Problem.INCIDENT):
        return (
            "Dentally answered, but not in a way that proves this key's permissions, so I won't call it connected "
            "yet. What to do next is with your guide."
        )
    return advice(result, escape).split("\n")[0]


def advice(result: CheckResult, escape: Escape) -> str:
    """What to do next, written for the clinic admin; ``escape`` is the showing platform's.

    The checker's reason for "couldn't check" may quote Dentally's answer, so it is shown as outside text.
    """
    if result.verdict is Verdict.VERIFIED:
        return SUCCESS_NEXT
    if result.verdict is Verdict.MISSING_SCOPES:
        missing = ", ".join(f"*{SCOPE_LABELS[scope]}*" for scope in result.missing_scopes)
        return (
            "Dentally fixes a key's permissions when the key is made, so this key can't be changed. Please:\n"
            "1. In Dentally, open Settings → *Developer* and click *Generate new token*.\n"
            f"2. Tick every permission above, including {missing}.\n"
            f"3. Save, copy the new key and click *{TRY_ANOTHER_KEY}* below.\n"
            "4. Then revoke the old key in the Personal tokens list, so it can't be used."
        )
    if result.verdict is Verdict.INVALID_KEY:
        return (
            "It may have been copied only in part, revoked, or made in another region. Dentally shows a key only "
            "once: if you closed that dialog, generate a new token (Settings → *Developer*), copy it with the "
            f"*Copy* button, and click *{TRY_ANOTHER_KEY}*."
        )
    if result.verdict is Verdict.COULD_NOT_PROVE:
        return could_not_prove_text(result)
    reason = escape(result.reason, 600) if result.reason else "Dentally didn't answer in time."
    return f"{reason} Nothing is wrong with what you did — click *{CHECK_AGAIN}* in a minute or two."


FORGOTTEN = (
    "Hi! The Aldense team asked me to forget this channel's Dentally setup, so I've erased what I kept about it: "
    "everyone's progress through the guide and any Dentally API key entered here. There's nothing you need to do. "
    "If you'd like to connect Dentally again later, just let the Aldense team know."
)
"""Told to a clinic, when staff tick the box, after its data was erased (``bot.core.erasure``)."""


# The clinic's connection ------------------------------------------------------------------------------------------

REPLACE_KEY = "Replace the key"


def moment(at: float) -> str:
    """A moment as every reader can place it: ``1 Dec 2026, 06:30 UTC``."""
    return datetime.fromtimestamp(at, UTC).strftime("%-d %b %Y, %H:%M UTC")


_LOOK_ALIKES = str.maketrans(
    {"<": "‹", ">": "›", "&": "＆", "*": "∗", "_": "ˍ", "`": "ʹ", "~": "∼", "[": "［", "]": "］"}
)


def inert(text: str, limit: int = 80) -> str:
    """Outside text made inert for every platform at once: markup characters become look-alikes, one line, capped.

    For values both Slack and Teams show through the same sentence (the Dentally user and practice of a connection);
    a platform's own ``escape`` is preferred where only one platform shows the text.
    """
    line = " ".join(text.split()).translate(_LOOK_ALIKES)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def connected_as(connection: Connection) -> str:
    """Whose Dentally the key opens and where, as the clinic reads it."""
    return f"{inert(connection.identity.label)}, {region_label(parse_region(connection.key.region))}"


def already_connected(by: str, connection: Connection) -> str:
    """Told on Start in a connected clinic: who connected it and when, nothing to do, and how to replace the key."""
    if connection.state is ConnectionState.NEEDS_NEW_KEY:
        return (
            f":warning: *Dentally was connected by {by} on {moment(connection.connected_at)}*, but Dentally no "
            f"longer accepts that key (`…{connection.fingerprint}`, expired or revoked). Please use *{REPLACE_KEY}* "
            "to enter a new one."
        )
    return (
        f":white_check_mark: *Dentally is already connected for this clinic* — {by} connected it on "
        f"{moment(connection.connected_at)} ({connected_as(connection)}, key `…{connection.fingerprint}`). "
        f"There's nothing for you to do. If you've made a new key on purpose (when rotating keys, say), use "
        f"*{REPLACE_KEY}*."
    )


def already_done(by: str | None, connection: Connection | None) -> str:
    """Told privately for a late click on a button whose moment passed (never a new flow)."""
    if connection is None or by is None:
        return "This is done — that button belongs to an earlier step. Nothing was changed."
    if connection.state is ConnectionState.NEEDS_NEW_KEY:
        return (
            f"That button belongs to an earlier step. Where things stand: Dentally no longer accepts the key "
            f"`…{connection.fingerprint}` (expired or revoked), so a new key is needed — start the guide again and "
            f"choose *{REPLACE_KEY}*."
        )
    return (
        f"This is done — Dentally is connected ({connected_as(connection)}, key `…{connection.fingerprint}`, by "
        f"{by} on {moment(connection.connected_at)}). Nothing was changed. To use a different key, start the guide "
        f"again and choose *{REPLACE_KEY}*."
    )


def closed_result(fingerprint: str | None) -> str:
    """An earlier key result once the clinic is connected: a closed line, no buttons."""
    key = f" for key `…{fingerprint}`" if fingerprint else ""
    return f":heavy_minus_sign: An earlier result{key} — Dentally is now connected, so there's nothing to do here."


CLOSED_REMINDER = ":heavy_minus_sign: An earlier reminder — no longer needed."


def revoke_old_key(fingerprint: str) -> str:
    """After a key replaced the one in use: revoke the old one."""
    return (
        f"This key replaces the one ending `…{fingerprint}`. Please revoke that old key in Dentally "
        f"({REVOKE_WHERE}) so it can't be used any more."
    )


def held_headline(candidate: str, connection: Connection) -> str:
    """A verified key of another practice or user than the connected one: held, nothing changed."""
    return (
        f":hourglass: *The key works, but it's for {candidate}* — and this clinic is already connected to Dentally "
        f"as {connected_as(connection)}. Nothing has changed: the connection stays as it is until the Aldense team "
        "confirms the switch with you here."
    )


def replacement_decided(accepted: bool, fingerprint: str, connection: Connection) -> str:
    """Told in the clinic's channel when Aldense staff accepted or rejected a held key."""
    if accepted:
        old = connection.replaced_fingerprint
        revoke = f" {revoke_old_key(old)}" if old else ""
        return (
            f":white_check_mark: *The Aldense team confirmed the new key* (`…{fingerprint}`): Dentally is now "
            f"connected as {connected_as(connection)}.{revoke}"
        )
    return (
        f":no_entry: *The Aldense team kept the existing connection* ({connected_as(connection)}, key "
        f"`…{connection.fingerprint}`), so the key ending `…{fingerprint}` was not used and has been forgotten. "
        "If that isn't what you expected, reply here and the team will help."
    )


def reset_notice(disconnected: bool, by: str | None, connection: Connection | None) -> str:
    """Told in a thread when Aldense staff reset a guide, saying exactly what was reset."""
    if disconnected:
        return (
            ":leftwards_arrow_with_hook: The Aldense team reset your guide *and this clinic's Dentally connection*: "
            "the stored key is no longer used. To connect again, click *Start Dentally setup*."
        )
    if connection is not None and by is not None:
        return (
            ":leftwards_arrow_with_hook: The Aldense team reset your guide. *Dentally stays connected* "
            f"({connected_as(connection)}, by {by}) — there's nothing you need to do."
        )
    return (
        ":leftwards_arrow_with_hook: The Aldense team reset your guide, so you can start afresh whenever you're "
        "ready — nothing you need to undo. Dentally isn't connected yet: click *Start Dentally setup* to begin."
    )


# A Dentally key pasted into a chat message (the bot listens in the channels where it runs guides).
KEY_EXPOSED = (
    ":rotating_light: That message contains what looks like a Dentally API key (ending `{fingerprint}`). Everyone "
    "in this channel can read it — including people outside your practice — so please treat it as compromised:\n"
    "1. In Dentally, open *Settings → Developer → Personal tokens* and revoke that key.\n"
    "2. Make a new key and give it to me with the private form (the button below): it never appears in the channel.\n"
    "You can also delete your message, but anyone may have seen it already, so revoke the key either way."
)
KEY_EXPOSED_STORED = (
    "This is the key that connects your practice to Aldense. Once you revoke it, Aldense can't reach your "
    "appointment book until a new key has been checked — so please do both steps now."
)
KEY_EXPOSED_BUTTON = "Set up a new key privately"

# Anything else typed in a guide's thread goes to a person at Aldense (support hours come later: say "soon").
QUESTION_FORWARDED = (
    ":speech_balloon: Thanks — I've passed your message to the Aldense team, and a person will answer here soon."
)


def key_exposed(fingerprint: str, stored: bool) -> str:
    """The warning posted under a message that shows a key; ``stored`` when it is the clinic's connected key."""
    text = KEY_EXPOSED.format(fingerprint=fingerprint)
    return f"{text}\n{KEY_EXPOSED_STORED}" if stored else text


# Hand-over: the person in the chat is often not the one with the Dentally admin login.
HAND_OVER_BUTTON = "Someone else has the Dentally login"
TAKE_OVER_BUTTON = "Take over"
HAND_OVER_PICK = "Who has the Dentally admin login? They'll carry on from this step, in this thread."
HAND_OVER_NOT_IN_CHANNEL = "They aren't in this channel, so they can't see the guide. Add them to the channel first."


def handed_over(giver: str, receiver: str, step: str) -> str:
    """Posted in the thread when ``giver`` hands the guide to ``receiver`` (both already shown as people)."""
    return (
        f":handshake: {receiver}, {giver} has handed you the Dentally set-up — please carry on from {step} below. "
        f"{giver} can take it back from any step message."
    )


def taken_over(giver: str, taker: str, step: str) -> str:
    """Posted in the thread when ``taker`` takes over ``giver``'s guide."""
    return (
        f":handshake: {taker} has taken over the Dentally set-up from {giver} at {step}. {giver}, you can take it "
        "back from any step message."
    )
