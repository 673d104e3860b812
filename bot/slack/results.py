"""Pure renderers of a key check's result: the thread message, the modal, and support's one-line summary."""

from __future__ import annotations

from typing import Any

from bot.core import copy
from bot.core.key_intake import identity_of
from bot.core.messages import KeyResult, Standing
from bot.slack.blocks import ACTION_ENTER_KEY, Blocks, button, step_value
from bot.slack.modals import message_view
from bot.slack.mrkdwn import escape
from conversations.connection import Decision
from dentally.report import format_evidence
from dentally.scopes import SCOPE_LABELS, CheckResult, Verdict

ACTION_CHECK_AGAIN = "key_check_again"


def scope_lines(result: CheckResult) -> str:
    """One line per required permission, with Dentally's tick-box name and ✅ / ❌ / ❔."""
    return "\n".join(copy.scope_line(check) for check in result.scopes)


def headline(result: CheckResult) -> str:
    """The verdict in one sentence for the clinic."""
    return copy.headline(result, escape)


def held_text(result: CheckResult, standing: Standing) -> str:
    """What the person reads when their verified key is held for staff (another practice or user)."""
    return copy.held_headline(escape(identity_of(result).label), standing.connection)


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
    message: Blocks = [
        {"type": "section", "block_id": "result:headline", "text": {"type": "mrkdwn", "text": headline(result)}},
    ]
    if result.verdict is not Verdict.INVALID_KEY:
        message.append({"type": "section", "block_id": "result:scopes", "text": _mrkdwn(scope_lines(result))})
    message.append({"type": "section", "block_id": "result:advice", "text": _mrkdwn(copy.advice(result, escape))})
    note = _standing_note(standing)
    if note:
        message.append({"type": "section", "block_id": "result:revoke", "text": _mrkdwn(note)})
    buttons = _buttons(result, owner, key_step_id)
    if buttons:
        message.append({"type": "actions", "block_id": "result:actions", "elements": buttons})
    return copy.RESULT_FALLBACK[result.verdict], message


def _buttons(result: CheckResult, owner: str, key_step_id: str) -> list[dict[str, Any]]:
    value = step_value(owner, key_step_id)
    if result.verdict in (Verdict.MISSING_SCOPES, Verdict.INVALID_KEY):
        return [button(copy.TRY_ANOTHER_KEY, ACTION_ENTER_KEY, value, "primary")]
    if result.verdict is Verdict.COULD_NOT_CHECK:
        return [
            button(copy.CHECK_AGAIN, ACTION_CHECK_AGAIN, value, "primary"),
            button(copy.USE_ANOTHER_KEY, ACTION_ENTER_KEY, value),
        ]
    if result.verdict is Verdict.COULD_NOT_PROVE:
        return [
            button(copy.TRY_ANOTHER_KEY, ACTION_ENTER_KEY, value, "primary"),
            button(copy.CHECK_AGAIN, ACTION_CHECK_AGAIN, value),
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
        body += "\n\n" + copy.advice_in_brief(result, escape)
        note = _standing_note(standing)
        if note:
            body += "\n\n" + note
    return message_view(copy.KEY_TITLE, body + "\n\n" + copy.RESULT_WITH_GUIDE)


def support_summary(result: CheckResult, fingerprint: str) -> str:
    """One line for Aldense's support thread: verdict, region, per-scope marks, fingerprint only."""
    marks = " · ".join(f"{check.scope} {copy.SCOPE_MARK[check.status]}" for check in result.scopes)
    place = copy.where(result, escape)
    where = f" ({place})" if place else ""
    # The reason is the checker's, but it may quote Dentally's answers: shown as outside text.
    reason = f" — {escape(result.reason, 600)}" if result.reason and result.verdict is not Verdict.VERIFIED else ""
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
    proofs = "\n".join(f"• {SCOPE_LABELS[c.scope]}: {escape(c.proof or '-', 300)}" for c in result.scopes)
    room = max(1, _EVIDENCE_LIMIT - len(proofs) - 60)
    # Dentally's words (practice name, error excerpts) are in there: Slack reads <!channel> even in a code block.
    evidence = escape(format_evidence(result).replace("`", "'"), room, one_line=False)
    return f"*How each permission was decided*\n{proofs}\n{_FENCE}{evidence}{_FENCE}"


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}
