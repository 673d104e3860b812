"""Pure renderers of a key check's result: the thread message, the modal, and support's one-line summary."""

from __future__ import annotations

from typing import Any

from bot.blocks import ACTION_ENTER_KEY, Blocks, button, step_value
from bot.views import message_view
from dentally.regions import region_label
from dentally.report import format_evidence
from dentally.scopes import REQUIRED_SCOPES, SCOPE_LABELS, CheckResult, Problem, ScopeStatus, Verdict

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


def result_message(result: CheckResult, owner: str, key_step_id: str) -> tuple[str, Blocks]:
    """The message posted in the user's thread after a check."""
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


def result_view(result: CheckResult) -> dict[str, Any]:
    """The modal after a check: the verdict and the per-permission list."""
    body = headline(result)
    if result.verdict is not Verdict.INVALID_KEY:
        body += "\n\n" + scope_lines(result)
    body += "\n\n" + advice(result).split("\n")[0] + "\n\n_The full result is in your thread._"
    return message_view("Dentally key", body)


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
