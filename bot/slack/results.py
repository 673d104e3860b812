"""Pure renderers of a key check's result: the thread message, the modal, and support's one-line summary."""

from __future__ import annotations

from typing import Any

from bot.core import copy
from bot.core.copy import advice
from bot.core.key_intake import identity_of
from bot.core.messages import KeyResult, Standing
from bot.slack.blocks import ACTION_ENTER_KEY, Blocks, button, step_value
from bot.slack.modals import message_view
from conversations.connection import Decision
from dentally.regions import region_label
from dentally.report import format_evidence
from dentally.scopes import SCOPE_LABELS, CheckResult, ScopeStatus, Verdict

ACTION_CHECK_AGAIN = "key_check_again"

_MARK = {ScopeStatus.GRANTED: ":white_check_mark:", ScopeStatus.MISSING: ":x:", ScopeStatus.UNKNOWN: ":grey_question:"}


def scope_lines(result: CheckResult) -> str:
    """One line per required permission, with Dentally's tick-box name and ✅ / ❌ / ❔."""
    return "\n".join(f"{_MARK[check.status]} {SCOPE_LABELS[check.scope]}" for check in result.scopes)


def _where(result: CheckResult) -> str:
    parts = [region_label(result.region)] if result.region else []
    if result.clinic_name:
        parts.insert(0, result.clinic_name)
    return " · ".join(parts)


def headline(result: CheckResult) -> str:
    """The verdict in one sentence for the clinic."""
    if result.verdict is Verdict.VERIFIED:
        return f":white_check_mark: *Dentally is connected!* The key works ({_where(result)})."
    if result.verdict is Verdict.MISSING_SCOPES:
        return ":x: *The key works, but some permissions weren't ticked.*"
    if result.verdict is Verdict.INVALID_KEY:
        return ":x: *Dentally didn't accept that key.*"
    if result.verdict is Verdict.COULD_NOT_PROVE:
        return ":grey_question: *Dentally answered, but I couldn't prove the key's permissions.*"
    return ":hourglass: *I couldn't check the key with Dentally just yet.*"


def held_text(result: CheckResult, standing: Standing) -> str:
    """What the person reads when their verified key is held for staff (another practice or user)."""
    return copy.held_headline(identity_of(result).label, standing.connection)


def _standing_note(standing: Standing | None) -> str | None:
    replaced = standing.connection.replaced_fingerprint if standing else None
    if standing is None or standing.decision is not Decision.REPLACE or replaced is None:
        return None
    return copy.revoke_old_key(replaced)


def result_message(
    result: CheckResult, owner: str, key_step_id: str, standing: Standing | None = None
) -> tuple[str, Blocks]:
    """The message posted in the user's thread after a check (a key held for staff says so instead)."""
    if standing is not None and standing.held:
        text = held_text(result, standing)
        return text, [
            {"type": "section", "block_id": "result:headline", "text": _mrkdwn(text)},
            {"type": "section", "block_id": "result:scopes", "text": _mrkdwn(scope_lines(result))},
        ]
    fallback = {
        Verdict.VERIFIED: "Dentally is connected — the key has every permission Aldense needs.",
        Verdict.MISSING_SCOPES: "The key lacks some permissions Aldense needs.",
        Verdict.INVALID_KEY: "Dentally didn't accept that key.",
        Verdict.COULD_NOT_CHECK: "I couldn't check the key with Dentally yet.",
        Verdict.COULD_NOT_PROVE: "Dentally answered, but I couldn't prove the key's permissions.",
    }[result.verdict]
    message: Blocks = [
        {"type": "section", "block_id": "result:headline", "text": {"type": "mrkdwn", "text": headline(result)}},
    ]
    if result.verdict is not Verdict.INVALID_KEY:
        message.append({"type": "section", "block_id": "result:scopes", "text": _mrkdwn(scope_lines(result))})
    message.append({"type": "section", "block_id": "result:advice", "text": _mrkdwn(advice(result))})
    note = _standing_note(standing)
    if note:
        message.append({"type": "section", "block_id": "result:revoke", "text": _mrkdwn(note)})
    buttons = _buttons(result, owner, key_step_id)
    if buttons:
        message.append({"type": "actions", "block_id": "result:actions", "elements": buttons})
    return fallback, message


def _buttons(result: CheckResult, owner: str, key_step_id: str) -> list[dict[str, Any]]:
    value = step_value(owner, key_step_id)
    if result.verdict in (Verdict.MISSING_SCOPES, Verdict.INVALID_KEY):
        return [button("Try another key", ACTION_ENTER_KEY, value, "primary")]
    if result.verdict is Verdict.COULD_NOT_CHECK:
        return [
            button("Check again", ACTION_CHECK_AGAIN, value, "primary"),
            button("Use another key", ACTION_ENTER_KEY, value),
        ]
    if result.verdict is Verdict.COULD_NOT_PROVE:
        return [
            button("Try another key", ACTION_ENTER_KEY, value, "primary"),
            button("Check again", ACTION_CHECK_AGAIN, value),
        ]
    return []


def result_view(shown: KeyResult) -> dict[str, Any]:
    """The modal after a check: the verdict and the per-permission list (or that the key is held for staff)."""
    result, standing = shown.result, shown.standing
    if standing is not None and standing.held:
        body = held_text(result, standing)
    else:
        body = headline(result)
        if result.verdict is not Verdict.INVALID_KEY:
            body += "\n\n" + scope_lines(result)
        body += "\n\n" + advice(result).split("\n")[0]
        note = _standing_note(standing)
        if note:
            body += "\n\n" + note
    return message_view("Dentally key", body + "\n\n_The full result is in your thread._")


def support_summary(result: CheckResult, fingerprint: str) -> str:
    """One line for Aldense's support thread: verdict, region, per-scope marks, fingerprint only."""
    marks = " · ".join(f"{check.scope} {_MARK[check.status]}" for check in result.scopes)
    where = f" ({_where(result)})" if _where(result) else ""
    reason = f" — {result.reason}" if result.reason and result.verdict is not Verdict.VERIFIED else ""
    return f"*{result.verdict.value.replace('_', ' ')}*{where} for key `…{fingerprint}`: {marks}{reason}"


_EVIDENCE_LIMIT = 2900  # a section's text may hold 3,000 characters
_FENCE = "`" * 3


def support_evidence(result: CheckResult) -> str:
    """How each permission was decided and what every request met, for support's thread (never the key).

    Args:
        result: A finished check.

    Returns:
        Slack mrkdwn: one line per permission, then the evidence in a code block, cut to fit one section.
    """
    proofs = "\n".join(f"• {SCOPE_LABELS[c.scope]}: {c.proof or '-'}" for c in result.scopes)
    evidence = format_evidence(result).replace("`", "'")
    room = _EVIDENCE_LIMIT - len(proofs) - 60
    if len(evidence) > room:
        evidence = evidence[: max(0, room)] + "\n… (cut)"
    return f"*How each permission was decided*\n{proofs}\n{_FENCE}{evidence}{_FENCE}"


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}
