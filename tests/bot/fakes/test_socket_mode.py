"""The Socket Mode stand-in speaks Slack's protocol to slack_sdk's own Socket Mode client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.fakes.slack import SlackApiSandbox, SocketModeServer, Workspace
from bot.fakes.slack.socket_mode import SocketModeError


@pytest.fixture
async def api() -> AsyncIterator[SlackApiSandbox]:
    sandbox = SlackApiSandbox(Workspace(), socket_mode=True)
    async with sandbox.serve():
        yield sandbox


def _socket(api: SlackApiSandbox) -> SocketModeServer:
    assert api.socket is not None
    return api.socket


async def test_links_need_the_app_level_token_and_serve_one_connection(api: SlackApiSandbox) -> None:
    ws = api.workspace
    with pytest.raises(SlackApiError) as refused:
        await AsyncWebClient(token=ws.bot_token, base_url=api.api_url).apps_connections_open(app_token=ws.bot_token)
    assert refused.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as refused:
        await AsyncWebClient(base_url=api.api_url).chat_postMessage(token=ws.app_token, channel="C0CLINIC", text="x")
    assert refused.value.response["error"] == "not_allowed_token_type"
    link = (await AsyncWebClient(base_url=api.api_url).apps_connections_open(app_token=ws.app_token))["url"]
    assert link.startswith("ws://127.0.0.1:")
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(link) as socket:
            hello = json.loads(await socket.receive_str())
            assert hello["type"] == "hello"
            assert hello["connection_info"] == {"app_id": ws.app_id}
            assert hello["num_connections"] == 1
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await session.ws_connect(link)  # a link is good for one connection


async def test_envelopes_reach_slack_sdks_client_and_its_acks_come_back(api: SlackApiSandbox) -> None:
    socket = _socket(api)
    web = AsyncWebClient(base_url=api.api_url)
    client = SocketModeClient(app_token=api.workspace.app_token, web_client=web)
    received: list[SocketModeRequest] = []

    async def listener(client: SocketModeClient, request: SocketModeRequest) -> None:
        received.append(request)
        answer = {"response_action": "clear"} if request.type == "interactive" else None
        await client.send_socket_mode_response(SocketModeResponse(request.envelope_id, payload=answer))

    client.socket_mode_request_listeners.append(listener)  # type: ignore[arg-type]
    await client.connect()
    try:
        await socket.wait_for_connections(1)
        event = await socket.send("events_api", {"type": "event_callback", "event_id": "Ev1"}, retry_attempt=1)
        assert event.payload is None
        assert received[-1].retry_attempt == 1
        submission = await socket.send("interactive", {"type": "view_submission"}, accepts_response_payload=True)
        assert submission.payload == {"response_action": "clear"}
        assert received[-1].accepts_response_payload is True
        # Slack asks the client to move: it opens a new link and the next envelope arrives there.
        await socket.disconnect("refresh_requested")
        await socket.wait_for_connections(2)
        await socket.send("events_api", {"type": "event_callback", "event_id": "Ev2"})
        assert len(api.calls("apps.connections.open")) == 2
        assert [s.link for s in socket.sent][-1] != socket.sent[0].link
    finally:
        await client.close()


async def test_an_unacknowledged_envelope_times_out(api: SlackApiSandbox) -> None:
    socket = _socket(api)
    socket.ack_timeout = 0.2
    link = (await AsyncWebClient(base_url=api.api_url).apps_connections_open(app_token=api.workspace.app_token))["url"]
    async with aiohttp.ClientSession() as session, session.ws_connect(link) as connection:
        await connection.receive_str()  # hello; then never acknowledge
        with pytest.raises(SocketModeError, match="not acknowledged"):
            await socket.send("events_api", {"type": "event_callback", "event_id": "Ev1"})
        assert socket.sent[-1].ack is None
