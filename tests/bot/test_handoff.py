"""End to end over signed HTTP: the durable hand-off of a verified key to a loopback receiver.

Saved with the verdict, tried at once, retried from its own due queue, never sent twice by two replicas, done even
when the clinic's channel refuses the result, told to support on final failure, and re-sent by staff.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.core.handoff import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from bot.core.handoffs import FIRST_TRY_GRACE, RETRY_DELAYS
from bot.fakes.slack import SlackApiSandbox, SlackDriver
from bot.fakes.slack.api import Message
from bot.runtime import Runtime
from bot.serving import serve
from bot.slack.support import blocks as support_blocks
from conversations.addresses import HANDOFF_QUEUE, clinic_key
from dentally.sandbox import sample_keys
from tests.bot.harness import (
    ADMIN,
    CLINIC,
    ONBOARDING,
    SIGNING_SECRET,
    STAFF,
    MovableClock,
    Scenario,
    action_ids,
    bot_settings,
    message_text,
    running_bot,
)
from tests.bot.test_key_check import HANDOFF_SECRET, open_modal, reach_key_step, submit_key
from tests.quick_stop import QUICK_STOP

KEYS = sample_keys()
KEY = KEYS["all_scopes"].key


@dataclass
class Receiver:
    """A loopback hand-off receiver: checks the signature, answers ``statuses`` in turn (then 200), may hold."""

    url: str = ""
    received: list[dict[str, object]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    arrived: int = 0
    gate: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    taker = Receiver()
    taker.gate.set()

    async def take(request: Request) -> Response:
        body = await request.body()
        if request.headers[SIGNATURE_HEADER] != sign(HANDOFF_SECRET, request.headers[TIMESTAMP_HEADER], body):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        taker.arrived += 1
        await taker.gate.wait()
        status = taker.statuses.pop(0) if taker.statuses else 200
        if status == 200:
            taker.received.append(json.loads(body))
        return JSONResponse({}, status_code=status)

    async with serve(Starlette(routes=[Route("/keys", take, methods=["POST"])]), poll_seconds=QUICK_STOP) as url:
        taker.url = f"{url}/keys"
        yield taker


@dataclass
class World:
    api: SlackApiSandbox
    driver: SlackDriver
    scenario: Scenario
    runtime: Runtime
    clock: MovableClock
    receiver: Receiver


@pytest.fixture
async def world(
    api: SlackApiSandbox, state_url: str, dentally_url: str, receiver: Receiver, tmp_path: Path
) -> AsyncIterator[World]:
    clock = MovableClock()
    settings = bot_settings(
        api,
        state_url,
        dentally_url,
        support__handoff_url=receiver.url,
        support__handoff_secret=SecretStr(HANDOFF_SECRET),
        support__handoff_allow_private=True,
    )
    async with httpx.AsyncClient(timeout=10) as http, running_bot(settings, clock) as running:
        driver = SlackDriver(running.url, SIGNING_SECRET, api, http, clock=clock)
        yield World(api, driver, Scenario(api, driver, tmp_path), running.runtime, clock, receiver)


def cards(api: SlackApiSandbox) -> list[Message]:
    return [m for m in api.messages(ONBOARDING) if not m.is_reply]


def thread_texts(api: SlackApiSandbox) -> list[str]:
    return [m.text for card in cards(api) for m in api.thread(ONBOARDING, card.ts) if m.is_reply]


async def settle(world: World) -> None:
    await world.runtime.core.tasks.drain(30)


async def submit_verified_key(world: World) -> None:
    await open_modal(world.driver, await reach_key_step(world.scenario))
    await submit_key(world.driver, KEY)


async def handoff_state(world: World) -> str | None:
    clinic = await world.runtime.core.service.clinic("slack", CLINIC)
    assert clinic is not None
    assert clinic.credential is not None
    return clinic.credential.handoff


async def test_the_hand_off_happens_even_when_the_clinic_channel_refuses_the_result(world: World) -> None:
    message = await reach_key_step(world.scenario)
    await open_modal(world.driver, message)
    # The bot is removed from the clinic's channel while the key is checked: the "connected" post is refused.
    channel = world.api.workspace.find_channel(CLINIC)
    assert channel is not None
    channel.members.remove(world.api.workspace.bot_user_id)
    await submit_key(world.driver, KEY)
    await world.driver.wait_for(lambda: world.receiver.received, timeout=15)
    await settle(world)
    assert not any("Dentally is connected" in message_text(m) for m in world.api.messages(CLINIC))
    assert world.receiver.received[0]["key"] == KEY
    assert sum("handed to Aldense" in t for t in thread_texts(world.api)) == 1
    assert await handoff_state(world) == "delivered"


async def test_a_receiver_that_is_down_gets_the_key_from_the_due_queue_later(world: World) -> None:
    world.receiver.statuses.extend([503] * 4)  # the whole first round (four attempts)
    await submit_verified_key(world)
    await world.driver.wait_for(lambda: world.receiver.arrived == 4, timeout=15)
    await settle(world)
    assert world.receiver.received == []
    assert await handoff_state(world) == "pending"
    assert "not delivered yet" in message_text(cards(world.api)[0])
    assert not any("Hand-off of key" in t for t in thread_texts(world.api))  # not a final failure: no alarm

    await world.runtime.scheduler.run_once()  # not due yet: nothing is sent
    assert world.receiver.arrived == 4
    world.clock.advance(RETRY_DELAYS[0] + 1)
    await world.runtime.scheduler.run_once()
    await settle(world)
    assert len(world.receiver.received) == 1
    assert world.receiver.received[0]["key"] == KEY
    assert world.receiver.received[0]["clinic"] == {"name": "Maple Leaf Dental", "channel": CLINIC, "team": "T0ALDENSE"}
    assert await handoff_state(world) == "delivered"
    assert sum("handed to Aldense" in t for t in thread_texts(world.api)) == 1
    world.clock.advance(max(RETRY_DELAYS) + FIRST_TRY_GRACE)
    await world.runtime.scheduler.run_once()
    assert len(world.receiver.received) == 1  # delivered once, never again


async def test_the_first_try_and_two_replicas_schedulers_send_the_key_once(world: World) -> None:
    world.receiver.gate.clear()  # the receiver holds the first try's request
    await submit_verified_key(world)
    await world.driver.wait_for(lambda: world.receiver.arrived == 1, timeout=15)
    # Saved with the verdict: pending, and queued, while the first try is still in flight.
    assert await handoff_state(world) == "pending"
    queued = await world.runtime.core.service.store.claim_due(HANDOFF_QUEUE, world.clock() + 10 * 86400, 0.001, 10)
    assert queued == [clinic_key("slack", CLINIC)]
    world.clock.advance(FIRST_TRY_GRACE + 1)
    await asyncio.gather(world.runtime.scheduler.run_once(), world.runtime.scheduler.run_once())
    assert world.receiver.arrived == 1  # the lease held: neither replica sent it again
    world.receiver.gate.set()
    await world.driver.wait_for(lambda: world.receiver.received, timeout=15)
    await settle(world)
    world.clock.advance(max(RETRY_DELAYS) + 600)
    await world.runtime.scheduler.run_once()
    await settle(world)
    assert world.receiver.arrived == 1
    assert len(world.receiver.received) == 1


async def test_a_final_failure_tells_support_once_and_staff_re_send_it(world: World) -> None:
    world.receiver.statuses.append(400)  # not worth retrying: a final failure at once
    await submit_verified_key(world)
    await world.driver.wait_for(lambda: any("Hand-off of key" in t for t in thread_texts(world.api)), timeout=15)
    await settle(world)
    failures = [t for t in thread_texts(world.api) if "Hand-off of key" in t]
    assert len(failures) == 1
    assert "Re-send hand-off" in failures[0]
    assert await handoff_state(world) == "failed"
    card = cards(world.api)[0]
    assert support_blocks.ACTION_RESEND_HANDOFF in action_ids(card)
    assert "hand-off to Aldense failed" in message_text(card)

    # A clinic user in the internal channel by mistake cannot re-send it.
    world.api.add_member(ONBOARDING, ADMIN)
    await world.driver.click(ADMIN, card, support_blocks.ACTION_RESEND_HANDOFF)
    refused = await world.driver.wait_for(lambda: world.driver.ephemeral(ADMIN, ONBOARDING))
    assert "Only the Aldense team" in refused[-1].text
    await settle(world)
    assert world.receiver.received == []

    await world.driver.click(STAFF, card, support_blocks.ACTION_RESEND_HANDOFF)
    await world.driver.wait_for(
        lambda: any("handed to Aldense" in e.text for e in world.driver.ephemeral(STAFF, ONBOARDING)), timeout=15
    )
    await settle(world)
    assert [r["key"] for r in world.receiver.received] == [KEY]
    assert await handoff_state(world) == "delivered"
    assert any("Hand-off re-sent by" in t for t in thread_texts(world.api))
    assert support_blocks.ACTION_RESEND_HANDOFF not in action_ids(cards(world.api)[0])
    # A second press racing the first (the card not yet refreshed) sends nothing twice.
    handoffs = world.runtime.core.handoffs
    assert handoffs is not None
    again = await handoffs.resend("slack", CLINIC)
    assert (again.what, again.detail) == ("nothing", "already delivered")
    assert len(world.receiver.received) == 1
