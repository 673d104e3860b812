"""The Dentally key never leaks: not to logs at any level, Slack, private_metadata, the store, or exceptions."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.fakes.slack import SlackApiSandbox, SlackDriver, payloads
from bot.serving import serve
from bot.settings import load_settings
from bot.slack import blocks, modals
from dentally.sandbox import Sandbox, SandboxKey, sample_keys
from tests.bot.harness import (
    ADMIN,
    CLINIC,
    ONBOARDING,
    SIGNING_SECRET,
    Scenario,
    bot_settings,
    every_logger_at,
    message_text,
    running_bot,
)
from tests.bot.shipped import ShippedLogs
from tests.bot.test_key_check import GUIDE, open_modal, reach_key_step, submit_key
from tests.quick_stop import QUICK_STOP

# Distinctive, and shaped like a real Doorkeeper token (43 url-safe characters).
CANARY = "CanaryQ7x_Zr2W-vY8pLm3KdT9sHf4JbN6cXe1uAo5G"
# Words a clinic types in its guide thread: forwarded to support, never logged.
TYPED = "Zebra crossing question that no log line may hold"
REQUIRED = ("user:read", "appointment:read", "appointment:create", "appointment:update", "appointment:delete")


def pieces(secret: str, size: int = 8) -> set[str]:
    return {secret[index : index + size] for index in range(len(secret) - size + 1)}


def leaks(text: str) -> list[str]:
    return sorted(piece for piece in pieces(CANARY) if piece in text)


@pytest.fixture
def dentally() -> Sandbox:
    keys = sample_keys()
    keys["canary"] = SandboxKey("canary", CANARY, "the leak canary", "uk", (*REQUIRED, "practice:read"))
    return Sandbox(keys=keys)


@pytest.fixture
async def dentally_url(dentally: Sandbox) -> AsyncIterator[str]:
    async with serve(dentally, poll_seconds=QUICK_STOP) as url:
        yield url


@pytest.fixture
def every_logger_at_debug(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    with every_logger_at(logging.DEBUG):
        yield caplog


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_the_key_appears_nowhere_after_a_whole_flow(
    backend: str,
    api: SlackApiSandbox,
    tmp_path: Path,
    dentally: Sandbox,
    dentally_url: str,
    every_logger_at_debug: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
    shipped_logs: ShippedLogs,
) -> None:
    state_url = f"sqlite:///{tmp_path}/state.sqlite3"
    if backend == "redis":
        state_url = request.getfixturevalue("redis_url")
    settings = bot_settings(api, state_url, dentally_url, log_level="DEBUG")
    raised: list[BaseException] = []
    async with httpx.AsyncClient(timeout=10) as client, running_bot(settings) as running:
        driver = SlackDriver(running.url, SIGNING_SECRET, api, client)
        scenario = Scenario(api, driver, tmp_path)
        await open_modal(driver, await reach_key_step(scenario))
        # First Dentally is down (the key is kept encrypted for "Check again"), then it verifies.
        dentally.switches.server_error = 502
        await submit_key(driver, CANARY)
        down = await driver.wait_for(
            lambda: next((m for m in driver.user_thread(CLINIC, ADMIN) if "couldn't check" in message_text(m)), None)
        )
        await running.runtime.core.tasks.drain(10)
        if backend == "sqlite":
            assert_store_clean(backend, state_url)
        dentally.switches.server_error = None
        from bot.slack import results

        await driver.click(ADMIN, down, results.ACTION_CHECK_AGAIN)
        await driver.wait_for(
            lambda: any("Dentally is connected" in message_text(m) for m in driver.user_thread(CLINIC, ADMIN))
        )
        # A view_submission carrying the key with a forged, then a stale, signature: refused, body never logged.
        view = api.modal_stack(ADMIN)[-1].to_slack()
        view["state"] = {
            "values": {modals.BLOCK_KEY: {modals.ACTION_KEY: {"type": "plain_text_input", "value": CANARY}}}
        }
        ws = api.workspace
        payload = payloads.view_submission(ws, user=ws.user(ADMIN), view=view, trigger_id="1.2.forged")
        body, content_type = payloads.interactivity_body(payload)
        assert CANARY.encode() in body or CANARY in httpx.QueryParams(body.decode()).get("payload", "")
        forged = await driver.deliver(body, content_type, signing_secret="not-the-secret")
        stale = await driver.deliver(body, content_type, timestamp=int(time.time()) - 600)
        assert (forged.status_code, stale.status_code) == (401, 401)
        assert CANARY not in forged.text + stale.text
        await running.runtime.core.tasks.drain(10)
        # The connected key pasted into the guide's thread, into a mention, and a question typed there: the bot
        # listens (message events), warns, marks the connection compromised and forwards the words to support.
        thread = down.thread_ts
        assert thread is not None
        await driver.post_message(ADMIN, CLINIC, f"is this the right one? {CANARY}", thread_ts=thread)
        await driver.mention(ADMIN, CLINIC, f"resume {CANARY}", thread_ts=thread)
        await driver.post_message(ADMIN, CLINIC, TYPED, thread_ts=thread)

        async def compromised() -> bool:
            clinic = await running.runtime.core.service.clinic("slack", CLINIC)
            return clinic is not None and clinic.credential is not None and clinic.credential.exposed_at is not None

        await driver.wait_for(compromised)
        await driver.wait_for(
            lambda: any(TYPED in message_text(m) for m in api.messages(ONBOARDING, include_replies=True))
        )
        await running.runtime.core.tasks.drain(10)
        try:
            load_settings("http", slack__bot_token=CANARY)
        except Exception as exc:  # the settings error must not echo a bad value either
            raised.append(exc)
    assert raised, "a malformed bot token must be refused"

    records = every_logger_at_debug.records
    assert records, "logging was captured"
    for record in records:
        text = record.getMessage() + (record.exc_text or "") + repr(record.args)
        assert leaks(text) == [], f"{record.name}: {text[:3000]}"
        assert TYPED not in text, f"{record.name} logged what a clinic typed"
    assert_shipped_clean(shipped_logs)
    for exc in raised:
        assert leaks(str(exc) + repr(exc)) == []
    for call in api.calls():
        assert leaks(json.dumps(call.params, default=str)) == [], call.method
    for user in (ADMIN,):
        for view in api.modal_stack(user):
            assert leaks(view.payload.get("private_metadata", "")) == []
            assert leaks(json.dumps(view.payload)) == []
    assert_store_clean(backend, state_url)
    assert GUIDE.steps  # the guide ran for real


def assert_shipped_clean(shipped: ShippedLogs) -> None:
    """The lines the bot's handler wrote (text or JSON) hold no piece of the key; JSON lines carry request ids."""
    written = shipped.text()
    assert written, "the handler wrote lines"
    assert leaks(written) == [], written[:3000]
    if shipped.format == "json":
        lines = shipped.records()
        assert leaks(json.dumps(lines)) == []
        assert any("request_id" in line for line in lines)


