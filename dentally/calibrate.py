"""``dentally-calibrate``: how a real Dentally answers every probe and control, learnt from two keys of one account.

An engineer with a Dentally account makes two keys: one with User Read only, one with the five scopes Aldense
needs. Every request a check may send goes out with both, read-only and changing nothing (the same probes as a
check), and the answers are compared: what a refusal looks like, whether each route shape checks the scope before
looking records up or reading the body, whether Dentally introspects, and whether ``PATCH`` or only ``PUT`` is
routed. The real checker then runs with both keys, which must come out "missing" and "verified".
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from pydantic import SecretStr

from dentally.client import ClientFactory
from dentally.outcome import CheckResult, Verdict
from dentally.probes import PROBES
from dentally.proof import Kind, Seen
from dentally.regions import RegionId, region_label
from dentally.report import format_evidence
from dentally.scopes import ScopeChecker, exchange

__all__ = ["Profile", "calibrate", "format_profile"]

_SHAPES: Final = (
    ("GET collection (appointments index)", "read"),
    ("POST collection (create)", "create"),
    ("PATCH member (update)", "update_patch"),
    ("PUT member (update)", "update_put"),
    ("DELETE member (delete)", "delete"),
)


@dataclass(frozen=True, slots=True)
class Profile:
    """What one calibration learnt."""

    region: RegionId
    narrow: Mapping[str, Seen]
    """Every request's answer for the key with User Read only."""
    full: Mapping[str, Seen]
    """Every request's answer for the key with the five scopes."""
    narrow_check: CheckResult
    full_check: CheckResult

    @property
    def as_expected(self) -> bool:
        """Whether the checker called the narrow key "missing" and the full key "verified"."""
        return self.narrow_check.verdict is Verdict.MISSING_SCOPES and self.full_check.verdict is Verdict.VERIFIED


async def calibrate(clients: ClientFactory, region: RegionId, narrow: SecretStr, full: SecretStr) -> Profile:
    """Send every probe and control with both keys, then run the real checker with each.

    Args:
        clients: Region clients (the real hosts, or an override for a sandbox).
        region: The account's region.
        narrow: A key with User Read only.
        full: A key with the five scopes Aldense needs.

    Returns:
        The answers and both checks; nothing here can change or read clinic data.
    """

    async def everything(token: SecretStr) -> dict[str, Seen]:
        client = clients.for_region(region, token)
        names = list(PROBES)
        answers = await asyncio.gather(*(exchange(client, PROBES[name]) for name in names))
        return dict(zip(names, answers, strict=True))

    narrow_answers, full_answers = await asyncio.gather(everything(narrow), everything(full))
    checker = ScopeChecker(clients)
    narrow_check, full_check = await asyncio.gather(checker.check(narrow, region), checker.check(full, region))
    return Profile(region, narrow_answers, full_answers, narrow_check, full_check)


