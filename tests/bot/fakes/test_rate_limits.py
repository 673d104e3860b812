"""The Slack stand-in enforces Slack's rate limits when asked, and answers a call over them exactly as Slack does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.metrics import Metrics
from bot.fakes.slack import SlackApiSandbox, Workspace
from bot.slack.client import slack_client
from bot.slack.limits import POST_PER_CHANNEL, POST_PER_WORKSPACE, TIER_3, TIER_4
from tests.bot.fakes.conftest import FakeClock

CLINIC = "C0CLINIC"
ONBOARD = "C0ONBOARD"


async def call(http: httpx.AsyncClient, api: SlackApiSandbox, method: str, **params: str) -> httpx.Response:
    """One Web API call over real HTTP, so the status and headers can be read as Slack sent them."""
    headers = {"Authorization": f"Bearer {api.workspace.bot_token}"}
    return await http.post(f"{api.api_url}{method}", data=params, headers=headers)


@pytest.fixture
async def limited(clock: FakeClock) -> AsyncIterator[SlackApiSandbox]:
    sandbox = SlackApiSandbox(Workspace(), clock=clock, rate_limits=True)
    async with sandbox.serve():
        yield sandbox


async def test_limits_are_off_unless_asked_for(api: SlackApiSandbox, http: httpx.AsyncClient) -> None:
    assert not api.rate_limits
    answers = [await call(http, api, "chat.postMessage", channel=CLINIC, text="hi") for _ in range(10)]
    assert {a.status_code for a in answers} == {200}


async def test_a_burst_of_chat_update_gets_429_with_retry_after_then_succeeds_after_waiting(
    limited: SlackApiSandbox, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    ts = (await call(http, limited, "chat.postMessage", channel=CLINIC, text="Step 1")).json()["ts"]
    burst = [await call(http, limited, "chat.update", channel=CLINIC, ts=ts, text="x") for _ in range(TIER_3.burst)]
    assert {a.status_code for a in burst} == {200}

    refused = await call(http, limited, "chat.update", channel=CLINIC, ts=ts, text="x")
    assert refused.status_code == 429
    assert refused.json() == {"ok": False, "error": "ratelimited"}
    assert refused.headers["Retry-After"] == "2"  # one token of 50 a minute is 1.2 s, said in whole seconds

    clock.now += 1.0
    assert (await call(http, limited, "chat.update", channel=CLINIC, ts=ts, text="x")).status_code == 429
    clock.now += 0.2
    assert (await call(http, limited, "chat.update", channel=CLINIC, ts=ts, text="x")).status_code == 200
    # A refused call is recorded (the benchmarks count them) and spends nothing.
    assert [c.status for c in limited.calls("chat.update")].count(429) == 2


async def test_each_method_has_its_own_budget(limited: SlackApiSandbox, http: httpx.AsyncClient) -> None:
    for _ in range(TIER_4.burst):
        assert (await call(http, limited, "users.info", user="U0ADMIN")).status_code == 200
    assert (await call(http, limited, "users.info", user="U0ADMIN")).status_code == 429
    assert (await call(http, limited, "conversations.info", channel=CLINIC)).status_code == 200


async def test_chat_post_message_is_limited_per_channel(
    limited: SlackApiSandbox, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    for _ in range(POST_PER_CHANNEL.burst):
        assert (await call(http, limited, "chat.postMessage", channel=CLINIC, text="hi")).status_code == 200
    refused = await call(http, limited, "chat.postMessage", channel=CLINIC, text="hi")
    assert (refused.status_code, refused.headers["Retry-After"]) == (429, "1")
    # Another channel has its own budget.
    assert (await call(http, limited, "chat.postMessage", channel=ONBOARD, text="hi")).status_code == 200
    clock.now += 1.0
    assert (await call(http, limited, "chat.postMessage", channel=CLINIC, text="hi")).status_code == 200
    assert len(limited.messages(CLINIC)) == POST_PER_CHANNEL.burst + 1


async def test_chat_post_message_is_limited_per_workspace(limited: SlackApiSandbox, http: httpx.AsyncClient) -> None:
    # Spread over many channels, no channel is over its own limit; the workspace's is what refuses.
    channels = [f"C{n:04d}" for n in range(POST_PER_WORKSPACE.burst + 1)]
    answers = [await call(http, limited, "chat.postMessage", channel=c, text="hi") for c in channels]
    assert [a.status_code for a in answers] == [200] * POST_PER_WORKSPACE.burst + [429]
    assert answers[-1].headers["Retry-After"] == "1"


async def test_the_switch_over_http_turns_limits_on_and_refills_them(
    api: SlackApiSandbox, http: httpx.AsyncClient
) -> None:
    base = f"{api.url}/_sandbox"
    assert (await http.post(f"{base}/rate_limits", json={"enabled": "yes"})).status_code == 400
    assert (await http.post(f"{base}/rate_limits", json={"enabled": True})).json()["rate_limits"] is True
    assert (await http.get(f"{base}/state")).json()["rate_limits"] is True
    for _ in range(POST_PER_CHANNEL.burst):
        await call(http, api, "chat.postMessage", channel=CLINIC, text="hi")
    assert (await call(http, api, "chat.postMessage", channel=CLINIC, text="hi")).status_code == 429
    await http.post(f"{base}/rate_limits", json={"enabled": False})
    await http.post(f"{base}/rate_limits", json={"enabled": True})
    assert (await call(http, api, "chat.postMessage", channel=CLINIC, text="hi")).status_code == 200


async def test_the_bots_client_spends_the_budget_without_a_429_and_every_update_lands() -> None:
    sandbox = SlackApiSandbox(Workspace(), rate_limits=True)  # the real clock: the client really waits
    async with sandbox.serve():
        client: AsyncWebClient = slack_client(sandbox.workspace.bot_token, sandbox.api_url, Metrics())
        try:
            ts = (await client.chat_postMessage(channel=CLINIC, text="Step 1"))["ts"]
            updates = [client.chat_update(channel=CLINIC, ts=ts, text=f"v{n}") for n in range(TIER_3.burst + 2)]
            answers = await asyncio.gather(*updates)
        finally:
            assert client.session is not None
            await client.session.close()
    assert all(a["ok"] for a in answers)
    statuses = [c.status for c in sandbox.calls("chat.update")]
    assert statuses == [200] * (TIER_3.burst + 2)  # the scheduler waits for budget instead of sending into a 429
