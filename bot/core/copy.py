"""Clinic-facing sentences shared by every platform, written once.

Markup here is the small neutral set every renderer understands: ``*bold*``, ```code``` and ``:emoji:`` short codes.
Slack shows it as it is; Teams renders it to Markdown (``bot.teams.cards.markdown``).
"""

from __future__ import annotations

from dentally.scopes import REQUIRED_SCOPES, SCOPE_LABELS, CheckResult, Problem, Verdict

REGION_CHOICES = (
    ("detect", "Not sure — detect it"),
    ("uk", "UK & Ireland"),
    ("au", "Australia & New Zealand"),
    ("ca", "Canada"),
)


def progress(index: int, total: int) -> str:
    """``Step 3 of 9`` with a small bar."""
    return f"Step {index + 1} of {total}  " + "▰" * (index + 1) + "▱" * (total - index - 1)


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
        "Settings → Developer with exactly those five ticked, then use Try another key (and revoke the old one).\n"
        "3. If the ticks were exactly right, use Check again. The Aldense team has been told and can confirm "
        "the connection with you."
    )


def advice(result: CheckResult) -> str:
    """What to do next, written for the clinic admin."""
    if result.verdict is Verdict.VERIFIED:
        return "Aldense can now read and manage your appointment book. Thank you — there's nothing more to do."
    if result.verdict is Verdict.MISSING_SCOPES:
        missing = ", ".join(f"*{SCOPE_LABELS[scope]}*" for scope in result.missing_scopes)
        return (
            "Dentally fixes a key's permissions when the key is made, so this key can't be changed. Please:\n"
            "1. In Dentally, open Settings → *Developer* and click *Generate new token*.\n"
            f"2. Tick every permission above, including {missing}.\n"
            "3. Save, copy the new key and click *Try another key* below.\n"
            "4. Then revoke the old key in the Personal tokens list, so it can't be used."
        )
    if result.verdict is Verdict.INVALID_KEY:
        return (
            "It may have been copied only in part, revoked, or made in another region. Dentally shows a key only "
            "once: if you closed that dialog, generate a new token (Settings → *Developer*), copy it with the "
            "*Copy* button, and click *Try another key*."
        )
    if result.verdict is Verdict.COULD_NOT_PROVE:
        return could_not_prove_text(result)
    reason = result.reason or "Dentally didn't answer in time."
    return f"{reason} Nothing is wrong with what you did — click *Check again* in a minute or two."


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


def not_your_guide(owner: str) -> str:
    """Told privately to someone who clicks another person's guide (``owner`` already shown as a person)."""
    return (
        f"This guide belongs to {owner}. If you have the Dentally login, take it over (they'll be told), or start "
        "your own guide."
    )