def format_profile(profile: Profile) -> str:
    """The behaviour profile as plain text: refusal shape, order per route shape, introspection, PATCH vs PUT.

    Args:
        profile: A finished calibration.

    Returns:
        Lines of text without the keys.
    """
    narrow, full = profile.narrow, profile.full
    lines = [f"Dentally behaviour profile — {region_label(profile.region)}", ""]
    lines.append(f"Keys accepted: User Read key {_status(narrow['user'])}, five-scope key {_status(full['user'])}")
    lines += ["", "Introspection:"]
    lines.append(f"  X-OAuth-Scopes: {_header(narrow)} (User Read key); {_header(full)} (five-scope key)")
    lines.append(f"  GET /oauth/token/info: {_token_info(narrow['token_info'])} / {_token_info(full['token_info'])}")
    lines += ["", "Refusal shape (User Read key, appointment writes it may not do):"]
    for label, name in _SHAPES[1:]:
        lines.append(f"  {label}: {_describe(narrow[name])}")
    lines += ["", "Scope-check order per route shape (User Read key vs five-scope key):"]
    for label, name in _SHAPES:
        lines.append(f"  {label}: {_order(narrow[name], full[name])}")
    lines += ["", "Controls on patients (neither key may touch patients; a refusal calibrates the probes):"]
    for name in ("control_create", "control_patch", "control_put", "control_delete", "control_read"):
        seen = full[name]
        verdict = "refused — calibrates" if seen.kind is Kind.REFUSED else "NOT refused — cannot calibrate"
        lines.append(f"  {seen.probe.shown}: {_describe(seen)} ({verdict})")
    lines += ["", f"PATCH vs PUT: {_patch_or_put(narrow, full)}"]
    lines.append(
        f"User Read via GET /v1/users: {_status(narrow['users'])} / {_status(full['users'])} "
        "(GET /v1/user cannot show whether it is gated: both keys hold User Read)"
    )
    lines += ["", "The checker with each key:"]
    lines.append(f"  User Read key: {profile.narrow_check.verdict.value} (expected missing_scopes)")
    lines.append(f"  five-scope key: {profile.full_check.verdict.value} (expected verified)")
    if profile.as_expected:
        lines.append("  As expected: the checker proves both keys on this Dentally.")
    else:
        lines.append("  NOT as expected: read the evidence below before going live, and tell the team.")
        lines.append(f"  Why: {profile.full_check.reason or profile.narrow_check.reason or '-'}")
    for title, check in (("User Read key", profile.narrow_check), ("five-scope key", profile.full_check)):
        lines += ["", f"{title} — how each permission was decided:"]
        lines += [f"  {c.label}: {c.proof or '-'}" for c in check.scopes]
        lines.append(format_evidence(check))
    return "\n".join(lines)


def _status(seen: Seen) -> str:
    return str(seen.status) if seen.status is not None else seen.kind.value


def _describe(seen: Seen) -> str:
    r = seen.response
    if r is None:
        return f"no answer ({seen.detail or seen.kind.value})"
    parts = [str(r.status_code), r.content_type or "no content type", "empty body" if not r.text.strip() else "body"]
    if r.www_authenticate:
        parts.append(f"WWW-Authenticate: {r.www_authenticate[:120]}")
    if r.is_insufficient_scope:
        parts.append("names insufficient_scope")
    if r.is_rate_limited:
        parts.append("RATE LIMITED — run again later")
    return ", ".join(parts)


def _header(answers: Mapping[str, Seen]) -> str:
    for seen in answers.values():
        if seen.response is not None and "x-oauth-scopes" in seen.response.headers:
            raw = seen.response.headers["x-oauth-scopes"]
            separator = "commas" if "," in raw else "spaces"
            return f"present ({separator}): {raw}"
    return "absent"


def _token_info(seen: Seen) -> str:
    body = seen.response.body if seen.response is not None else None
    if seen.kind is Kind.OK and isinstance(body, Mapping) and "scope" in body:
        return f"available, scope {body['scope']!r}"
    return f"not available ({_status(seen)})"


def _order(narrow: Seen, full: Seen) -> str:
    shown = f"{_status(narrow)} vs {_status(full)}"
    if narrow.kind is Kind.REFUSED and full.kind is not Kind.REFUSED:
        return f"{shown}: the scope is checked first"
    if narrow.status == full.status:
        return f"{shown}: the same with and without the scope (checked after lookup/validation, or 404-for-forbidden)"
    return f"{shown}: unclear"


def _patch_or_put(narrow: Mapping[str, Seen], full: Mapping[str, Seen]) -> str:
    patch = narrow["update_patch"].kind is Kind.REFUSED or narrow["update_patch"].status != full["update_patch"].status
    put = narrow["update_put"].kind is Kind.REFUSED or narrow["update_put"].status != full["update_put"].status
    if patch and put:
        return "both routed"
    if put:
        return "only PUT behaves as routed (PATCH looks unrouted)"
    if patch:
        return "only PATCH behaves as routed"
    return "neither shows a scope check (see the order above)"
