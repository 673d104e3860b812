"""Clinic-facing sentences shared by every platform, written once.

Markup here is the small neutral set every renderer understands: ``*bold*``, ```code``` and ``:emoji:`` short codes.
Slack shows it as it is; Teams renders it to Markdown (``bot.teams.cards.markdown``).
"""

from __future__ import annotations

from dentally.scopes import SCOPE_LABELS, CheckResult, Verdict

REGION_CHOICES = (
    ("detect", "Not sure — detect it"),
    ("uk", "UK & Ireland"),
    ("au", "Australia & New Zealand"),
    ("ca", "Canada"),
)


def progress(index: int, total: int) -> str:
    """``Step 3 of 9`` with a small bar."""
    return f"Step {index + 1} of {total}  " + "▰" * (index + 1) + "▱" * (total - index - 1)


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
    reason = result.reason or "Dentally didn't answer in time."
    return f"{reason} Nothing is wrong with what you did — click *Check again* in a minute or two."
