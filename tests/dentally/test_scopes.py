"""The scope checker against the sandbox on loopback (and a few shapes only a mock transport can produce)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from dentally.client import ClientFactory
from dentally.regions import Endpoints
from dentally.sandbox import Sandbox, SandboxKey, switches_for
from dentally.scopes import (
    MAX_REQUESTS,
    REQUIRED_SCOPES,
    CheckResult,
    Problem,
    ScopeCheck,
    ScopeChecker,
    ScopeStatus,
    Verdict,
)
from tests.dentally.conftest import FakeClock, secret

MakeChecker = Callable[..., ScopeChecker]
G, M, U = ScopeStatus.GRANTED, ScopeStatus.MISSING, ScopeStatus.UNKNOWN
BOTH_ROUNDS = 14
"""Five reads, then four write probes and five controls."""


def statuses(result: CheckResult) -> list[ScopeStatus]:
    return [c.status for c in result.scopes]


def assert_counted(result: CheckResult, sandbox: Sandbox, limit: int = MAX_REQUESTS) -> None:
    """The result's request count is what the sandbox really saw, within the budget, and nothing was touched."""
    assert result.requests_made == len(sandbox.requests)
    assert result.requests_made <= limit
    assert sandbox.counts.writes == 0
    assert sandbox.counts.records_served == 0


async def test_a_key_with_every_scope_is_verified_in_two_rounds_touching_nothing(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    before = dict(sandbox.appointments)
    result = await make_checker().check(secret(keys["all_scopes"]), "uk")

    assert result.verdict is Verdict.VERIFIED
    assert statuses(result) == [G] * 5
    assert (result.region, result.region_detected) == ("uk", False)
    assert result.user is not None
    assert (result.user.name, result.user.email, result.user.permission_level) == (
        "Priya Shah",
        "priya.shah@mapleleaf-dental.example",
        4,
    )
    assert result.clinic_name == "Maple Leaf Dental"
    assert (result.problem, result.reason, result.incident) == (None, None, None)
    assert (result.oauth_scopes, result.token_info_scopes) == (None, None)
    assert result.requests_made == BOTH_ROUNDS
    assert_counted(result, sandbox)
    assert sandbox.appointments == before
    assert sorted((r.method, r.path) for r in sandbox.requests) == [
        ("DELETE", "/uk/v1/appointments/0"),
        ("DELETE", "/uk/v1/patients/0"),
        ("GET", "/uk/oauth/token/info"),
        ("GET", "/uk/v1/appointments"),
        ("GET", "/uk/v1/patients/0"),
        ("GET", "/uk/v1/practice"),
        ("GET", "/uk/v1/user"),
        ("GET", "/uk/v1/users"),
        ("PATCH", "/uk/v1/appointments/0"),
        ("PATCH", "/uk/v1/patients/0"),
        ("POST", "/uk/v1/appointments"),
        ("POST", "/uk/v1/patients"),
        ("PUT", "/uk/v1/appointments/0"),
        ("PUT", "/uk/v1/patients/0"),
    ]
    # The read probe asks for one minute in the year 2000: certain to be empty, whatever is in the diary now.
    (index,) = [r for r in sandbox.requests if r.path == "/uk/v1/appointments" and r.method == "GET"]
    assert index.query == "after=2000-01-01T00%3A00%3A00Z&before=2000-01-01T00%3A01%3A00Z&per_page=1"
    proofs = {c.scope: c.proof for c in result.scopes}
    assert proofs["user:read"] == "GET /v1/users → 200"
    assert proofs["appointment:create"] == "POST /v1/appointments {} → 400 after control POST /v1/patients {} → 403"


@pytest.mark.parametrize("missing", REQUIRED_SCOPES)
async def test_each_missing_scope_is_named_and_only_that_one(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey], missing: str
) -> None:
    result = await make_checker().check(secret(keys[f"missing_{missing.replace(':', '_')}"]), "uk")

    assert result.verdict is Verdict.MISSING_SCOPES
    assert result.missing_scopes == (missing,)
    assert [c.scope for c in result.scopes if c.status is G] == [s for s in REQUIRED_SCOPES if s != missing]
    assert (result.user is None) == (missing == "user:read")
    assert result.clinic_name == "Maple Leaf Dental"
    assert_counted(result, sandbox)


