"""The Dentally client: request hygiene, rate-limit headers, error mapping, and round trips against the sandbox."""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from dentally import errors
from dentally.client import (
    ClientFactory,
    DentallyClient,
    PingStatus,
    RateLimit,
    default_user_agent,
    parse_scopes_header,
)
from dentally.regions import Endpoints
from dentally.sandbox import Sandbox, SandboxKey
from tests.dentally.conftest import FakeClock, secret

TOKEN = "Zq7_tK2mV9xP4rL8wN3bH6yJ1cF5dG0sA-eU7iO2kQ4"
BASE = "https://api.dentally.co"

Handler = Callable[[httpx.Request], httpx.Response]


def client_with(handler: Handler, *, timeout: float = 15.0, token: str = TOKEN) -> DentallyClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return DentallyClient(http, base_url=BASE, token=SecretStr(token), timeout=timeout)


def answer(status: int, body: Any = None, *, headers: dict[str, str] | None = None, text: str | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handler


async def test_every_request_carries_bearer_auth_user_agent_accept_and_the_timeout() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"user": {"id": 7, "first_name": "Ada"}})

    user = await client_with(handler, timeout=4.5).get_user()

    assert user.id == 7
    (request,) = seen
    assert str(request.url) == "https://api.dentally.co/v1/user"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["accept"] == "application/json"
    assert re.fullmatch(r"AldenseGuide/\S+ \(\+https://aldense\.com\)", request.headers["user-agent"])
    assert request.headers["user-agent"] == default_user_agent()
    assert request.extensions["timeout"] == {"connect": 4.5, "read": 4.5, "write": 4.5, "pool": 4.5}


async def test_a_base_url_with_a_path_keeps_it_before_v1() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"practice": {"name": "X"}})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = ClientFactory(http, Endpoints("http://127.0.0.1:1/{region}")).for_region("ca", SecretStr(TOKEN))
    await client.get_practice()
    assert seen == ["http://127.0.0.1:1/ca/v1/practice"]


async def test_unversioned_paths_are_refused_before_sending() -> None:
    client = client_with(answer(200, {}))
    with pytest.raises(ValueError, match="/v1/"):
        await client.request("GET", "/user")


@pytest.mark.parametrize("bad", ["", "has space", "line\nbreak", "naïve-token-value", "tab\there"])
def test_a_key_that_cannot_be_a_header_is_refused_without_quoting_it(bad: str) -> None:
    with pytest.raises(errors.MalformedKey) as caught:
        client_with(answer(200, {}), token=bad)
    assert isinstance(caught.value, ValueError)
    if bad:
        assert bad not in str(caught.value)


def test_an_empty_user_agent_is_refused() -> None:
    with pytest.raises(ValueError, match="User-Agent"):
        DentallyClient(httpx.AsyncClient(), base_url=BASE, token=SecretStr(TOKEN), user_agent=" ")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            {"X-RateLimit-Limit": "3600", "X-RateLimit-Remaining": "3599", "X-RateLimit-Reset": "1772449200"},
            RateLimit(3600, 3599, 1772449200.0, None),
        ),
        (
            {"RateLimit-Limit": "3600", "RateLimit-Remaining": "12", "RateLimit-Reset-After": "30"},
            RateLimit(3600, 12, None, 30.0),
        ),
        ({"RateLimit-Reset": "45"}, RateLimit(None, None, None, 45.0)),
        # The IETF header sent as an epoch (some servers do) is a time, not a 56-year wait.
        ({"RateLimit-Reset": "1772449200"}, RateLimit(None, None, 1772449200.0, None)),
        ({"Retry-After": "7"}, RateLimit(None, None, None, 7.0)),
        ({"Retry-After": "Mon, 02 Mar 2026 11:00:00 GMT"}, RateLimit(None, None, 1772449200.0, None)),
        # A small X-RateLimit-Reset is a wait, not a date in 1970.
        ({"X-RateLimit-Reset": "90"}, RateLimit(None, None, None, 90.0)),
        ({"X-RateLimit-Remaining": "0", "RateLimit-Remaining": "50"}, RateLimit(None, 0, None, None)),
        ({"X-RateLimit-Limit": "lots", "X-RateLimit-Remaining": ""}, RateLimit()),
        ({}, RateLimit()),
    ],
)
def test_rate_limit_headers_of_both_families_are_read(headers: dict[str, str], expected: RateLimit) -> None:
    assert RateLimit.from_headers(httpx.Headers(headers)) == expected


_header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30)


@given(
    st.dictionaries(
        st.sampled_from(
            ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Reset", "Retry-After"]
        ),
        _header_text,
    )
)
def test_rate_limit_parsing_never_raises_and_never_waits_a_negative_time(headers: dict[str, str]) -> None:
    parsed = RateLimit.from_headers(httpx.Headers(headers))
    wait = parsed.seconds_until_reset(datetime(2026, 3, 2, 10, 30, tzinfo=UTC))
    assert wait is None or wait >= 0


