"""The sandbox behaves like Dentally v1 as the reference describes it, over real HTTP on loopback."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from dentally.sandbox import Sandbox, SandboxKey, format_sample_keys, sample_keys
from tests.dentally.conftest import FakeClock

UA = {"User-Agent": "SandboxTest/1.0"}


def auth(key: SandboxKey) -> dict[str, str]:
    return {**UA, "Authorization": f"Bearer {key.key}"}


@pytest.fixture
async def raw(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A plain client (no Dentally client in the way) whose requests go to the sandbox."""
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        yield client


_WINDOW = {"after": "2026-03-02T10:30:00Z", "before": "2026-03-02T10:31:00Z"}


async def test_a_request_without_a_user_agent_is_forbidden(raw: httpx.AsyncClient, keys: dict[str, SandboxKey]) -> None:
    request = raw.build_request("GET", "/uk/v1/user", headers={"Authorization": f"Bearer {keys['all_scopes'].key}"})
    del request.headers["user-agent"]
    response = await raw.send(request)
    assert response.status_code == 403
    assert "User-Agent" in response.json()["error"]


async def test_a_key_is_unknown_on_another_regions_host(raw: httpx.AsyncClient, keys: dict[str, SandboxKey]) -> None:
    home = await raw.get("/au/v1/user", headers=auth(keys["au_all_scopes"]))
    away = await raw.get("/uk/v1/user", headers=auth(keys["au_all_scopes"]))
    assert home.status_code == 200
    assert away.status_code == 401
    assert 'error="invalid_token"' in away.headers["www-authenticate"]
    assert away.json()["error"] == "invalid_token"


async def test_paths_without_a_region_accept_keys_of_every_region(
    raw: httpx.AsyncClient, keys: dict[str, SandboxKey]
) -> None:
    for name in ("all_scopes", "au_all_scopes", "ca_all_scopes"):
        assert (await raw.get("/v1/user", headers=auth(keys[name]))).status_code == 200


@pytest.mark.parametrize(
    ("authorization", "description"),
    [(None, "invalid"), ("Bearer not-a-real-key", "invalid"), ("Basic abc", "invalid"), ("expired", "expired")],
)
async def test_missing_unknown_and_expired_keys_get_doorkeeper_style_401s(
    raw: httpx.AsyncClient, keys: dict[str, SandboxKey], authorization: str | None, description: str
) -> None:
    headers = dict(UA)
    if authorization == "expired":
        headers.update(auth(keys["expired"]))
    elif authorization is not None:
        headers["Authorization"] = authorization
    response = await raw.get("/uk/v1/user", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer realm=")
    assert description in response.json()["error_description"]


async def test_an_unknown_region_prefix_is_not_found(raw: httpx.AsyncClient, keys: dict[str, SandboxKey]) -> None:
    assert (await raw.get("/eu/v1/user", headers=auth(keys["all_scopes"]))).status_code == 404
    assert (await raw.get("/uk/v1/nothing", headers=auth(keys["all_scopes"]))).json() == {"error": "Not found"}


@pytest.mark.parametrize(
    ("method", "path", "body", "scope", "granted_status"),
    [
        ("GET", "/uk/v1/appointments", None, "appointment:read", 400),
        (
            "POST",
            "/uk/v1/appointments",
            {"appointment": {"start_time": "2000-01-01T10:00:00Z"}},
            "appointment:create",
            422,
        ),
        ("PATCH", "/uk/v1/appointments/0", {"appointment": {}}, "appointment:update", 404),
        ("DELETE", "/uk/v1/appointments/0", None, "appointment:delete", 404),
        ("GET", "/uk/v1/user", None, "user:read", 200),
    ],
)
async def test_the_scope_is_checked_before_lookup_and_validation(
    raw: httpx.AsyncClient,
    keys: dict[str, SandboxKey],
    method: str,
    path: str,
    body: object,
    scope: str,
    granted_status: int,
) -> None:
    without = keys[f"missing_{scope.replace(':', '_')}"]
    refused = await raw.request(method, path, json=body, headers=auth(without))
    allowed = await raw.request(method, path, json=body, headers=auth(keys["all_scopes"]))
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    assert refused.json()["error"] == "insufficient_scope"
    assert allowed.status_code == granted_status


async def test_a_bare_appointment_scope_covers_every_appointment_action(
    raw: httpx.AsyncClient, keys: dict[str, SandboxKey]
) -> None:
    headers = auth(keys["bare_appointment"])
    assert (await raw.delete("/uk/v1/appointments/0", headers=headers)).status_code == 404
    assert (await raw.get("/uk/v1/appointments", params=_WINDOW, headers=headers)).status_code == 200
    assert (await raw.get("/uk/v1/sites", headers=headers)).status_code == 403


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, 400),
        ({"after": "2026-03-02T10:30:00Z"}, 400),
        ({"after": "yesterday", "before": "today"}, 422),
        ({"after": "2026-03-02T10:30:00", "before": "2026-03-02T10:31:00"}, 422),
        ({"after": "2026-03-02T10:31:00Z", "before": "2026-03-02T10:30:00Z"}, 422),
        (_WINDOW, 200),
    ],
)
async def test_the_appointment_index_needs_a_proper_window(
    raw: httpx.AsyncClient, keys: dict[str, SandboxKey], params: dict[str, str], status: int
) -> None:
    response = await raw.get("/uk/v1/appointments", params=params, headers=auth(keys["all_scopes"]))
    assert response.status_code == status


