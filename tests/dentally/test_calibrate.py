"""dentally-calibrate's profile against the sandbox in several modes: what it says is what the sandbox does."""

from __future__ import annotations

import httpx
import pytest

from dentally.calibrate import calibrate, format_profile
from dentally.client import ClientFactory
from dentally.regions import Endpoints
from dentally.sandbox import Sandbox, SandboxKey, switches_for
from tests.dentally.conftest import secret


async def profile_text(http: httpx.AsyncClient, endpoints: Endpoints, keys: dict[str, SandboxKey]) -> tuple[bool, str]:
    profile = await calibrate(
        ClientFactory(http, endpoints), "uk", secret(keys["user_read_only"]), secret(keys["all_scopes"])
    )
    return profile.as_expected, format_profile(profile)


async def test_a_cooperative_dentally_is_profiled_as_scope_first_and_both_keys_come_out_as_expected(
    http: httpx.AsyncClient, endpoints: Endpoints, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    expected, text = await profile_text(http, endpoints, keys)
    assert expected
    assert "Keys accepted: User Read key 200, five-scope key 200" in text
    assert "X-OAuth-Scopes: absent (User Read key); absent (five-scope key)" in text
    assert "GET /oauth/token/info: not available (404) / not available (404)" in text
    assert "DELETE member (delete): 403, application/json, body, WWW-Authenticate" in text
    assert "PATCH member (update): 403 vs 404: the scope is checked first" in text
    assert "POST collection (create): 403 vs 400: the scope is checked first" in text
    assert "POST /v1/patients {}: 403" in text
    assert "(refused — calibrates)" in text
    assert "PATCH vs PUT: both routed" in text
    assert "As expected" in text
    assert all(k.key not in text for k in keys.values())
    assert (sandbox.counts.writes, sandbox.counts.records_served) == (0, 0)


@pytest.mark.parametrize(
    ("modes", "lines"),
    [
        (
            ["lookup-first"],
            [
                "PATCH member (update): 404 vs 404: the same with and without the scope",
                "DELETE /v1/patients/0: 404",
                "NOT refused — cannot calibrate",
                "NOT as expected",
            ],
        ),
        (["bare-403"], ["PATCH member (update): 403, no content type, empty body", "As expected"]),
        (["patch-unrouted"], ["PATCH vs PUT: only PUT behaves as routed (PATCH looks unrouted)", "As expected"]),
        (
            ["scopes-header", "token-info"],
            ["X-OAuth-Scopes: present (spaces): user:read", "GET /oauth/token/info: available, scope ['user:read']"],
        ),
    ],
)
async def test_each_behaviour_shows_in_the_profile(
    http: httpx.AsyncClient,
    endpoints: Endpoints,
    sandbox: Sandbox,
    keys: dict[str, SandboxKey],
    modes: list[str],
    lines: list[str],
) -> None:
    sandbox.reset(switches_for(modes))
    _, text = await profile_text(http, endpoints, keys)
    for line in lines:
        assert line in text, text
    assert (sandbox.counts.writes, sandbox.counts.records_served) == (0, 0)
