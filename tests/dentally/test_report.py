"""The check-key command's text report and exit codes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dentally.client import DentallyUser
from dentally.report import exit_code, format_check
from dentally.scopes import (
    REQUIRED_SCOPES,
    SCOPE_LABELS,
    CheckResult,
    Evidence,
    Incident,
    Problem,
    ScopeCheck,
    ScopeStatus,
    Verdict,
)

G, M, U = ScopeStatus.GRANTED, ScopeStatus.MISSING, ScopeStatus.UNKNOWN


def result(verdict: Verdict, statuses: list[ScopeStatus], **fields: Any) -> CheckResult:
    defaults: dict[str, Any] = {
        "region": "uk",
        "region_detected": False,
        "user": DentallyUser(first_name="Priya", last_name="Shah", email="priya@example.test", permission_level=4),
        "clinic_name": "Maple Leaf Dental",
        "requests_made": 6,
        "checked_at": datetime(2026, 3, 2, 10, 30, tzinfo=UTC),
    }
    scopes = tuple(
        ScopeCheck(scope=s, status=st, http_status=404) for s, st in zip(REQUIRED_SCOPES, statuses, strict=True)
    )
    return CheckResult(verdict=verdict, scopes=scopes, **{**defaults, **fields})


@pytest.mark.parametrize(
    ("verdict", "code"),
    [
        (Verdict.VERIFIED, 0),
        (Verdict.MISSING_SCOPES, 1),
        (Verdict.INVALID_KEY, 1),
        (Verdict.COULD_NOT_CHECK, 2),
        (Verdict.COULD_NOT_PROVE, 2),
    ],
)
def test_exit_codes_follow_the_verdict(verdict: Verdict, code: int) -> None:
    assert exit_code(result(verdict, [G] * 5)) == code


def test_a_verified_report_lists_every_scope_and_the_context() -> None:
    text = format_check(result(Verdict.VERIFIED, [G] * 5, region="au", region_detected=True))
    assert text.startswith("Dentally key check: VERIFIED")
    for scope in REQUIRED_SCOPES:
        row = next(line for line in text.splitlines() if f" {scope} " in line)
        assert SCOPE_LABELS[scope] in row
        assert "granted" in row
    assert "Australia & New Zealand (detected)" in text
    assert "Priya Shah <priya@example.test>, permission level 4" in text
    assert "Maple Leaf Dental" in text
    assert "Requests made: 6" in text


def test_a_missing_report_says_which_ticks_a_new_key_needs() -> None:
    text = format_check(result(Verdict.MISSING_SCOPES, [G, G, M, G, M]))
    assert "MISSING PERMISSIONS" in text
    assert text.count("MISSING") == 3  # the headline and two rows
    assert "create a new key" in text
    assert text.splitlines()[-1].endswith("appointment : create, appointment : delete")


def test_a_could_not_check_report_gives_the_reason_and_when_to_retry() -> None:
    text = format_check(
        result(
            Verdict.COULD_NOT_CHECK,
            [G, G, G, G, U],
            problem=Problem.RATE_LIMITED,
            reason="Dentally is rate-limiting this key just now.",
            retry_at=datetime(2026, 3, 2, 11, tzinfo=UTC),
            clinic_name=None,
            user=None,
            oauth_scopes=("user:read", "appointment"),
        )
    )
    assert "COULD NOT CHECK" in text
    assert "not a pass" in text
    assert "Why:           Dentally is rate-limiting this key just now." in text
    assert "Try again at:  2026-03-02 11:00 UTC" in text
    assert "unknown (ask the admin)" in text
    assert "X-OAuth-Scopes: user:read appointment" in text
    assert "Dentally user" not in text


def test_an_incident_is_impossible_to_miss() -> None:
    incident = Incident(method="DELETE", path="/v1/appointments/0", http_status=204)
    text = format_check(result(Verdict.COULD_NOT_PROVE, [G] * 5, problem=Problem.INCIDENT, incident=incident))
    assert "INCIDENT:      DELETE /v1/appointments/0 answered 204 instead of a refusal - tell support now" in text


def test_could_not_prove_is_not_a_pass_and_verbose_shows_proofs_and_evidence() -> None:
    evidence = (
        Evidence(
            name="delete",
            role="probe",
            method="DELETE",
            path="/v1/appointments/0",
            region="uk",
            status=404,
            content_type="application/json",
            excerpt='{"error":"Not found"}',
        ),
        Evidence(
            name="control_delete",
            role="control",
            method="DELETE",
            path="/v1/patients/0",
            region="uk",
            status=403,
            www_authenticate='Bearer error="insufficient_scope"',
        ),
    )
    checked = result(Verdict.COULD_NOT_PROVE, [G, G, G, G, U], problem=Problem.UNPROVEN, evidence=evidence)
    checked = checked.model_copy(
        update={"scopes": (*checked.scopes[:4], checked.scopes[4].model_copy(update={"proof": "because"}))}
    )
    short = format_check(checked)
    assert "COULD NOT PROVE" in short
    assert "not a pass" in short
    assert "not proven" in short
    assert "Evidence" not in short
    text = format_check(checked, verbose=True)
    assert "appointment : delete: because" in text
    assert "[uk] probe         DELETE /v1/appointments/0 -> 404 (application/json)" in text
    assert '      body: {"error":"Not found"}' in text
    assert '      WWW-Authenticate: Bearer error="insufficient_scope"' in text


def test_an_invalid_key_report_has_no_region_when_none_was_found() -> None:
    text = format_check(result(Verdict.INVALID_KEY, [U] * 5, region=None, user=None, reason="No region accepted it."))
    assert "INVALID KEY" in text
    assert "Region:        not found" in text
