"""Socket Mode end to end: the bot connects through apps.connections.open, acks envelopes, survives link changes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.fakes.slack import SlackApiSandbox, Workspace
from bot.fakes.slack.socket_driver import SocketModeDriver
from bot.fakes.slack.socket_mode import SocketModeServer
from bot.runtime import Runtime, open_runtime
from bot.slack import blocks
from bot.slack.socket import socket_mode
from conversations.addresses import ConversationKey
from conversations.guide import load_guide
from dentally.sandbox import sample_keys
from tests.bot.harness import ADMIN, CLINIC, STAFF, Scenario, bot_settings, has_buttons, message_text
from tests.bot.test_key_check import open_modal, submit_key

GUIDE = load_guide()
KEYS = sample_keys()


@dataclass
class SocketWorld:
    api: SlackApiSandbox
    driver: SocketModeDriver
    scenario: Scenario
    runtime: Runtime


@pytest.fixture
async def world(state_url: str, dentally_url: str, tmp_path: Path) -> AsyncIterator[SocketWorld]:
    api = SlackApiSandbox(Workspace(), socket_mode=True)
    async with api.serve():
        settings = bot_settings(api, state_url, dentally_url, mode="socket", slack__app_token=api.workspace.app_token)
        async with (
            httpx.AsyncClient(timeout=10) as http,
            open_runtime(settings, socket_mode=True) as runtime,
        ):
            await runtime.slack.workspace.ensure()  # as `aldense-guide run --socket` does
            assert settings.slack.app_token is not None
            async with socket_mode(runtime.bolt, settings.slack.app_token.get_secret_value()):
                assert api.socket is not None
                await api.socket.wait_for_connections(1)
                driver = SocketModeDriver(api, http)
                yield SocketWorld(api, driver, Scenario(api, driver, tmp_path), runtime)


def _socket(world: SocketWorld) -> SocketModeServer:
    assert world.api.socket is not None
    return world.api.socket


async def test_the_walkthrough_and_the_key_modal_run_over_socket_mode_across_a_link_change(
    world: SocketWorld,
) -> None:
    api, driver, scenario = world.api, world.driver, world.scenario
    socket = _socket(world)
    assert [c.error for c in api.calls("apps.connections.open")] == [None]
    kickoff = await scenario.kickoff()
    await driver.click(ADMIN, kickoff, blocks.ACTION_START)
    for index, step in enumerate(GUIDE.steps[:-1]):
        message = await scenario.latest_step(ADMIN, title=step.title)
        if index == 2:
            # Slack rotates the link: the client asks for a new one and carries on there.
            await socket.disconnect("refresh_requested")
            await socket.wait_for_connections(2)
        if index == 5:
            await socket.drop()  # and a connection that just drops is replaced too
            await socket.wait_for_connections(3)
        delivery = await driver.click(ADMIN, message, blocks.ACTION_DONE)
        assert delivery.ack is None  # a click is acked with an empty envelope
        closed = await driver.wait_for(lambda m=message: not has_buttons(api.message(CLINIC, m.ts)))
        assert closed
    key_step = await scenario.latest_step(ADMIN, title=GUIDE.steps[-1].title)
    await open_modal(driver, key_step)
    delivery = await submit_key(driver, KEYS["all_scopes"].key)
    assert delivery.ack["response_action"] == "update"  # answered in the ack's payload
    await driver.wait_for(
        lambda: any("Dentally is connected" in message_text(m) for m in driver.user_thread(CLINIC, ADMIN)), 10
    )
    assert len(api.calls("apps.connections.open")) == 3
    assert all(sent.ack is not None for sent in socket.sent)  # every envelope was acknowledged
    # A person's key never travels back over the socket in an ack.
    assert all(KEYS["all_scopes"].key not in json.dumps(sent.ack.payload) for sent in socket.sent if sent.ack)


async def test_a_redelivered_envelope_is_handled_once(world: SocketWorld) -> None:
    api, driver, scenario = world.api, world.driver, world.scenario
    await scenario.kickoff()
    first = await driver.mention(ADMIN, CLINIC, "start")
    # Slack redelivers an event it thinks went unacknowledged: same event_id, retry_attempt 1.
    again = await driver.redeliver(first, retry_num=1, retry_reason="timeout")
    assert _socket(world).sent[-1].envelope["retry_attempt"] == 1
    assert again.event_id == first.event_id
    step = await scenario.latest_step(ADMIN, title=GUIDE.steps[0].title)
    # The same click delivered twice (a retried envelope) advances the guide once.
    await driver.click(ADMIN, step, blocks.ACTION_DONE)
    await driver.click(ADMIN, step, blocks.ACTION_DONE)
    await scenario.latest_step(ADMIN, title=GUIDE.steps[1].title)
    await world.runtime.core.tasks.drain(10)
    openers = [m for m in api.messages(CLINIC) if f"<@{ADMIN}> is connecting Dentally" in m.text]
    assert len(openers) == 1
    state = await world.runtime.core.service.conversation(ConversationKey("slack", "T0ALDENSE", CLINIC, ADMIN))
    assert state is not None
    assert GUIDE.index_of(state.step_id) == 1
    assert len(driver.user_thread(CLINIC, ADMIN)) == 3  # the opener, step 1 (closed) and step 2


async def test_slash_commands_are_answered_over_socket_mode(world: SocketWorld) -> None:
    delivery = await world.driver.run_command(STAFF, "C0ONBOARD", "/aldense", "help")
    assert delivery.status_code == 200
    replies = await world.driver.wait_for(lambda: world.api.responses())
    assert "/aldense status #clinic-channel" in json.dumps(replies[-1].body)