def test_seconds_until_reset_counts_from_now_to_the_reset_time() -> None:
    now = datetime(2026, 3, 2, 10, 59, 30, tzinfo=UTC)
    limit = RateLimit(reset_at=datetime(2026, 3, 2, 11, tzinfo=UTC).timestamp())
    assert limit.seconds_until_reset(now) == 30
    assert limit.reset_time(now) == datetime(2026, 3, 2, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("user:read appointment:read", ("user:read", "appointment:read")),
        ("user:read,appointment", ("user:read", "appointment")),
        (" user:read ,  appointment:create user:read ", ("user:read", "appointment:create")),
        ("", ()),
        (None, None),
    ],
)
def test_the_scopes_header_splits_on_spaces_or_commas(value: str | None, expected: tuple[str, ...] | None) -> None:
    assert parse_scopes_header(value) == expected


_SCOPE_CHALLENGE = 'Bearer realm="Dentally", error="insufficient_scope"'
_TOKEN_CHALLENGE = 'Bearer realm="Dentally", error="invalid_token", error_description="The access token expired"'


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (answer(400, {"error": "param is missing"}), errors.BadRequest),
        (answer(401, {"error": "invalid_token"}, headers={"WWW-Authenticate": _TOKEN_CHALLENGE}), errors.Unauthorized),
        (answer(403, None, headers={"WWW-Authenticate": _SCOPE_CHALLENGE}, text=""), errors.InsufficientScope),
        (answer(403, {"error": "insufficient_scope"}), errors.InsufficientScope),
        (answer(403, {"error": "Rate limit exceeded"}), errors.RateLimited),
        (answer(403, None, text="Rate limit exceeded. Retry later."), errors.RateLimited),
        (answer(429, {"error": "slow down"}, headers={"Retry-After": "3"}), errors.RateLimited),
        (answer(403, {"error": "User-Agent required"}), errors.Forbidden),
        (answer(404, {"error": "Not found"}), errors.NotFound),
        (answer(422, {"errors": {"start_time": ["must be in the future"]}}), errors.Unprocessable),
        (answer(502, None, text="<html><body>Bad gateway</body></html>"), errors.ServerError),
        (answer(409, {"error": "conflict"}), errors.UnexpectedResponse),
        (answer(200, {"users": []}), errors.UnexpectedResponse),
        (answer(200, None, text="not json"), errors.UnexpectedResponse),
        (answer(200, {"user": ["not", "an", "object"]}), errors.UnexpectedResponse),
    ],
)
async def test_each_unusable_answer_raises_its_own_exception(
    handler: Handler, expected: type[errors.ResponseError]
) -> None:
    with pytest.raises(errors.ResponseError) as caught:
        await client_with(handler).get_user()
    assert type(caught.value) is expected
    assert caught.value.response.method == "GET"


async def test_error_messages_are_read_defensively_from_whatever_came_back() -> None:
    cases = {
        answer(401, {"error": "invalid_token", "error_description": "The access token expired"}): (
            "invalid_token; The access token expired"
        ),
        answer(422, {"errors": {"finish_time": ["must be after the start time"]}}): (
            "finish_time: must be after the start time"
        ),
        answer(403, None, headers={"WWW-Authenticate": _SCOPE_CHALLENGE}, text=""): _SCOPE_CHALLENGE,
        answer(
            502, None, text="<html>\n  <body>Bad   gateway</body>\n</html>"
        ): "<html> <body>Bad gateway</body> </html>",
    }
    for handler, summary in cases.items():
        response = await client_with(handler).request("GET", "/v1/user")
        assert response.error_summary == summary


@pytest.mark.parametrize(
    ("status", "body", "headers", "limited"),
    [
        (403, "Rate Limit Exceeded", {"Content-Type": "text/plain"}, True),
        (403, "rate limit exceeded, slow down", {}, True),
        (403, "", {"X-RateLimit-Remaining": "0"}, True),
        (403, "", {"RateLimit-Remaining": "0"}, True),
        (429, "", {}, True),
        (403, "", {"X-RateLimit-Remaining": "12"}, False),
        (403, "", {}, False),
        (404, "Rate Limit Exceeded", {}, False),
    ],
)
async def test_every_shape_of_a_rate_limit_is_recognised(
    status: int, body: str, headers: dict[str, str], limited: bool
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text=body, headers=headers)

    response = await client_with(handler).request("GET", "/v1/user")
    assert response.is_rate_limited is limited
    assert not response.is_insufficient_scope


async def test_token_info_is_asked_on_the_oauth_path_of_the_region_host() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"scope": ["user:read"]})

    response = await client_with(handler).token_info()
    assert response.body == {"scope": ["user:read"]}
    assert str(seen[0].url) == f"{BASE}/oauth/token/info"
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"


async def test_the_rate_limit_travels_with_errors() -> None:
    handler = answer(403, {"error": "Rate limit exceeded"}, headers={"X-RateLimit-Remaining": "0"})
    with pytest.raises(errors.RateLimited) as caught:
        await client_with(handler).get_user()
    assert caught.value.rate_limit.remaining == 0
    assert caught.value.status_code == 403