async def test_the_index_returns_wrapped_rows_in_the_window_only(
    raw: httpx.AsyncClient, keys: dict[str, SandboxKey], clock: FakeClock
) -> None:
    tomorrow = clock.now().replace(hour=0, minute=0) + timedelta(days=1)
    params = {"after": tomorrow.isoformat(), "before": (tomorrow + timedelta(days=1)).isoformat(), "per_page": "1"}
    response = await raw.get("/uk/v1/appointments", params=params, headers=auth(keys["all_scopes"]))
    body = response.json()
    assert [a["reason"] for a in body["appointments"]] == ["Check-up"]
    assert body["meta"]["total"] == 2
    assert body["meta"]["total_pages"] == 2


async def test_a_write_without_the_wrapping_key_is_a_400(raw: httpx.AsyncClient, keys: dict[str, SandboxKey]) -> None:
    response = await raw.post("/uk/v1/appointments", json={"start_time": "x"}, headers=auth(keys["all_scopes"]))
    assert response.status_code == 400


async def test_lax_create_saves_an_invalid_appointment_but_never_an_empty_object(
    sandbox: Sandbox, raw: httpx.AsyncClient, keys: dict[str, SandboxKey]
) -> None:
    sandbox.switches.lax_create = True
    body = {"appointment": {"start_time": "2000-01-01T10:00:00Z", "finish_time": "2000-01-01T09:00:00Z"}}
    response = await raw.post("/uk/v1/appointments", json=body, headers=auth(keys["all_scopes"]))
    assert response.status_code == 201
    assert response.json()["appointment"]["id"] in sandbox.appointments
    assert (sandbox.counts.created, sandbox.counts.records_served) == (1, 1)
    for empty in ({}, {"appointment": {}}):
        refused = await raw.post("/uk/v1/appointments", json=empty, headers=auth(keys["all_scopes"]))
        assert refused.status_code == 400
    assert sandbox.counts.created == 1


async def call(raw: httpx.AsyncClient, key: SandboxKey, method: str, path: str, body: object = None) -> httpx.Response:
    return await raw.request(method, path, json=body, headers=auth(key))


