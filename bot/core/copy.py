"""Clinic-facing sentences shared by every platform, written once.

Markup here is the small neutral set every renderer understands: ``*bold*``, ```code``` and ``:emoji:`` short codes.
Slack shows it as it is; Teams renders it to Markdown (``bot.teams.cards.markdown``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from conversations.connection import Connection, ConnectionState
from dentally.regions import parse_region, region_label
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


# The clinic's connection ------------------------------------------------------------------------------------------

REVOKE_WHERE = "Settings → *Developer* → Personal tokens"
REPLACE_KEY = "Replace the key"


def moment(at: float) -> str:
    """A moment as every reader can place it: ``1 Dec 2026, 06:30 UTC``."""
    return datetime.fromtimestamp(at, UTC).strftime("%-d %b %Y, %H:%M UTC")


def connected_as(connection: Connection) -> str:
    """Whose Dentally the key opens and where, as the clinic reads it."""
    return f"{connection.identity.label}, {region_label(parse_region(connection.key.region))}"


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