async def test_a_bare_appointment_scope_grants_all_four_appointment_scopes(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    result = await make_checker().check(secret(keys["bare_appointment"]), "uk")
    assert result.verdict is Verdict.VERIFIED
    assert_counted(result, sandbox)


async def test_a_read_only_key_misses_the_three_write_scopes(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    result = await make_checker().check(secret(keys["read_only"]), "uk")
    assert result.verdict is Verdict.MISSING_SCOPES
    assert statuses(result) == [G, G, M, M, M]
    assert_counted(result, sandbox)


@pytest.mark.parametrize("style", ["space", "comma"])
async def test_the_scopes_header_decides_and_no_write_is_sent(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey], style: str
) -> None:
    sandbox.switches.scopes_header = style  # type: ignore[assignment]
    result = await make_checker().check(secret(keys["read_only"]), "uk")
    assert result.verdict is Verdict.MISSING_SCOPES
    assert statuses(result) == [G, G, M, M, M]
    assert result.oauth_scopes == ("user:read", "appointment:read", "practice:read")
    assert {r.method for r in sandbox.requests} == {"GET"}
    assert result.requests_made == 5
    assert "X-OAuth-Scopes does not list it" in (result.scopes[2].proof or "")


async def test_token_info_decides_and_is_recorded(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    sandbox.switches.token_info = True
    result = await make_checker().check(secret(keys["bare_appointment"]), "uk")
    assert result.verdict is Verdict.VERIFIED
    assert result.token_info_scopes == ("user:read", "appointment", "practice:read")
    assert {r.method for r in sandbox.requests} == {"GET"}


async def test_an_over_granted_key_cannot_be_proven_without_introspection(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    result = await make_checker().check(secret(keys["over_granted"]), "uk")
    assert result.verdict is Verdict.COULD_NOT_PROVE
    assert result.problem is Problem.UNPROVEN
    assert statuses(result) == [G, G, U, U, U]
    assert result.reason is not None
    assert "appointment : create, appointment : update, appointment : delete" in result.reason
    assert "was not refused" in (result.scopes[3].proof or "")
    assert_counted(result, sandbox)


async def test_patch_left_unrouted_is_proven_with_put(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    sandbox.switches.patch_unrouted = True
    result = await make_checker().check(secret(keys["all_scopes"]), "uk")
    assert result.verdict is Verdict.VERIFIED
    assert "PUT /v1/appointments/0 {} → 404 after control PUT /v1/patients/0 {} → 403" in (result.scopes[3].proof or "")


async def test_an_ungated_v1_user_does_not_prove_user_read(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    sandbox.switches.ungated_user = True
    result = await make_checker().check(secret(keys["missing_user_read"]), "uk")
    assert result.verdict is Verdict.MISSING_SCOPES
    assert result.missing_scopes == ("user:read",)
    assert result.user is not None  # /v1/user answered, but only /v1/users decides
    assert "GET /v1/users → 403" in (result.scopes[0].proof or "")


@pytest.mark.parametrize(
    ("modes", "unprovable"),
    [
        (["lookup-first"], ("appointment:update", "appointment:delete")),
        (["validate-first"], ("appointment:create", "appointment:update")),
        (["404-for-forbidden"], REQUIRED_SCOPES[2:]),
    ],
)
async def test_a_dentally_that_checks_scopes_late_never_gives_a_false_verdict(
    make_checker: MakeChecker,
    sandbox: Sandbox,
    keys: dict[str, SandboxKey],
    modes: list[str],
    unprovable: tuple[str, ...],
) -> None:
    sandbox.reset(switches_for(modes))
    for scope in REQUIRED_SCOPES[2:]:
        result = await make_checker().check(secret(keys[f"missing_{scope.replace(':', '_')}"]), "uk")
        if scope in unprovable:
            # The control of this route shape was not refused, so the probe's answer proves nothing.
            assert result.verdict is Verdict.COULD_NOT_PROVE, (scope, result.scopes)
            assert result.problem is Problem.UNPROVEN
        else:
            assert result.missing_scopes == (scope,)
        assert all(c.status is not G for c in result.scopes if c.scope in unprovable)


@pytest.mark.parametrize("key", ["unknown", "expired"])
async def test_an_unknown_or_expired_key_is_invalid_after_asking_the_other_regions(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey], key: str
) -> None:
    token = SecretStr("x" * 43) if key == "unknown" else secret(keys["expired"])
    result = await make_checker().check(token, "uk")
    assert result.verdict is Verdict.INVALID_KEY
    assert result.problem is Problem.KEY_REJECTED
    assert statuses(result) == [U] * 5
    assert (result.user, result.clinic_name) == (None, None)
    assert_counted(result, sandbox)
    # The first, read-only round, then /v1/user in the two other regions: no write, no retry, no sites.
    assert result.requests_made == 7
    assert {r.region for r in sandbox.requests} == {"uk", "au", "ca"}
    assert {r.method for r in sandbox.requests} == {"GET"}


async def test_detect_asks_every_region_at_once_and_finds_an_au_key(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    result = await make_checker().check(secret(keys["au_all_scopes"]), "detect")

    assert result.verdict is Verdict.VERIFIED
    assert (result.region, result.region_detected) == ("au", True)
    assert result.clinic_name == "Harbourside Dental Studio"
    assert sorted((r.path, r.status) for r in sandbox.requests[:3]) == [
        ("/au/v1/user", 200),
        ("/ca/v1/user", 401),
        ("/uk/v1/user", 401),
    ]
    assert all(r.region == "au" for r in sandbox.requests[3:])
    assert result.requests_made == 3 + 4 + 9
    assert_counted(result, sandbox, limit=20)


async def test_detect_with_a_key_no_region_knows_is_invalid_after_three_requests(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    result = await make_checker().check(secret(keys["expired"]), "detect")
    assert result.verdict is Verdict.INVALID_KEY
    assert result.region is None
    assert sorted(r.path for r in sandbox.requests) == ["/au/v1/user", "/ca/v1/user", "/uk/v1/user"]
    assert result.reason is not None
    assert "Australia & New Zealand" in result.reason
    assert_counted(result, sandbox)


async def test_a_rate_limited_probe_waits_for_the_reset_and_recovers(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey], clock: FakeClock
) -> None:
    # Half a second before the hourly window ends, with a budget one short of the two rounds.
    clock.set(datetime(2026, 3, 2, 10, 59, 59, 500_000, tzinfo=UTC))
    sandbox.switches.rate_limit = BOTH_ROUNDS - 1

    result = await make_checker().check(secret(keys["all_scopes"]), "uk")

    assert result.verdict is Verdict.VERIFIED
    assert clock.sleeps == [0.5]
    assert [r.status for r in sandbox.requests].count(403) == 1 + 5  # the throttled one, and the refused controls
    assert result.requests_made == BOTH_ROUNDS + 1
    assert_counted(result, sandbox)


async def test_a_rate_limit_blip_with_budget_left_is_retried_after_the_capped_wait(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey], clock: FakeClock
) -> None:
    sandbox.switches = sandbox.switches.model_copy(update={"rate_limit_blips": 1, "fault_target": "DELETE"})
    result = await make_checker(max_rate_limit_wait=1.5).check(secret(keys["all_scopes"]), "uk")
    assert result.verdict is Verdict.VERIFIED
    # The reset is half an hour away, so the wait is the cap, not the reset.
    assert clock.sleeps == [1.5]
    assert [r.method for r in sandbox.requests].count("DELETE") == 3
    assert_counted(result, sandbox)


@pytest.mark.parametrize("text_plain", [False, True], ids=["json", "text-plain"])
async def test_rate_limited_twice_is_could_not_check_never_missing(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey], clock: FakeClock, text_plain: bool
) -> None:
    sandbox.switches = sandbox.switches.model_copy(
        update={"rate_limit_blips": 2, "fault_target": "DELETE /v1/appointments", "text_rate_limits": text_plain}
    )
    result = await make_checker().check(secret(keys["missing_appointment_delete"]), "uk")

    assert result.verdict is Verdict.COULD_NOT_CHECK
    assert result.problem is Problem.RATE_LIMITED
    assert statuses(result) == [G, G, G, G, U]
    # Dentally's text/plain refusal carries no reset time; the JSON one does.
    assert result.retry_at == (None if text_plain else datetime(2026, 3, 2, 11, tzinfo=UTC))
    assert clock.sleeps == [2.0]
    assert_counted(result, sandbox)


@pytest.mark.parametrize("text_plain", [False, True], ids=["json", "text-plain"])
async def test_a_spent_hourly_budget_is_could_not_check_within_the_budget(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey], clock: FakeClock, text_plain: bool
) -> None:
    sandbox.switches.rate_limit = 0
    sandbox.switches.text_rate_limits = text_plain
    result = await make_checker().check(secret(keys["missing_appointment_delete"]), "uk")
    assert result.verdict is Verdict.COULD_NOT_CHECK
    assert result.problem is Problem.RATE_LIMITED
    assert M not in statuses(result)
    assert result.reason is not None
    assert ("11:00 UTC" in result.reason) is not text_plain
    assert_counted(result, sandbox)
    # Writes wait for a Dentally that answers: nothing but the reads and their retries went out.
    assert {r.method for r in sandbox.requests} == {"GET"}


@pytest.mark.parametrize(("target", "unknown"), [("", [U] * 5), ("DELETE /v1/appointments", [G, G, G, G, U])])
async def test_server_errors_mean_could_not_check(
    make_checker: MakeChecker,
    sandbox: Sandbox,
    keys: dict[str, SandboxKey],
    target: str,
    unknown: list[ScopeStatus],
) -> None:
    sandbox.switches = sandbox.switches.model_copy(update={"server_error": 503, "fault_target": target})
    result = await make_checker().check(secret(keys["all_scopes"]), "uk")
    assert result.verdict is Verdict.COULD_NOT_CHECK
    assert result.problem is Problem.SERVER_ERROR
    assert statuses(result) == unknown
    assert result.reason is not None
    assert "503" in result.reason
    assert_counted(result, sandbox)


async def test_a_timeout_means_could_not_check(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    sandbox.switches = sandbox.switches.model_copy(update={"hang_ms": 500, "fault_target": "GET /v1/appointments"})
    result = await make_checker(timeout=0.15).check(secret(keys["all_scopes"]), "uk")
    assert result.verdict is Verdict.COULD_NOT_CHECK
    assert result.problem is Problem.TIMEOUT
    assert statuses(result) == [G, U, G, G, G]
    assert result.requests_made == BOTH_ROUNDS + 1  # the timed-out probe was tried once more


@pytest.mark.parametrize("switch", [{"server_error": 502}, {"hang_ms": 500}])
async def test_a_passing_server_error_or_timeout_is_retried_once_and_the_key_verifies(
    http: httpx.AsyncClient, endpoints: Endpoints, sandbox: Sandbox, keys: dict[str, SandboxKey], switch: dict[str, int]
) -> None:
    sandbox.switches = sandbox.switches.model_copy(update={**switch, "fault_target": "DELETE /v1/appointments"})
    pauses: list[float] = []

    async def dentally_recovers_during_the_pause(seconds: float) -> None:
        pauses.append(seconds)
        sandbox.switches = sandbox.switches.model_copy(update={"server_error": None, "hang_ms": 0})

    checker = ScopeChecker(ClientFactory(http, endpoints, timeout=0.15), sleep=dentally_recovers_during_the_pause)
    result = await checker.check(secret(keys["all_scopes"]), "uk")
    assert result.verdict is Verdict.VERIFIED
    assert pauses == [0.5]
    assert result.requests_made == BOTH_ROUNDS + 1
    if "server_error" in switch:  # a hung request is only recorded once the sandbox stops waiting
        assert_counted(result, sandbox)


async def test_lax_validation_and_real_ids_still_change_and_reveal_nothing(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    sandbox.reset(switches_for(["lax-create", "real-ids", "unwindowed-index"]))
    before = {k: dict(v) for k, v in sandbox.appointments.items()}
    assert 1 in before  # a real diary's ids, one appointment in progress now
    for _ in range(5):
        result = await make_checker().check(secret(keys["all_scopes"]), "uk")
        assert result.verdict is Verdict.VERIFIED
    assert sandbox.appointments == before
    assert (sandbox.counts.writes, sandbox.counts.records_served) == (0, 0)
    assert len(sandbox.requests) == 5 * BOTH_ROUNDS


@pytest.mark.parametrize(
    ("key", "clinic"),
    [("no_clinic_scopes", None), ("sites_only", "Maple Leaf Dental - Kingsway, Maple Leaf Dental - Riverside")],
)
async def test_the_clinic_name_falls_back_to_sites_and_never_affects_the_verdict(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey], key: str, clinic: str | None
) -> None:
    result = await make_checker().check(secret(keys[key]), "uk")
    assert result.verdict is Verdict.VERIFIED
    assert result.clinic_name == clinic
    assert result.requests_made == BOTH_ROUNDS + 1  # sites rides along with the second round
    assert_counted(result, sandbox)


async def test_a_malformed_key_is_invalid_without_any_request(make_checker: MakeChecker, sandbox: Sandbox) -> None:
    result = await make_checker().check(SecretStr("two words"), "detect")
    assert result.verdict is Verdict.INVALID_KEY
    assert result.problem is Problem.MALFORMED_KEY
    assert result.requests_made == 0
    assert sandbox.requests == []


async def test_evidence_keeps_status_headers_and_the_start_of_error_bodies_only(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    result = await make_checker().check(secret(keys["missing_appointment_delete"]), "uk")
    rows = {row.name: row for row in result.evidence}
    assert set(rows) == {
        "user",
        "token_info",
        "users",
        "read",
        "practice",
        "create",
        "update_patch",
        "update_put",
        "delete",
        "control_create",
        "control_patch",
        "control_put",
        "control_delete",
        "control_read",
    }
    delete = rows["delete"]
    assert (delete.status, delete.content_type, delete.region) == (403, "application/json", "uk")
    assert 'error="insufficient_scope"' in delete.www_authenticate
    assert "insufficient_scope" in delete.excerpt
    assert len(delete.excerpt) <= 300
    # Successful answers keep no body at all: it could hold clinic data.
    assert (rows["user"].status, rows["user"].excerpt, rows["read"].excerpt) == (200, "", "")
    assert (rows["control_create"].role, rows["create"].role, rows["token_info"].role) == (
        "control",
        "probe",
        "introspection",
    )

    sandbox.reset(switches_for(["bare-403"]))
    bare = await make_checker().check(secret(keys["missing_appointment_delete"]), "uk")
    assert bare.verdict is Verdict.MISSING_SCOPES
    row = next(r for r in bare.evidence if r.name == "delete")
    assert (row.status, row.content_type, row.www_authenticate, row.excerpt) == (403, "", "", "")
    assert "like the controls" in (bare.scopes[4].proof or "")


def test_results_stored_by_the_previous_version_still_load() -> None:
    stored = {
        "schema_version": 1,
        "verdict": "could_not_check",
        "scopes": [{"scope": s, "status": "unknown", "http_status": None} for s in REQUIRED_SCOPES],
        "region": "uk",
        "region_detected": False,
        "user": None,
        "clinic_name": None,
        "requests_made": 8,
        "problem": "incident",
        "reason": "old",
        "retry_at": None,
        "incident": {
            "method": "POST",
            "path": "/v1/appointments",
            "http_status": 201,
            "appointment_id": 1003,
            "cleanup_status": 204,
            "cleaned_up": True,
        },
        "oauth_scopes": None,
        "checked_at": "2026-03-02T10:30:00Z",
    }
    result = CheckResult.model_validate_json(json.dumps(stored))
    assert result.evidence == ()
    assert result.alerts_support


# Shapes the sandbox does not produce, through a mock transport on the real production hosts ---------------------

Route = Callable[[httpx.Request], httpx.Response]


def mock_checker(route: Route, clock: FakeClock, **options: Any) -> tuple[ScopeChecker, list[httpx.Request]]:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return route(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    checker = ScopeChecker(ClientFactory(http), clock=clock.now, sleep=clock.sleep, **options)
    return checker, sent


_USER = httpx.Response(200, json={"user": {"id": 3, "first_name": "Ada", "last_name": "Lovelace"}})
_NOT_FOUND = httpx.Response(404, json={"error": "Not found"})
_PARAM_MISSING = httpx.Response(400, json={"error": "param is missing or the value is empty: appointment"})
_BARE_403 = httpx.Response(403)
_SCOPE_HEADER_ONLY = httpx.Response(403, headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'})
_SCOPE_BODY_ONLY = httpx.Response(403, json={"error": "insufficient_scope"})


def cooperative(overrides: dict[str, httpx.Response]) -> Route:
    """A scope-first Dentally for a key with the five scopes: controls refused bare, probes past authorization."""

    def route(request: httpx.Request) -> httpx.Response:
        found = overrides.get(f"{request.method} {request.url.path}")
        if found is not None:
            return found
        path = request.url.path
        if path == "/v1/user":
            return _USER
        if path == "/v1/users":
            return httpx.Response(200, json={"users": [{"id": 3}]})
        if path == "/v1/appointments" and request.method == "GET":
            return httpx.Response(200, json={"appointments": [], "meta": {"total_pages": 1}})
        if path.startswith("/v1/patients"):
            return _BARE_403
        if request.method == "POST":
            return _PARAM_MISSING
        return _NOT_FOUND

    return route


async def test_every_write_probe_carries_an_empty_object_and_targets_id_zero(clock: FakeClock) -> None:
    checker, sent = mock_checker(cooperative({}), clock)
    result = await checker.check(SecretStr("k" * 43), "uk")
    assert result.verdict is Verdict.VERIFIED
    writes = [r for r in sent if r.method != "GET"]
    assert len(writes) == 8
    for request in writes:
        assert request.url.path.split("/")[2] in ("appointments", "patients")
        if request.method == "POST":
            assert request.url.path in ("/v1/appointments", "/v1/patients")
        else:
            assert request.url.path.endswith("/0")
        if request.method != "DELETE":
            assert json.loads(request.content) == {}
    reads = {r.url.path for r in sent if r.method == "GET"}
    assert reads == {
        "/v1/user",
        "/oauth/token/info",
        "/v1/users",
        "/v1/appointments",
        "/v1/practice",
        "/v1/patients/0",
        "/v1/sites",
    }
    assert {r.url.host for r in sent} == {"api.dentally.co"}


@pytest.mark.parametrize("refusal", [_SCOPE_HEADER_ONLY, _SCOPE_BODY_ONLY, _BARE_403], ids=["header", "body", "bare"])
async def test_a_scope_refusal_is_recognised_by_header_body_or_the_controls_shape(
    clock: FakeClock, refusal: httpx.Response
) -> None:
    checker, _ = mock_checker(cooperative({"DELETE /v1/appointments/0": refusal}), clock)
    result = await checker.check(SecretStr("k" * 43), "uk")
    assert result.verdict is Verdict.MISSING_SCOPES
    assert result.missing_scopes == ("appointment:delete",)


async def test_a_refusal_unlike_the_controls_proves_nothing(clock: FakeClock) -> None:
    odd = httpx.Response(403, text="<html>Forbidden by the proxy</html>", headers={"Content-Type": "text/html"})
    checker, _ = mock_checker(cooperative({"DELETE /v1/appointments/0": odd}), clock)
    result = await checker.check(SecretStr("k" * 43), "uk")
    assert result.verdict is Verdict.COULD_NOT_PROVE
    assert result.status_of("appointment:delete") is U


async def test_a_remaining_budget_of_zero_on_a_403_is_a_rate_limit_not_a_refusal(clock: FakeClock) -> None:
    spent = httpx.Response(403, headers={"X-RateLimit-Remaining": "0", "RateLimit-Reset": "3"})
    checker, _ = mock_checker(cooperative({"DELETE /v1/appointments/0": spent}), clock)
    result = await checker.check(SecretStr("k" * 43), "uk")
    assert result.verdict is Verdict.COULD_NOT_CHECK
    assert result.problem is Problem.RATE_LIMITED
    assert clock.sleeps == [2.0]  # three seconds, capped at the two-second maximum


async def test_introspection_that_contradicts_a_probe_is_could_not_prove_and_alerts(clock: FakeClock) -> None:
    every = "user:read appointment:read appointment:create appointment:update appointment:delete"
    overrides = {
        "GET /v1/user": httpx.Response(200, json={"user": {"id": 3}}, headers={"X-OAuth-Scopes": every}),
        "GET /v1/users": httpx.Response(403),
    }
    checker, sent = mock_checker(cooperative(overrides), clock)
    result = await checker.check(SecretStr("k" * 43), "uk")
    assert result.verdict is Verdict.COULD_NOT_PROVE
    assert result.problem is Problem.DISAGREEMENT
    assert result.alerts_support
    assert result.status_of("user:read") is U
    assert {r.method for r in sent} == {"GET"}


async def test_two_introspection_sources_that_differ_are_could_not_prove(clock: FakeClock) -> None:
    every = "user:read appointment:read appointment:create appointment:update appointment:delete"
    overrides = {
        "GET /v1/user": httpx.Response(200, json={"user": {"id": 3}}, headers={"X-OAuth-Scopes": every}),
        "GET /oauth/token/info": httpx.Response(200, json={"scope": ["user:read", "appointment:read"]}),
    }
    checker, _ = mock_checker(cooperative(overrides), clock)
    result = await checker.check(SecretStr("k" * 43), "uk")
    assert result.verdict is Verdict.COULD_NOT_PROVE
    assert result.problem is Problem.DISAGREEMENT
    assert result.reason is not None
    assert "token info" in result.reason


async def test_a_401_from_token_info_alone_never_makes_a_key_invalid(clock: FakeClock) -> None:
    overrides = {"GET /oauth/token/info": httpx.Response(401, json={"error": "invalid_token"})}
    checker, _ = mock_checker(cooperative(overrides), clock)
    result = await checker.check(SecretStr("k" * 43), "uk")
    assert result.verdict is Verdict.VERIFIED
    assert result.token_info_scopes is None


async def test_bare_403s_everywhere_prove_nothing(clock: FakeClock) -> None:
    checker, _ = mock_checker(lambda request: httpx.Response(403, text="Forbidden"), clock)
    result = await checker.check(SecretStr("k" * 43), "au")
    assert result.verdict is Verdict.COULD_NOT_PROVE
    assert result.problem is Problem.FORBIDDEN_UNEXPLAINED
    assert statuses(result) == [U] * 5


async def test_a_defensive_429_with_retry_after_is_treated_as_a_rate_limit(clock: FakeClock) -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "1"})])
    route = cooperative({})

    def limited_once(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH" and request.url.path.startswith("/v1/appointments"):
            return next(answers, _NOT_FOUND)
        return route(request)

    checker, _ = mock_checker(limited_once, clock)
    result = await checker.check(SecretStr("k" * 43), "ca")
    assert result.verdict is Verdict.VERIFIED
    assert clock.sleeps == [1.0]


async def test_a_key_revoked_part_way_through_is_invalid(clock: FakeClock) -> None:
    revoked = httpx.Response(401, json={"error": "invalid_token", "error_description": "The access token was revoked"})
    checker, _ = mock_checker(lambda r: _USER if r.url.path == "/v1/user" else revoked, clock)
    result = await checker.check(SecretStr("k" * 43), "uk")
    assert result.verdict is Verdict.INVALID_KEY
    assert result.reason is not None
    assert "part-way" in result.reason


async def test_a_write_probe_that_succeeds_is_an_alert_and_never_cleaned_up_by_touching_records(
    clock: FakeClock,
) -> None:
    checker, sent = mock_checker(cooperative({"DELETE /v1/appointments/0": httpx.Response(204)}), clock)
    result = await checker.check(SecretStr("k" * 43), "uk")
    assert result.verdict is Verdict.COULD_NOT_PROVE
    assert result.problem is Problem.INCIDENT
    assert result.alerts_support
    assert result.incident is not None
    assert (result.incident.method, result.incident.path, result.incident.http_status) == (
        "DELETE",
        "/v1/appointments/0",
        204,
    )
    assert all(r.url.path.endswith("/0") for r in sent if r.method in ("PATCH", "PUT", "DELETE"))
    assert len(sent) <= MAX_REQUESTS


async def test_detect_skips_a_failing_region_but_does_not_call_the_key_invalid(clock: FakeClock) -> None:
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.host == "api.dentally.co":
            return httpx.Response(503, text="Service Unavailable")
        return httpx.Response(401, json={"error": "invalid_token"})

    checker, sent = mock_checker(route, clock)
    result = await checker.check(SecretStr("k" * 43), "detect")
    assert result.verdict is Verdict.COULD_NOT_CHECK
    assert result.problem is Problem.SERVER_ERROR
    hosts = [r.url.host for r in sent]
    assert sorted(hosts[:3]) == ["api.apac.dentally.com", "api.ca.dentally.com", "api.dentally.co"]
    assert hosts[3:] == ["api.dentally.co"]  # the failing region, asked once more


async def test_the_real_hosts_are_unreachable_from_tests(clock: FakeClock) -> None:
    async with httpx.AsyncClient() as http:
        checker = ScopeChecker(ClientFactory(http, timeout=2), clock=clock.now, sleep=clock.sleep)
        result = await checker.check(SecretStr("k" * 43), "uk")
    assert result.verdict is Verdict.COULD_NOT_CHECK
    assert result.problem is Problem.NETWORK
    assert result.requests_made <= MAX_REQUESTS


def test_the_checker_refuses_a_budget_too_small_for_the_probes() -> None:
    with pytest.raises(ValueError, match="at least 14"):
        ScopeChecker(ClientFactory(httpx.AsyncClient()), max_requests=13)


# The result value -------------------------------------------------------------------------------------------------


@given(
    statuses=st.lists(st.sampled_from(list(ScopeStatus)), min_size=5, max_size=5),
    verdict=st.sampled_from(list(Verdict)),
    problem=st.none() | st.sampled_from(list(Problem)),
    requests=st.integers(0, 20),
    scopes_header=st.none() | st.lists(st.sampled_from([*REQUIRED_SCOPES, "appointment", "site:read"])).map(tuple),
)
def test_results_round_trip_through_json(
    statuses: list[ScopeStatus],
    verdict: Verdict,
    problem: Problem | None,
    requests: int,
    scopes_header: tuple[str, ...] | None,
) -> None:
    result = CheckResult(
        verdict=verdict,
        scopes=tuple(
            ScopeCheck(scope=s, status=st_, http_status=404) for s, st_ in zip(REQUIRED_SCOPES, statuses, strict=True)
        ),
        region="ca",
        region_detected=True,
        user=None,
        clinic_name="Prairie Smile",
        requests_made=requests,
        problem=problem,
        reason="because",
        oauth_scopes=scopes_header,
        checked_at=datetime(2026, 3, 2, 10, 30, tzinfo=UTC),
    )
    assert CheckResult.model_validate_json(result.model_dump_json()) == result


async def test_real_results_round_trip_through_json(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    sandbox.switches.lax_create = True
    for name in ("all_scopes", "read_only", "expired", "over_granted"):
        result = await make_checker().check(secret(keys[name]), "uk")
        assert CheckResult.model_validate_json(result.model_dump_json()) == result


def test_a_result_must_list_the_five_scopes_in_order() -> None:
    checks = [ScopeCheck(scope=s, status=G) for s in REQUIRED_SCOPES]
    fields: dict[str, Any] = {
        "verdict": "verified",
        "region": "uk",
        "region_detected": False,
        "user": None,
        "clinic_name": None,
        "requests_made": 5,
        "checked_at": "2026-03-02T10:30:00Z",
    }
    CheckResult(scopes=tuple(checks), **fields)
    with pytest.raises(ValidationError, match="in that order"):
        CheckResult(scopes=tuple(reversed(checks)), **fields)
    with pytest.raises(ValidationError):
        CheckResult(scopes=tuple(checks[:4]), **fields)


# Secrets ---------------------------------------------------------------------------------------------------------


async def test_no_key_reaches_a_log_record_a_repr_or_a_result(
    make_checker: MakeChecker,
    sandbox: Sandbox,
    keys: dict[str, SandboxKey],
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in ("", "httpx", "httpcore", "dentally", "uvicorn", "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name)
    outputs: list[str] = []
    scenarios: list[tuple[str, dict[str, Any], float]] = [
        ("all_scopes", {}, 15.0),
        ("expired", {}, 15.0),
        ("all_scopes", {"lax_create": True, "token_info": True, "scopes_header": "space"}, 15.0),
        ("missing_appointment_delete", {"bare_403": True}, 15.0),
        ("read_only", {"rate_limit": 0}, 15.0),
        ("read_only", {"rate_limit": 0, "text_rate_limits": True}, 15.0),
        ("all_scopes", {"server_error": 500}, 15.0),
        ("all_scopes", {"hang_ms": 400}, 0.1),
    ]
    used = set()
    for name, switches, timeout in scenarios:
        sandbox.reset()
        sandbox.switches = sandbox.switches.model_copy(update=switches)
        checker = make_checker(timeout=timeout)
        result = await checker.check(secret(keys[name]), "detect")
        outputs += [repr(result), str(result), result.model_dump_json(), repr(checker)]
        used.add(keys[name].key)

    assert len(caplog.records) > 0
    for record in caplog.records:
        outputs += [record.getMessage(), repr(record.__dict__)]
    for key in used:
        assert all(key not in text for text in outputs)


async def test_an_error_body_that_echoes_the_key_is_kept_redacted(clock: FakeClock) -> None:
    token = "k" * 43
    echo = httpx.Response(403, json={"error": "insufficient_scope", "token": token})
    checker, _ = mock_checker(cooperative({"DELETE /v1/appointments/0": echo}), clock)
    result = await checker.check(SecretStr(token), "uk")
    assert result.verdict is Verdict.MISSING_SCOPES
    row = next(r for r in result.evidence if r.name == "delete")
    assert "[redacted]" in row.excerpt
    assert token not in result.model_dump_json()
