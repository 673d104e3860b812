"""Plain-text rendering of a scope-check result, and the exit code, for the ``check-key`` command."""

from __future__ import annotations

from typing import Final

from dentally.regions import region_label
from dentally.scopes import CheckResult, ScopeStatus, Verdict

__all__ = [
    "EXIT_COULD_NOT_CHECK",
    "EXIT_NOT_USABLE",
    "EXIT_VERIFIED",
    "exit_code",
    "format_check",
    "format_evidence",
]

EXIT_VERIFIED: Final = 0
EXIT_NOT_USABLE: Final = 1
"""Missing scopes or an invalid key: the admin must make a new key."""
EXIT_COULD_NOT_CHECK: Final = 2
"""Dentally or the network got in the way (try again later), or its answers could not prove the scopes."""

_HEADLINES: Final = {
    Verdict.VERIFIED: "VERIFIED: the key has every permission Aldense needs.",
    Verdict.MISSING_SCOPES: "MISSING PERMISSIONS: the key works but lacks some permissions Aldense needs.",
    Verdict.INVALID_KEY: "INVALID KEY: Dentally does not accept this key.",
    Verdict.COULD_NOT_CHECK: "COULD NOT CHECK: Dentally did not let us finish; this is not a pass.",
    Verdict.COULD_NOT_PROVE: "COULD NOT PROVE: Dentally answered, but not in a way that proves the permissions; "
    "this is not a pass.",
}
_MARKS: Final = {ScopeStatus.GRANTED: "granted", ScopeStatus.MISSING: "MISSING", ScopeStatus.UNKNOWN: "not proven"}


def exit_code(result: CheckResult) -> int:
    """The process exit code: 0 verified, 1 missing scopes or invalid key, 2 could not check or could not prove."""
    if result.verdict is Verdict.VERIFIED:
        return EXIT_VERIFIED
    if result.verdict in (Verdict.COULD_NOT_CHECK, Verdict.COULD_NOT_PROVE):
        return EXIT_COULD_NOT_CHECK
    return EXIT_NOT_USABLE


def format_check(result: CheckResult, *, verbose: bool = False) -> str:
    """A per-scope table with the verdict and context, for a terminal.

    Args:
        result: A finished check.
        verbose: Also show how each scope was proven and every request's evidence.

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
    if verbose:
        lines += ["", "How each permission was decided:"]
        lines += [f"  {c.label}: {c.proof or '-'}" for c in result.scopes]
        lines += ["", format_evidence(result)]
    return "\n".join(lines)


def format_evidence(result: CheckResult) -> str:
    """Every request of a check: status, content type, ``WWW-Authenticate`` and the start of an error body.

    Args:
        result: A finished check.

    Returns:
        Lines of plain text for support or a terminal; they hold no key and no clinic record.
    """
    lines = [f"Evidence ({len(result.evidence)} requests):"]
    for row in result.evidence:
        status = str(row.status) if row.status is not None else "no answer"
        where = f"[{row.region}] " if row.region else ""
        line = f"  {where}{row.role:<13} {row.method} {row.path} -> {status}"
        if row.content_type:
            line += f" ({row.content_type})"
        lines.append(line)
        if row.www_authenticate:
            lines.append(f"      WWW-Authenticate: {row.www_authenticate}")
        if row.excerpt:
            lines.append(f"      body: {row.excerpt}")
        if row.note:
            lines.append(f"      {row.note}")
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
        lines.append(f"X-OAuth-Scopes: {' '.join(result.oauth_scopes) or '(empty)'}")
    if result.token_info_scopes is not None:
        lines.append(f"Token info:    {' '.join(result.token_info_scopes) or '(empty)'}")
    if result.reason:
        lines.append(f"Why:           {result.reason}")
    if result.retry_at is not None:
        lines.append(f"Try again at:  {result.retry_at:%Y-%m-%d %H:%M} UTC")
    if result.incident is not None:
        incident = result.incident
        lines.append(
            f"INCIDENT:      {incident.method} {incident.path} answered {incident.http_status} instead of a "
            "refusal - tell support now"
        )
    return lines
