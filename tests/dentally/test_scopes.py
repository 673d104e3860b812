"""The scope checker against the sandbox on loopback (and a few shapes only a mock transport can produce)."""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from bot.serving import serve
from dentally.client import ClientFactory
from dentally.regions import Endpoints
from dentally.sandbox import Sandbox, SandboxKey
from dentally.scopes import (
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


def statuses(result: CheckResult) -> list[ScopeStatus]:
    return [c.status for c in result.scopes]


def assert_counted(result: CheckResult, sandbox: Sandbox) -> None:
    """The result's request count is what the sandbox really saw, and within the budget."""
    assert result.requests_made == len(sandbox.requests)
    assert result.requests_made <= 8


async def test_a_key_with_every_scope_is_verified_in_one_round(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    result = await make_checker().check(secret(keys["all_scopes"]), "uk")

    assert result.verdict is Verdict.VERIFIED
    assert statuses(result) == [G] * 5
    assert [c.scope for c in result.scopes] == list(REQUIRED_SCOPES)
    assert (result.region, result.region_detected) == ("uk", False)
    assert result.user is not None
    assert (result.user.name, result.user.email, result.user.permission_level) == (
        "Priya Shah",
        "priya.shah@mapleleaf-dental.example",
        4,
    )
    assert result.clinic_name == "Maple Leaf Dental"
    assert (result.problem, result.reason, result.incident) == (None, None, None)
    assert result.oauth_scopes == keys["all_scopes"].scopes
    assert result.scopes_header_agrees is True
    assert_counted(result, sandbox)
    assert sorted((r.method, r.path) for r in sandbox.requests) == [
        ("DELETE", "/uk/v1/appointments/0"),
        ("GET", "/uk/v1/appointments"),
        ("GET", "/uk/v1/practice"),
        ("GET", "/uk/v1/user"),
        ("PATCH", "/uk/v1/appointments/0"),
        ("POST", "/uk/v1/appointments"),
    ]
    # The read probe asks for a one-minute window starting now, one row at most.
    (index,) = [r for r in sandbox.requests if r.path == "/uk/v1/appointments" and r.method == "GET"]
    assert index.query == "after=2026-03-02T10%3A30%3A00Z&before=2026-03-02T10%3A31%3A00Z&per_page=1"


@pytest.mark.parametrize("missing", REQUIRED_SCOPES)
async def test_each_missing_scope_is_named_and_only_that_one(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey], missing: str
) -> None:
    result = await make_checker().check(secret(keys[f"missing_{missing.replace(':', '_')}"]), "uk")

    assert result.verdict is Verdict.MISSING_SCOPES
    assert result.missing_scopes == (missing,)
    assert [c.scope for c in result.scopes if c.status is G] == [s for s in REQUIRED_SCOPES if s != missing]
    assert result.status_of(missing) is M  # type: ignore[arg-type]
    assert (result.user is None) == (missing == "user:read")
    assert result.clinic_name == "Maple Leaf Dental"
    assert_counted(result, sandbox)


async def test_a_bare_appointment_scope_grants_all_four_appointment_scopes(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    result = await make_checker().check(secret(keys["bare_appointment"]), "uk")
    assert result.verdict is Verdict.VERIFIED
    assert result.oauth_scopes == ("user:read", "appointment", "practice:read")
    assert result.scopes_header_agrees is True
    assert_counted(result, sandbox)


async def test_a_read_only_key_misses_the_three_write_scopes(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    result = await make_checker().check(secret(keys["read_only"]), "uk")
    assert result.verdict is Verdict.MISSING_SCOPES
    assert statuses(result) == [G, G, M, M, M]
    assert_counted(result, sandbox)


async def test_comma_separated_scope_headers_corroborate_too(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    sandbox.switches.scopes_header = "comma"
    result = await make_checker().check(secret(keys["read_only"]), "uk")
    assert result.oauth_scopes == ("user:read", "appointment:read", "practice:read")
    assert result.scopes_header_agrees is True


async def test_without_the_scopes_header_the_probes_alone_decide(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    sandbox.switches.scopes_header = "off"
    result = await make_checker().check(secret(keys["all_scopes"]), "uk")
    assert result.verdict is Verdict.VERIFIED
    assert result.oauth_scopes is None
    assert result.scopes_header_agrees is None


@pytest.mark.parametrize("key", ["unknown", "expired"])
async def test_an_unknown_or_expired_key_is_invalid(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey], key: str
) -> None:
    token = SecretStr("x" * 43) if key == "unknown" else secret(keys["expired"])
    result = await make_checker().check(token, "uk")
    assert result.verdict is Verdict.INVALID_KEY
    assert result.problem is Problem.KEY_REJECTED
    assert statuses(result) == [U] * 5
    assert (result.user, result.clinic_name) == (None, None)
    assert_counted(result, sandbox)
    # Only the first, concurrent round is spent on a dead key: no retries, no clinic-name fallback.
    assert result.requests_made == 6
    assert "/uk/v1/sites" not in {r.path for r in sandbox.requests}


async def test_detect_tries_each_region_in_turn_and_finds_an_au_key(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    result = await make_checker().check(secret(keys["au_all_scopes"]), "detect")

    assert result.verdict is Verdict.VERIFIED
    assert (result.region, result.region_detected) == ("au", True)
    assert result.clinic_name == "Harbourside Dental Studio"
    assert [(r.path, r.status) for r in sandbox.requests[:2]] == [("/uk/v1/user", 401), ("/au/v1/user", 200)]
    assert all(r.region == "au" for r in sandbox.requests[1:])
    assert_counted(result, sandbox)


async def test_detect_finding_the_key_in_the_last_region_still_fits_eight_requests(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    result = await make_checker().check(secret(keys["ca_all_scopes"]), "detect")
    assert result.verdict is Verdict.VERIFIED
    assert result.region == "ca"
    assert result.clinic_name == "Prairie Smile Dental Centre"
    assert result.requests_made == 8
    assert_counted(result, sandbox)


async def test_detect_with_a_key_no_region_knows_is_invalid_after_three_requests(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    result = await make_checker().check(secret(keys["expired"]), "detect")
    assert result.verdict is Verdict.INVALID_KEY
    assert result.region is None
    assert [r.path for r in sandbox.requests] == ["/uk/v1/user", "/au/v1/user", "/ca/v1/user"]
    assert result.reason is not None
    assert "Australia & New Zealand" in result.reason
    assert_counted(result, sandbox)


async def test_detect_gives_up_within_budget_when_the_key_is_in_a_fourth_region(
    http: httpx.AsyncClient, clock: FakeClock
) -> None:
    key = SandboxKey("sandbox_key", "s" * 43, "sandbox", "sandbox", ("user:read", "appointment"))
    sandbox = Sandbox({"sandbox_key": key}, clock=clock.now)
    async with serve(sandbox) as url:
        endpoints = Endpoints(f"{url}/{{region}}", detect_order=["uk", "au", "ca", "sandbox"])
        checker = ScopeChecker(ClientFactory(http, endpoints), clock=clock.now, sleep=clock.sleep)
        result = await checker.check(SecretStr(key.key), "detect")
    assert result.verdict is Verdict.COULD_NOT_CHECK
    assert result.problem is Problem.BUDGET_EXHAUSTED
    assert result.requests_made == 3
    assert_counted(result, sandbox)


async def test_a_rate_limited_probe_waits_for_the_reset_and_recovers(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey], clock: FakeClock
) -> None:
    # Half a second before the hourly window ends, with a budget one short of the first round's six requests.
    clock.set(datetime(2026, 3, 2, 10, 59, 59, 500_000, tzinfo=UTC))
    sandbox.switches.rate_limit = 5

    result = await make_checker().check(secret(keys["all_scopes"]), "uk")

    assert result.verdict is Verdict.VERIFIED
    assert clock.sleeps == [0.5]
    assert [r.status for r in sandbox.requests].count(403) == 1
    assert result.clinic_name == "Maple Leaf Dental"
    assert result.requests_made == 7
    assert_counted(result, sandbox)


async def test_a_rate_limit_blip_with_budget_left_is_retried_after_the_capped_wait(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey], clock: FakeClock
) -> None:
    sandbox.switches = sandbox.switches.model_copy(update={"rate_limit_blips": 1, "fault_target": "POST"})
    result = await make_checker(max_rate_limit_wait=1.5).check(secret(keys["all_scopes"]), "uk")
    assert result.verdict is Verdict.VERIFIED
    # The reset is half an hour away, so the wait is the cap, not the reset.
    assert clock.sleeps == [1.5]
    assert [r.method for r in sandbox.requests].count("POST") == 2
    assert_counted(result, sandbox)


async def test_rate_limited_twice_is_could_not_check_never_missing(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey], clock: FakeClock
) -> None:
    sandbox.switches = sandbox.switches.model_copy(update={"rate_limit_blips": 2, "fault_target": "DELETE"})
    result = await make_checker().check(secret(keys["all_scopes"]), "uk")

    assert result.verdict is Verdict.COULD_NOT_CHECK
    assert result.problem is Problem.RATE_LIMITED
    assert statuses(result) == [G, G, G, G, U]
    assert result.retry_at == datetime(2026, 3, 2, 11, tzinfo=UTC)
    assert clock.sleeps == [2.0]
    assert_counted(result, sandbox)


async def test_a_spent_hourly_budget_is_could_not_check_within_eight_requests(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey], clock: FakeClock
) -> None:
    sandbox.switches.rate_limit = 0
    result = await make_checker().check(secret(keys["missing_appointment_delete"]), "uk")
    assert result.verdict is Verdict.COULD_NOT_CHECK
    assert result.problem is Problem.RATE_LIMITED
    assert M not in statuses(result)
    assert result.reason is not None
    assert "11:00 UTC" in result.reason
    assert result.requests_made == 8
    assert_counted(result, sandbox)


@pytest.mark.parametrize(("target", "unknown"), [("", [U] * 5), ("POST /v1/appointments", [G, G, U, G, G])])
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
    assert result.requests_made == 7  # the timed-out probe was tried once more


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
    assert result.requests_made == 7
    if "server_error" in switch:  # a hung request is only recorded once the sandbox stops waiting
        assert_counted(result, sandbox)


async def test_a_create_probe_that_creates_is_undone_flagged_and_switched_off(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    sandbox.switches.create_succeeds = True
    before = set(sandbox.appointments)
    checker = make_checker()

    result = await checker.check(secret(keys["all_scopes"]), "uk")

    assert result.verdict is Verdict.COULD_NOT_CHECK
    assert result.problem is Problem.INCIDENT
    assert result.has_incident
    incident = result.incident
    assert incident is not None
    assert (incident.method, incident.path, incident.http_status) == ("POST", "/v1/appointments", 201)
    assert incident.cleaned_up
    assert incident.cleanup_status == 204
    assert set(sandbox.appointments) == before
    deletes = [(r.path, r.status) for r in sandbox.requests if r.method == "DELETE" and not r.path.endswith("/0")]
    assert deletes == [(f"/uk/v1/appointments/{incident.appointment_id}", 204)]
    assert not checker.create_probe_enabled
    assert_counted(result, sandbox)

    sandbox.reset()
    again = await checker.check(secret(keys["all_scopes"]), "uk")
    assert again.verdict is Verdict.COULD_NOT_CHECK
    assert again.problem is Problem.PROBE_DISABLED
    assert again.status_of("appointment:create") is U
    assert "POST" not in {r.method for r in sandbox.requests}


async def test_an_incident_that_cannot_be_undone_says_so(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    sandbox.switches.create_succeeds = True
    result = await make_checker().check(secret(keys["missing_appointment_delete"]), "uk")
    assert result.verdict is Verdict.COULD_NOT_CHECK
    assert result.incident is not None
    assert result.incident.cleanup_status == 403
    assert not result.incident.cleaned_up
    assert result.incident.appointment_id in sandbox.appointments
    assert result.reason is not None
    assert "NOT be undone" in result.reason


@pytest.mark.parametrize(
    ("key", "clinic", "requests"),
    [("no_clinic_scopes", None, 7), ("sites_only", "Maple Leaf Dental - Kingsway, Maple Leaf Dental - Riverside", 7)],
)
async def test_the_clinic_name_falls_back_to_sites_and_never_affects_the_verdict(
    make_checker: MakeChecker,
    sandbox: Sandbox,
    keys: dict[str, SandboxKey],
    key: str,
    clinic: str | None,
    requests: int,
) -> None:
    result = await make_checker().check(secret(keys[key]), "uk")
    assert result.verdict is Verdict.VERIFIED
    assert result.clinic_name == clinic
    assert result.requests_made == requests
    assert_counted(result, sandbox)


async def test_a_malformed_key_is_invalid_without_any_request(make_checker: MakeChecker, sandbox: Sandbox) -> None:
    result = await make_checker().check(SecretStr("two words"), "detect")
    assert result.verdict is Verdict.INVALID_KEY
    assert result.problem is Problem.MALFORMED_KEY
    assert result.requests_made == 0
    assert sandbox.requests == []


async def test_the_probes_really_run_concurrently(
    sandbox: Sandbox, http: httpx.AsyncClient, endpoints: Endpoints, keys: dict[str, SandboxKey], clock: FakeClock
) -> None:
    sandbox.switches.latency_ms = 100
    factory = ClientFactory(http, endpoints)
    checker = ScopeChecker(factory, clock=clock.now, sleep=clock.sleep)
    token = secret(keys["all_scopes"])
    client = factory.for_region("uk", token)
    await client.request("GET", "/v1/user")  # open a connection first, as the bot's long-lived client would have

    singles, checks = [], []
    for _ in range(3):
        started = time.perf_counter()
        await client.request("GET", "/v1/user")
        singles.append(time.perf_counter() - started)
        started = time.perf_counter()
        result = await checker.check(token, "uk")
        checks.append(time.perf_counter() - started)
        assert result.verdict is Verdict.VERIFIED

    # Six requests one after another would take six times as long; loose so a busy machine does not flake.
    assert statistics.median(checks) < 3 * statistics.median(singles)


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


def by_probe(answers: dict[str, httpx.Response], default: httpx.Response) -> Route:
    def route(request: httpx.Request) -> httpx.Response:
        return answers.get(f"{request.method} {request.url.path}", default)

    return route


_USER = httpx.Response(200, json={"user": {"id": 3, "first_name": "Ada", "last_name": "Lovelace"}})
_NOT_FOUND = httpx.Response(404, json={"error": "Not found"})
_BARE_403 = httpx.Response(403)
_SCOPE_HEADER_ONLY = httpx.Response(403, headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'})
_SCOPE_BODY_ONLY = httpx.Response(403, json={"error": "insufficient_scope"})


@pytest.mark.parametrize("refusal", [_SCOPE_HEADER_ONLY, _SCOPE_BODY_ONLY, _BARE_403], ids=["header", "body", "bare"])
async def test_a_scope_refusal_is_recognised_by_header_body_or_contrast(
    clock: FakeClock, refusal: httpx.Response
) -> None:
    route = by_probe({"GET /v1/user": _USER, "DELETE /v1/appointments/0": refusal}, _NOT_FOUND)
    # GET /v1/appointments answering 404 would be odd; give it a window answer instead.
    answers = {"GET /v1/appointments": httpx.Response(200, json={"appointments": []})}
    checker, sent = mock_checker(lambda r: answers.get(f"{r.method} {r.url.path}") or route(r), clock)

    result = await checker.check(SecretStr("k" * 43), "uk")

    assert result.verdict is Verdict.MISSING_SCOPES
    assert result.missing_scopes == ("appointment:delete",)
    assert {r.url.host for r in sent} == {"api.dentally.co"}


async def test_bare_403s_everywhere_are_not_taken_as_missing_scopes(clock: FakeClock) -> None:
    checker, _ = mock_checker(lambda request: httpx.Response(403, text="Forbidden"), clock)
    result = await checker.check(SecretStr("k" * 43), "au")
    assert result.verdict is Verdict.COULD_NOT_CHECK
    assert result.problem is Problem.FORBIDDEN_UNEXPLAINED
    assert statuses(result) == [U] * 5


async def test_a_defensive_429_with_retry_after_is_treated_as_a_rate_limit(clock: FakeClock) -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "1"})])

    def route(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            return next(answers, _NOT_FOUND)
        return _USER if request.url.path == "/v1/user" else _NOT_FOUND

    checker, _ = mock_checker(route, clock)
    result = await checker.check(SecretStr("k" * 43), "ca")
    # GET /v1/appointments answered 404 here, which proves nothing for a read.
    assert result.status_of("appointment:read") is U
    assert result.status_of("appointment:update") is G
    assert clock.sleeps == [1.0]


async def test_a_key_revoked_part_way_through_is_invalid(clock: FakeClock) -> None:
    revoked = httpx.Response(401, json={"error": "invalid_token", "error_description": "The access token was revoked"})
    checker, _ = mock_checker(by_probe({"GET /v1/user": _USER}, revoked), clock)
    result = await checker.check(SecretStr("k" * 43), "uk")
    assert result.verdict is Verdict.INVALID_KEY
    assert result.reason is not None
    assert "part-way" in result.reason


async def test_a_write_probe_on_appointment_zero_that_succeeds_is_an_incident(clock: FakeClock) -> None:
    answers = {"GET /v1/user": _USER, "DELETE /v1/appointments/0": httpx.Response(204)}
    checker, sent = mock_checker(by_probe(answers, httpx.Response(422, json={"errors": {}})), clock)
    result = await checker.check(SecretStr("k" * 43), "uk")
    assert result.verdict is Verdict.COULD_NOT_CHECK
    assert result.incident is not None
    assert (result.incident.method, result.incident.appointment_id, result.incident.cleaned_up) == (
        "DELETE",
        None,
        False,
    )
    # Nothing was created, so the create probe stays on.
    assert checker.create_probe_enabled
    assert len(sent) <= 8


async def test_detect_skips_a_failing_region_but_does_not_call_the_key_invalid(clock: FakeClock) -> None:
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.host == "api.dentally.co":
            return httpx.Response(503, text="Service Unavailable")
        return httpx.Response(401, json={"error": "invalid_token"})

    checker, sent = mock_checker(route, clock)
    result = await checker.check(SecretStr("k" * 43), "detect")
    assert result.verdict is Verdict.COULD_NOT_CHECK
    assert result.problem is Problem.SERVER_ERROR
    assert [r.url.host for r in sent] == ["api.dentally.co", "api.apac.dentally.com", "api.ca.dentally.com"]


async def test_the_real_hosts_are_unreachable_from_tests(clock: FakeClock) -> None:
    async with httpx.AsyncClient() as http:
        checker = ScopeChecker(ClientFactory(http, timeout=2), clock=clock.now, sleep=clock.sleep)
        result = await checker.check(SecretStr("k" * 43), "uk")
    assert result.verdict is Verdict.COULD_NOT_CHECK
    assert result.problem is Problem.NETWORK


def test_the_checker_refuses_a_budget_too_small_for_the_probes() -> None:
    with pytest.raises(ValueError, match="at least 6"):
        ScopeChecker(ClientFactory(httpx.AsyncClient()), max_requests=5)


# The result value -------------------------------------------------------------------------------------------------


@given(
    statuses=st.lists(st.sampled_from(list(ScopeStatus)), min_size=5, max_size=5),
    verdict=st.sampled_from(list(Verdict)),
    problem=st.none() | st.sampled_from(list(Problem)),
    requests=st.integers(0, 8),
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
    sandbox.switches.create_succeeds = True
    for name in ("all_scopes", "read_only", "expired"):
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
        ("all_scopes", {"create_succeeds": True}, 15.0),
        ("read_only", {"rate_limit": 0}, 15.0),
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