@pytest.mark.parametrize(
    ("modes", "method", "path", "body", "status", "www_authenticate"),
    [
        # A key without Appointment Update / Create / Delete, by mode: what its refusal looks like.
        ((), "PATCH", "/uk/v1/appointments/0", {}, 403, True),
        (("bare-403",), "PATCH", "/uk/v1/appointments/0", {}, 403, False),
        (("404-for-forbidden",), "PATCH", "/uk/v1/appointments/0", {}, 404, False),
        (("lookup-first",), "PATCH", "/uk/v1/appointments/0", {}, 404, False),
        (("lookup-first",), "DELETE", "/uk/v1/appointments/0", None, 404, False),
        (("validate-first",), "PATCH", "/uk/v1/appointments/0", {}, 400, False),
        (("validate-first",), "POST", "/uk/v1/appointments", {}, 400, False),
        (("validate-first",), "DELETE", "/uk/v1/appointments/0", None, 403, True),
        (("patch-unrouted",), "PATCH", "/uk/v1/appointments/0", {}, 404, False),
        (("patch-unrouted",), "PUT", "/uk/v1/appointments/0", {}, 403, True),
    ],
)
async def test_each_mode_changes_how_a_missing_scope_is_answered(
    sandbox: Sandbox,
    raw: httpx.AsyncClient,
    keys: dict[str, SandboxKey],
    modes: tuple[str, ...],
    method: str,
    path: str,
    body: object,
    status: int,
    www_authenticate: bool,
) -> None:
    sandbox.use_modes(modes)
    response = await call(raw, keys["read_only"], method, path, body)
    assert response.status_code == status
    assert ("www-authenticate" in response.headers) is www_authenticate
    if modes == ("bare-403",):
        assert response.content == b""
        assert "content-type" not in response.headers


async def test_an_ungated_user_endpoint_answers_without_user_read_but_the_users_list_does_not(
    sandbox: Sandbox, raw: httpx.AsyncClient, keys: dict[str, SandboxKey]
) -> None:
    key = keys["missing_user_read"]
    assert (await call(raw, key, "GET", "/uk/v1/user")).status_code == 403
    sandbox.use_modes(["ungated-user"])
    assert (await call(raw, key, "GET", "/uk/v1/user")).status_code == 200
    assert (await call(raw, key, "GET", "/uk/v1/users", None)).status_code == 403


async def test_token_info_is_off_by_default_and_lists_the_scopes_when_on(
    sandbox: Sandbox, raw: httpx.AsyncClient, keys: dict[str, SandboxKey]
) -> None:
    key = keys["read_only"]
    assert (await call(raw, key, "GET", "/uk/oauth/token/info")).status_code == 404
    assert "x-oauth-scopes" not in (await call(raw, key, "GET", "/uk/v1/user")).headers
    sandbox.use_modes(["token-info"])
    info = await call(raw, key, "GET", "/uk/oauth/token/info")
    assert (info.status_code, info.json()["scope"]) == (200, list(key.scopes))
    assert (await call(raw, keys["expired"], "GET", "/uk/oauth/token/info")).status_code == 401


async def test_text_plain_rate_limits_carry_no_rate_headers(
    sandbox: Sandbox, raw: httpx.AsyncClient, keys: dict[str, SandboxKey]
) -> None:
    sandbox.use_modes(["text-rate-limits"])
    sandbox.switches.rate_limit = 0
    response = await call(raw, keys["all_scopes"], "GET", "/uk/v1/user")
    assert (response.status_code, response.text) == (403, "Rate Limit Exceeded")
    assert response.headers["content-type"].startswith("text/plain")
    assert not [h for h in response.headers if "ratelimit" in h]


async def test_real_ids_put_an_appointment_in_progress_now_and_unwindowed_index_answers_200(
    sandbox: Sandbox, raw: httpx.AsyncClient, keys: dict[str, SandboxKey], clock: FakeClock
) -> None:
    key = keys["all_scopes"]
    assert (await call(raw, key, "GET", "/uk/v1/appointments")).status_code == 400
    sandbox.use_modes(["real-ids", "unwindowed-index"])
    assert 1 in sandbox.appointments
    now = clock.now()
    window = {"after": (now - timedelta(minutes=15)).isoformat(), "before": now.isoformat()}
    around_now = await raw.get("/uk/v1/appointments", params=window, headers=auth(key))
    assert [a["reason"] for a in around_now.json()["appointments"]] == ["Filling"]
    everything = await call(raw, key, "GET", "/uk/v1/appointments")
    assert everything.status_code == 200
    assert len(everything.json()["appointments"]) == 3
    assert sandbox.counts.records_served == 2


