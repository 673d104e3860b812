"""Plain-text rendering of a scope-check result, and the exit code, for the ``check-key`` command."""

from __future__ import annotations

from typing import Final

from dentally.regions import region_label
from dentally.scopes import CheckResult, ScopeStatus, Verdict

__all__ = ["EXIT_COULD_NOT_CHECK", "EXIT_NOT_USABLE", "EXIT_VERIFIED", "exit_code", "format_check"]

EXIT_VERIFIED: Final = 0
EXIT_NOT_USABLE: Final = 1
"""Missing scopes or an invalid key: the admin must make a new key."""
EXIT_COULD_NOT_CHECK: Final = 2
"""Dentally or the network got in the way: try again later."""

_HEADLINES: Final = {
    Verdict.VERIFIED: "VERIFIED: the key has every permission Aldense needs.",
    Verdict.MISSING_SCOPES: "MISSING PERMISSIONS: the key works but lacks some permissions Aldense needs.",
    Verdict.INVALID_KEY: "INVALID KEY: Dentally does not accept this key.",
    Verdict.COULD_NOT_CHECK: "COULD NOT CHECK: Dentally did not let us finish; this is not a pass.",
}
_MARKS: Final = {ScopeStatus.GRANTED: "granted", ScopeStatus.MISSING: "MISSING", ScopeStatus.UNKNOWN: "unknown"}


def exit_code(result: CheckResult) -> int:
    """The process exit code for a result: 0 verified, 1 missing scopes or invalid key, 2 could not check."""
    if result.verdict is Verdict.VERIFIED:
        return EXIT_VERIFIED
    if result.verdict is Verdict.COULD_NOT_CHECK:
        return EXIT_COULD_NOT_CHECK
    return EXIT_NOT_USABLE


def format_check(result: CheckResult) -> str:
    """A per-scope table with the verdict and context, for a terminal.

    Args:
        result: A finished check.

    Returns:
        Several lines of plain text without a trailing newline; it never contains the key.
    """
    lines = [f"Dentally key check: {_HEADLINES[result.verdict]}", ""]
    rows = [("Permission", "Scope", "Result", "HTTP")]
    rows += [
        (check.label, check.scope, _MARKS[check.status], "-" if check.http_status is None else str(check.http_status))
        for check in result.scopes
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for label, scope, mark, status in rows:
        lines.append(f"  {label:<{widths[0]}}  {scope:<{widths[1]}}  {mark:<{widths[2]}}  {status}")
    lines.append("")
    lines += _context(result)
    if result.missing_scopes:
        lines += [
            "",
            "Dentally fixes a key's permissions when it is made, so ask the admin to create a new key with these",
            "ticked and revoke the old one: "
            + ", ".join(c.label for c in result.scopes if c.status is ScopeStatus.MISSING),
        ]
    return "\n".join(lines)


def _context(result: CheckResult) -> list[str]:
    region = region_label(result.region) if result.region else "not found"
    if result.region and result.region_detected:
        region += " (detected)"
    lines = [f"Region:        {region}"]
    if result.user is not None:
        who = result.user.name or "(no name)"
        if result.user.email:
            who += f" <{result.user.email}>"
        if result.user.permission_level is not None:
            who += f", permission level {result.user.permission_level}"
        lines.append(f"Dentally user: {who}")
    lines.append(f"Clinic:        {result.clinic_name or 'unknown (ask the admin)'}")
    lines.append(f"Requests made: {result.requests_made}")
    if result.oauth_scopes is not None:
        agrees = "agrees with the probes" if result.scopes_header_agrees else "DISAGREES with the probes"
        lines.append(f"X-OAuth-Scopes: {' '.join(result.oauth_scopes) or '(empty)'} ({agrees})")
    if result.reason:
        lines.append(f"Why:           {result.reason}")
    if result.retry_at is not None:
        lines.append(f"Try again at:  {result.retry_at:%Y-%m-%d %H:%M} UTC")
    if result.incident is not None:
        incident = result.incident
        lines.append(
            f"INCIDENT:      {incident.method} {incident.path} answered {incident.http_status}; "
            f"appointment {incident.appointment_id or '?'} "
            + ("deleted again" if incident.cleaned_up else "NOT deleted - tell support now")
        )
    return lines