async def test_a_timeout_becomes_dentally_timeout_without_the_httpx_chain() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(errors.Timeout) as caught:
        await client_with(handler, timeout=0.25).get_user()
    assert "0.25 s" in str(caught.value)
    # httpx's exception keeps the request and so the Authorization header; it must not ride along.
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


async def test_a_connection_failure_becomes_a_transport_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(errors.TransportError) as caught:
        await client_with(handler).list_sites()
    assert not isinstance(caught.value, errors.Timeout)
    assert "ConnectError" in str(caught.value)
    assert caught.value.path == "/v1/sites"


async def test_no_exception_text_repr_or_traceback_contains_the_key() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        # A pathological server that quotes the Authorization header back at us.
        header = request.headers["authorization"]
        return httpx.Response(
            401,
            json={"error": "invalid_token", "error_description": f"bad header {header}"},
            headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{header}"'},
        )

    def explode(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused {request.headers['authorization']}", request=request)

    def stall(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    raised: list[BaseException] = []
    for handler in (echo, explode, stall):
        client = client_with(handler)
        with pytest.raises(errors.DentallyError) as caught:
            await client.get_user()
        raised.append(caught.value)
        assert TOKEN not in repr(client)
    response = await client_with(echo).request("GET", "/v1/user")
    for exc in raised:
        rendered = "".join(traceback.format_exception(exc))
        for text in (str(exc), repr(exc), rendered):
            assert TOKEN not in text
    assert "[redacted]" in str(raised[0])
    for text in (response.text, response.www_authenticate, response.error_summary, repr(response)):
        assert TOKEN not in text


async def test_typed_methods_round_trip_an_appointment_through_the_sandbox(
    sandbox_url: str, http: httpx.AsyncClient, keys: dict[str, SandboxKey], clock: FakeClock
) -> None:
    client = ClientFactory(http, Endpoints(f"{sandbox_url}/{{region}}")).for_region("uk", secret(keys["all_scopes"]))
    start = clock.now() + timedelta(days=3)

    created = await client.create_appointment(
        {
            "start_time": start.isoformat(),
            "finish_time": (start + timedelta(minutes=20)).isoformat(),
            "practitioner_id": 1,
        }
    )
    listed = await client.list_appointments(start, start + timedelta(minutes=1))
    updated = await client.update_appointment(created.id, {"reason": "Filling"})
    await client.delete_appointment(created.id)

    assert [a.id for a in listed] == [created.id]
    assert listed[0].start_time == start
    assert updated.reason == "Filling"
    with pytest.raises(errors.NotFound):
        await client.delete_appointment(created.id)
    with pytest.raises(errors.Unprocessable):
        await client.create_appointment({"start_time": start.isoformat()})


async def test_typed_methods_read_user_practice_and_sites_from_the_sandbox(
    sandbox_url: str, http: httpx.AsyncClient, keys: dict[str, SandboxKey]
) -> None:
    client = ClientFactory(http, Endpoints(f"{sandbox_url}/{{region}}")).for_region("au", secret(keys["au_all_scopes"]))
    user = await client.get_user()
    practice = await client.get_practice()
    sites = await client.list_sites()
    assert (user.name, user.permission_level) == ("Liam Okafor", 4)
    assert practice.name == "Harbourside Dental Studio"
    assert [s.name for s in sites] == ["Harbourside Dental Studio - Circular Quay"]


async def test_argument_checks_happen_before_anything_is_sent() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    client = client_with(handler)
    with pytest.raises(ValueError, match="aware"):
        await client.list_appointments(datetime(2026, 3, 2, 10), datetime(2026, 3, 2, 11))
    with pytest.raises(ValueError, match="per_page"):
        await client.list_appointments(datetime.now(UTC), datetime.now(UTC), per_page=101)
    with pytest.raises(ValueError, match="letters and digits"):
        await client.delete_appointment("1/../../user")
    assert sent == []


@pytest.mark.parametrize(
    ("key_name", "switches", "expected"),
    [
        ("all_scopes", {}, PingStatus.OK),
        ("expired", {}, PingStatus.INVALID),
        ("all_scopes", {"rate_limit": 0}, PingStatus.RATE_LIMITED),
        ("all_scopes", {"server_error": 503}, PingStatus.FAILED),
    ],
)
async def test_ping_reports_the_health_of_a_stored_key(
    sandbox: Sandbox,
    sandbox_url: str,
    http: httpx.AsyncClient,
    keys: dict[str, SandboxKey],
    key_name: str,
    switches: dict[str, Any],
    expected: PingStatus,
) -> None:
    sandbox.switches = sandbox.switches.model_copy(update=switches)
    client = ClientFactory(http, Endpoints(f"{sandbox_url}/{{region}}")).for_region("uk", secret(keys[key_name]))
    result = await client.ping()
    assert result.status is expected
    assert [r.path for r in sandbox.requests] == ["/uk/v1/user"]
    assert keys[key_name].key not in json.dumps(result.detail)


async def test_ping_reports_a_network_failure_without_raising() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    result = await client_with(handler).ping()
    assert result.status is PingStatus.FAILED
    assert result.http_status is None