def assert_store_clean(backend: str, state_url: str) -> None:
    if backend == "sqlite":
        path = Path(state_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert raw, "the store file exists"
        assert leaks(raw.decode("latin-1")) == []
        with sqlite3.connect(path) as db:
            rows = db.execute("SELECT data FROM records").fetchall()
        assert any("credential" in row[0] for row in rows)
        return
    client = redis.Redis.from_url(state_url)
    dump = []
    for key in client.scan_iter():
        kind = client.type(key)
        dump.append(key)
        if kind == b"hash":
            dump.extend(b"%s=%s" % pair for pair in client.hgetall(key).items())
        elif kind == b"string":
            dump.append(client.get(key) or b"")
        elif kind == b"zset":
            dump.extend(member for member in client.zrange(key, 0, -1))
    assert dump, "the store has data"
    assert leaks(b"\n".join(dump).decode("latin-1")) == []


def test_the_leak_check_can_fail() -> None:
    assert leaks(f"x{CANARY[10:18]}y") == [CANARY[10:18]]
    assert blocks.ACTION_ENTER_KEY  # the flow's buttons exist


def test_keys_rotate_leaves_no_piece_of_a_key_in_its_output_or_the_store(tmp_path: Path) -> None:
    from pydantic import SecretStr

    from conversations.vault import KeyVault, new_secret
    from tests.bot.test_cli import _seed_clinics, run_cli

    old, new, lost = new_secret(), new_secret(), new_secret()
    state_url = f"sqlite:///{tmp_path}/state.sqlite3"
    canary = SecretStr(CANARY)
    _seed_clinics(state_url, C1=KeyVault([old]).encrypt(canary), C2=KeyVault([lost]).encrypt(canary))

    result = run_cli("keys", "rotate", env={"STATE_URL": state_url, "KEY_ENCRYPTION_KEYS": f"{new},{old}"})

    assert result.returncode == 1  # C2 cannot be decrypted
    assert "rotated: 1" in result.stdout
    assert leaks(result.stdout + result.stderr) == []
    assert_store_clean("sqlite", state_url)


async def test_a_durable_hand_off_leaves_no_piece_of_the_key_in_logs_or_the_store(
    api: SlackApiSandbox,
    tmp_path: Path,
    dentally_url: str,
    every_logger_at_debug: pytest.LogCaptureFixture,
) -> None:
    from pydantic import SecretStr

    from bot.core.handoffs import RETRY_DELAYS
    from tests.bot.harness import MovableClock
    from tests.bot.test_key_check import HANDOFF_SECRET

    received: list[bytes] = []
    answers = [503] * 4  # the first round fails; the due queue delivers it later

    async def take(request: Request) -> Response:
        body = await request.body()
        status = answers.pop(0) if answers else 200
        if status == 200:
            received.append(body)
        return JSONResponse({}, status_code=status)

    state_url = f"sqlite:///{tmp_path}/state.sqlite3"
    clock = MovableClock()
    async with serve(
        Starlette(routes=[Route("/keys", take, methods=["POST"])]), poll_seconds=QUICK_STOP
    ) as receiver_url:
        settings = bot_settings(
            api,
            state_url,
            dentally_url,
            log_level="DEBUG",
            support__handoff_url=f"{receiver_url}/keys",
            support__handoff_secret=SecretStr(HANDOFF_SECRET),
            support__handoff_allow_private=True,
        )
        async with httpx.AsyncClient(timeout=10) as client, running_bot(settings, clock) as running:
            driver = SlackDriver(running.url, SIGNING_SECRET, api, client, clock=clock)
            scenario = Scenario(api, driver, tmp_path)
            await open_modal(driver, await reach_key_step(scenario))
            await submit_key(driver, CANARY)
            await driver.wait_for(lambda: not answers, timeout=15)
            await running.runtime.core.tasks.drain(10)
            assert_store_clean("sqlite", state_url)  # pending: only ciphertext at rest
            clock.advance(RETRY_DELAYS[0] + 1)
            await running.runtime.scheduler.run_once()
            await running.runtime.core.tasks.drain(10)
    assert len(received) == 1
    assert CANARY.encode() in received[0]  # the receiver, and only the receiver, got the key
    for record in every_logger_at_debug.records:
        text = record.getMessage() + (record.exc_text or "") + repr(record.args)
        assert leaks(text) == [], f"{record.name}: {text[:3000]}"
    for call in api.calls():
        assert leaks(json.dumps(call.params, default=str)) == [], call.method
    assert_store_clean("sqlite", state_url)