async def test_modes_can_be_chosen_over_http_and_unknown_ones_are_refused(
    sandbox: Sandbox, raw: httpx.AsyncClient
) -> None:
    chosen = await raw.post("/_sandbox/switches", json={"modes": ["bare-403", "lookup-first"]})
    assert chosen.status_code == 200
    assert (sandbox.switches.bare_403, sandbox.switches.lookup_before_scope) == (True, True)
    refused = await raw.post("/_sandbox/switches", json={"modes": ["kind-dentally"]})
    assert refused.status_code == 400
    assert "unknown Dentally sandbox mode" in refused.json()["error"]
    counts = await raw.get("/_sandbox/counts")
    assert counts.json() == {"created": 0, "changed": 0, "deleted": 0, "records_served": 0}


@pytest.mark.parametrize(("style", "expected"), [("space", " "), ("comma", ", "), ("off", None)])
async def test_the_scopes_header_can_be_spaced_comma_separated_or_hidden(
    sandbox: Sandbox, raw: httpx.AsyncClient, keys: dict[str, SandboxKey], style: str, expected: str | None
) -> None:
    sandbox.switches.scopes_header = style  # type: ignore[assignment]
    response = await raw.get("/uk/v1/user", headers=auth(keys["read_only"]))
    header = response.headers.get("x-oauth-scopes")
    if expected is None:
        assert header is None
    else:
        assert header == expected.join(keys["read_only"].scopes)


async def test_rate_limit_headers_count_down_and_reset_on_the_hour(
    sandbox: Sandbox, raw: httpx.AsyncClient, keys: dict[str, SandboxKey], clock: FakeClock
) -> None:
    sandbox.switches.rate_limit = 2
    clock.set(datetime(2026, 3, 2, 10, 59, 58, tzinfo=UTC))
    headers = auth(keys["all_scopes"])
    answers = [await raw.get("/uk/v1/user", headers=headers) for _ in range(3)]
    top_of_hour = str(int(datetime(2026, 3, 2, 11, tzinfo=UTC).timestamp()))

    assert [a.status_code for a in answers] == [200, 200, 403]
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["1", "0", "0"]
    assert {a.headers["x-ratelimit-reset"] for a in answers} == {top_of_hour}
    assert {a.headers["x-ratelimit-limit"] for a in answers} == {"2"}
    assert "Rate limit exceeded" in answers[2].text
    # Another key has its own budget.
    assert (await raw.get("/uk/v1/user", headers=auth(keys["read_only"]))).status_code == 200

    clock.set(datetime(2026, 3, 2, 11, 0, 1, tzinfo=UTC))
    assert (await raw.get("/uk/v1/user", headers=headers)).status_code == 200


async def test_rate_limit_blips_refuse_only_the_targeted_requests_and_only_n_times(
    sandbox: Sandbox, raw: httpx.AsyncClient, keys: dict[str, SandboxKey]
) -> None:
    sandbox.switches = sandbox.switches.model_copy(update={"rate_limit_blips": 1, "fault_target": "DELETE"})
    headers = auth(keys["all_scopes"])
    assert (await raw.get("/uk/v1/user", headers=headers)).status_code == 200
    blip = await raw.delete("/uk/v1/appointments/0", headers=headers)
    assert blip.status_code == 403
    assert "Rate limit exceeded" in blip.text
    assert int(blip.headers["x-ratelimit-remaining"]) > 0
    assert (await raw.delete("/uk/v1/appointments/0", headers=headers)).status_code == 404


async def test_server_errors_can_target_one_endpoint(
    sandbox: Sandbox, raw: httpx.AsyncClient, keys: dict[str, SandboxKey]
) -> None:
    sandbox.switches = sandbox.switches.model_copy(update={"server_error": 503, "fault_target": "POST /v1/appoint"})
    headers = auth(keys["all_scopes"])
    assert (await raw.post("/uk/v1/appointments", json={}, headers=headers)).status_code == 503
    assert (await raw.get("/uk/v1/user", headers=headers)).status_code == 200


