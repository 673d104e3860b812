"""The Teams connector stand-in enforces the connector's limits per conversation and per tenant when asked."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from bot.fakes.teams.connector import TeamsConnector
from bot.teams.limits import PER_CONVERSATION, PER_TENANT
from tests.bot.fakes.conftest import FakeClock

TOKEN = "connector-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def activity(text: str = "hi", tenant: str = "T-ALDENSE") -> dict[str, object]:
    return {"type": "message", "text": text, "conversation": {"tenantId": tenant}}


@pytest.fixture
async def connector(clock: FakeClock) -> AsyncIterator[TeamsConnector]:
    connector = TeamsConnector(TOKEN, rate_limits=True, clock=clock)
    async with connector.serve():
        yield connector


async def send(http: httpx.AsyncClient, connector: TeamsConnector, conversation: str, **body: object) -> httpx.Response:
    return await http.post(
        f"{connector.url}/v3/conversations/{conversation}/activities", json=activity(**body), headers=AUTH
    )


async def test_limits_are_off_unless_asked_for(http: httpx.AsyncClient) -> None:
    connector = TeamsConnector(TOKEN)
    async with connector.serve():
        answers = [await send(http, connector, "19:clinic") for _ in range(20)]
    assert {a.status_code for a in answers} == {201}


async def test_a_burst_in_one_conversation_gets_429_with_retry_after_then_succeeds(
    connector: TeamsConnector, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    two_seconds = PER_CONVERSATION[0]
    answers = [await send(http, connector, "19:clinic") for _ in range(two_seconds.burst)]
    assert {a.status_code for a in answers} == {201}

    refused = await send(http, connector, "19:clinic")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"  # one token of 8 per 2 s is 0.25 s, said in whole seconds
    assert refused.json()["error"]["code"] == "Throttled"
    # A thread of the conversation counts against the conversation; another conversation has its own budget.
    assert (await send(http, connector, "19:clinic;messageid=1")).status_code == 429
    assert (await send(http, connector, "19:other")).status_code == 201

    clock.now += 0.25
    assert (await send(http, connector, "19:clinic")).status_code == 201
    assert len(connector.messages("19:clinic")) == two_seconds.burst + 1


async def test_the_thirty_second_window_holds_after_the_two_second_one_refills(
    connector: TeamsConnector, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    thirty_seconds = PER_CONVERSATION[1]
    sent = 0
    for _ in range(200):  # a steady four a second: within 8 per 2 s, over 60 per 30 s
        sent += (await send(http, connector, "19:clinic")).status_code == 201
        clock.now += 0.25
    assert sent < 200
    # 200 calls over 50 s: the 30 s bucket's 60, plus its refill of 2 a second for 50 s.
    assert sent == pytest.approx(thirty_seconds.burst + 50 * thirty_seconds.rate, abs=2)


async def test_the_tenant_limit_spans_conversations(connector: TeamsConnector, http: httpx.AsyncClient) -> None:
    answers = [await send(http, connector, f"19:c{n}") for n in range(PER_TENANT.burst + 1)]
    assert [a.status_code for a in answers] == [201] * PER_TENANT.burst + [429]
    # Another tenant's budget is its own.
    assert (await send(http, connector, "19:elsewhere", tenant="T-OTHER")).status_code == 201


async def test_the_switch_over_http(http: httpx.AsyncClient, clock: FakeClock) -> None:
    connector = TeamsConnector(TOKEN, clock=clock)
    async with connector.serve():
        switch = f"{connector.url}/_sandbox/rate_limits"
        assert (await http.post(switch, json={"enabled": 1})).status_code == 400
        assert (await http.post(switch, json={"enabled": True})).json()["rate_limits"] is True
        answers = [await send(http, connector, "19:clinic") for _ in range(PER_CONVERSATION[0].burst + 1)]
        assert answers[-1].status_code == 429
        await http.post(switch, json={"enabled": False})
        assert (await send(http, connector, "19:clinic")).status_code == 201