async def test_latency_delays_every_api_answer(
    sandbox: Sandbox, raw: httpx.AsyncClient, keys: dict[str, SandboxKey]
) -> None:
    sandbox.switches.latency_ms = 120
    started = time.perf_counter()
    await raw.get("/uk/v1/user", headers=auth(keys["all_scopes"]))
    assert time.perf_counter() - started >= 0.12


async def test_a_hang_outlasts_a_short_client_timeout(
    sandbox: Sandbox, raw: httpx.AsyncClient, keys: dict[str, SandboxKey]
) -> None:
    sandbox.switches.hang_ms = 400
    with pytest.raises(httpx.ReadTimeout):
        await raw.get("/uk/v1/user", headers=auth(keys["all_scopes"]), timeout=0.1)


async def test_switches_can_be_read_and_changed_over_http(sandbox: Sandbox, raw: httpx.AsyncClient) -> None:
    changed = await raw.post("/_sandbox/switches", json={"latency_ms": 5, "scopes_header": "comma"})
    assert changed.status_code == 200
    assert (sandbox.switches.latency_ms, sandbox.switches.scopes_header) == (5, "comma")
    assert (await raw.get("/_sandbox/switches")).json()["latency_ms"] == 5

    rejected = await raw.post("/_sandbox/switches", json={"server_error": 404})
    assert rejected.status_code == 422
    assert sandbox.switches.server_error is None
    unknown = await raw.post("/_sandbox/switches", json={"no_such_switch": True})
    assert unknown.status_code == 422

    assert (await raw.post("/_sandbox/reset")).status_code == 200
    assert sandbox.switches.latency_ms == 0


async def test_requests_are_recorded_by_key_name_never_by_key(
    sandbox: Sandbox, raw: httpx.AsyncClient, keys: dict[str, SandboxKey]
) -> None:
    await raw.get("/uk/v1/user", headers=auth(keys["all_scopes"]))
    await raw.delete("/au/v1/appointments/0", headers=auth(keys["au_all_scopes"]))
    await raw.get("/uk/v1/user", headers={**UA, "Authorization": "Bearer nobody"})

    recorded = sandbox.requests
    assert [(r.method, r.path, r.region, r.status, r.key_name) for r in recorded] == [
        ("GET", "/uk/v1/user", "uk", 200, "all_scopes"),
        ("DELETE", "/au/v1/appointments/0", "au", 404, "au_all_scopes"),
        ("GET", "/uk/v1/user", "uk", 401, None),
    ]
    log = (await raw.get("/_sandbox/requests")).text
    assert len(json.loads(log)["requests"]) == 3
    for key in keys.values():
        assert key.key not in log
        assert key.key not in repr(recorded)


def test_sample_keys_are_deterministic_doorkeeper_shaped_and_distinct() -> None:
    first, second = sample_keys(), sample_keys()
    assert {n: k.key for n, k in first.items()} == {n: k.key for n, k in second.items()}
    values = [k.key for k in first.values()]
    assert len(set(values)) == len(values)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", v) for v in values)
    expected = {
        "all_scopes",
        "missing_user_read",
        "missing_appointment_read",
        "missing_appointment_create",
        "missing_appointment_update",
        "missing_appointment_delete",
        "bare_appointment",
        "read_only",
        "expired",
        "au_all_scopes",
        "no_clinic_scopes",
    }
    assert expected <= set(first)
    assert "practice:read" in first["all_scopes"].scopes
    assert "practice:read" not in first["no_clinic_scopes"].scopes
    assert first["au_all_scopes"].region == "au"
    assert first["expired"].expired


def test_the_sample_key_table_lists_every_name_key_and_description() -> None:
    table = format_sample_keys()
    for key in sample_keys().values():
        line = next(line for line in table.splitlines() if line.startswith(key.name + " "))
        assert key.key in line
        assert key.description in line


def test_a_sandbox_key_repr_hides_the_value() -> None:
    key = sample_keys()["all_scopes"]
    assert key.key not in repr(key)
