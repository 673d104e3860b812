"""End to end over signed HTTP: the private key modal, the Dentally check, its result, storage and hand-off."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.core import copy
from bot.core.handoff import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from bot.fakes.slack import SlackApiSandbox, SlackDriver
from bot.fakes.slack.api import Message, View
from bot.serving import serve
from bot.slack import blocks, modals, results
from conversations.guide import load_guide
from conversations.vault import KeyVault
from dentally.sandbox import Sandbox, sample_keys
from dentally.scopes import CheckResult
from tests.bot.harness import (
    ADMIN,
    CLINIC,
    ENCRYPTION_KEY,
    ONBOARDING,
    SIGNING_SECRET,
    RunningBot,
    Scenario,
    action_ids,
    bot_settings,
    message_text,
    running_bot,
)
from tests.quick_stop import QUICK_STOP

GUIDE = load_guide()
HANDOFF_SECRET = "handoff-secret-of-at-least-32-bytes-long"
KEYS = sample_keys()


async def reach_key_step(scenario: Scenario, user: str = ADMIN) -> Message:
    """Kick off, start, and click Done on every step up to the key step."""
    driver = scenario.driver
    await driver.click(user, await scenario.kickoff(), blocks.ACTION_START)
    for step in GUIDE.steps[:-1]:
        await driver.click(user, await scenario.latest_step(user, title=step.title), blocks.ACTION_DONE)
    return await scenario.latest_step(user, title=GUIDE.steps[-1].title)


async def open_modal(driver: SlackDriver, message: Message, user: str = ADMIN) -> View:
    await driver.click(user, message, blocks.ACTION_ENTER_KEY)
    return await driver.wait_for(
        lambda: (view := driver.open_view(user)) and view.callback_id == modals.KEY_VIEW and view
    )


def view_text(view: View) -> str:
    return json.dumps(view.payload)


async def submit_key(driver: SlackDriver, key: str, region: str = "uk", user: str = ADMIN, checks: bool = True):  # type: ignore[no-untyped-def]
    return await driver.submit_view(
        user,
        None,
        {modals.BLOCK_KEY: {modals.ACTION_KEY: key}, modals.BLOCK_REGION: {modals.ACTION_REGION: region}},
        client_checks=checks,
    )


async def result_in_thread(scenario: Scenario, headline: str) -> Message:
    driver = scenario.driver
    return await driver.wait_for(
        lambda: next((m for m in reversed(driver.user_thread(CLINIC, ADMIN)) if headline in message_text(m)), None),
        timeout=10,
    )


def support_texts(api: SlackApiSandbox) -> list[str]:
    parents = api.messages(ONBOARDING)
    return [m.text for parent in parents for m in api.thread(ONBOARDING, parent.ts)]


def support_reads(api: SlackApiSandbox) -> list[str]:
    """Everything a person reads in the support threads, blocks included."""
    parents = api.messages(ONBOARDING)
    return [message_text(m) for parent in parents for m in api.thread(ONBOARDING, parent.ts)]


async def test_the_modal_reassures_that_the_key_is_private_without_alarm(scenario: Scenario) -> None:
    view = await open_modal(scenario.driver, await reach_key_step(scenario))
    text = view_text(view)
    assert "Only you see this form" in text
    assert "shoulder" not in text
    assert "never shown in the channel" in text
    element = next(b["element"] for b in view.blocks if b.get("block_id") == modals.BLOCK_KEY)
    assert element["type"] == "plain_text_input"
    assert (element["min_length"], element["max_length"]) == (20, 256)
    labels = [
        o["text"]["text"]
        for b in view.blocks
        if b.get("block_id") == modals.BLOCK_REGION
        for o in b["element"]["options"]
    ]
    assert labels == ["Not sure — detect it", "UK & Ireland", "Australia & New Zealand", "Canada"]
    assert json.loads(view.payload["private_metadata"]) == {"channel": CLINIC, "owner": ADMIN}


@pytest.mark.parametrize(
    ("junk", "message"),
    [
        ("this key has spaces in it ok", "no spaces"),
        ("not-a-token!!!!!!!!!!!!!!!", "letters, digits"),
        ("   ", "Paste the key"),
        ("short", "too short"),
    ],
)
async def test_junk_gets_an_inline_error_and_nothing_is_stored(
    scenario: Scenario, bot: RunningBot, junk: str, message: str
) -> None:
    driver = scenario.driver
    await open_modal(driver, await reach_key_step(scenario))
    delivery = await submit_key(driver, junk, checks=False)
    assert delivery.ack["response_action"] == "errors"
    assert message in delivery.ack["errors"][modals.BLOCK_KEY]
    view = driver.open_view(ADMIN)
    assert view is not None
    assert message in view.errors[modals.BLOCK_KEY]
    await scenario.idle(bot)
    state = await bot.runtime.core.service.conversation(await _key(bot))
    assert state is not None
    assert state.status.value == "awaiting_key"
    assert state.key_fingerprint is None
    clinic = await bot.runtime.core.service.clinic("slack", CLINIC)
    assert clinic is not None  # created for the support thread
    assert (clinic.credential, clinic.last_check, clinic.unverified_keys) == (None, None, {})


async def test_a_verified_key_is_stored_encrypted_and_reported_by_fingerprint(
    scenario: Scenario, bot: RunningBot, api: SlackApiSandbox
) -> None:
    driver = scenario.driver
    key = KEYS["all_scopes"].key
    await open_modal(driver, await reach_key_step(scenario))
    delivery = await submit_key(driver, f"  {key}\n", region="detect")
    assert delivery.ack["response_action"] == "update"
    assert "Checking with Dentally" in json.dumps(delivery.ack["view"])
    message = await result_in_thread(scenario, "Dentally is connected")
    text = message_text(message)
    assert text.count(":white_check_mark:") >= 6
    assert "Maple Leaf Dental" in text
    assert action_ids(message) == []
    view = await driver.wait_for(
        lambda: (v := driver.open_view(ADMIN)) and "Dentally is connected" in view_text(v) and v
    )
    assert "appointment : delete" in view_text(view)
    await scenario.idle(bot)
    service = bot.runtime.core.service
    state = await service.conversation(await _key(bot))
    assert state is not None
    assert state.status.value == "verified"
    clinic = await service.clinic("slack", CLINIC)
    assert clinic is not None
    assert clinic.credential is not None
    assert clinic.credential.fingerprint == key[-4:]
    assert clinic.credential.region == "uk"
    assert key not in clinic.model_dump_json()
    assert KeyVault([ENCRYPTION_KEY]).decrypt(clinic.credential.ciphertext).get_secret_value() == key
    texts = support_texts(api)
    assert any(f"key ending `{key[-4:]}`" in t for t in texts)
    assert any("verified" in t and "appointment:delete :white_check_mark:" in t for t in texts)
    reads = await driver.wait_for(lambda: [t for t in support_reads(api) if "How each permission was decided" in t])
    assert "DELETE /v1/appointments/0 → 404 after control DELETE /v1/patients/0 → 403" in reads[0]
    assert all(key not in t for t in support_reads(api))


async def test_a_key_missing_delete_gets_fix_instructions_then_a_corrected_key_verifies(
    scenario: Scenario, bot: RunningBot, api: SlackApiSandbox
) -> None:
    driver = scenario.driver
    await open_modal(driver, await reach_key_step(scenario))
    await submit_key(driver, KEYS["missing_appointment_delete"].key)
    missing = await result_in_thread(scenario, "some permissions weren't ticked")
    text = message_text(missing)
    assert ":x: appointment : delete" in text
    assert ":white_check_mark: appointment : update" in text
    assert "Generate new token" in text
    assert "revoke the old key" in text
    assert action_ids(missing) == [blocks.ACTION_ENTER_KEY]
    await scenario.driver.wait_for(
        lambda: any("missing scopes" in t and "appointment:delete :x:" in t for t in support_texts(api))
    )
    assert any("appointment : delete: DELETE /v1/appointments/0 → 403 refused it" in t for t in support_reads(api))
    await scenario.idle(bot)
    # The Try another key button opens a fresh form; the corrected key verifies.
    await driver.close_view(ADMIN)
    await open_modal(driver, missing)
    await submit_key(driver, KEYS["all_scopes"].key)
    await result_in_thread(scenario, "Dentally is connected")
    await scenario.idle(bot)
    state = await bot.runtime.core.service.conversation(await _key(bot))
    assert state is not None
    assert state.status.value == "verified"


async def test_a_key_dentally_cannot_prove_is_never_connected_and_support_gets_the_evidence(
    scenario: Scenario, bot: RunningBot, api: SlackApiSandbox, dentally: Sandbox
) -> None:
    driver = scenario.driver
    key = KEYS["over_granted"].key
    await open_modal(driver, await reach_key_step(scenario))
    await submit_key(driver, key)
    unproven = await result_in_thread(scenario, "couldn't prove the key's permissions")
    text = message_text(unproven)
    assert "Dentally is connected" not in text
    assert ":grey_question: appointment : update" in text
    assert ":white_check_mark: user : read" in text
    check = await _last_check(bot)
    assert check.verdict.value == "could_not_prove"
    # The clinic reads the one platform-neutral wording, with the boxes to double-check.
    assert copy.could_not_prove_text(check) in text
    assert "exactly these ticked" in text
    assert "Patient permission" in text
    assert action_ids(unproven) == [blocks.ACTION_ENTER_KEY, results.ACTION_CHECK_AGAIN]
    await scenario.idle(bot)
    state = await bot.runtime.core.service.conversation(await _key(bot))
    assert state is not None
    assert (state.status.value, state.last_verdict) == ("awaiting_key", "could_not_prove")
    clinic = await bot.runtime.core.service.clinic("slack", CLINIC)
    assert clinic is not None
    assert clinic.credential is None
    assert ADMIN in clinic.unverified_keys  # kept encrypted, so "Check again" needs no re-typing
    assert key not in clinic.model_dump_json()
    reads = await driver.wait_for(
        lambda: [t for t in support_reads(api) if "could not prove" in t and "How each permission" in t]
    )
    assert "control" in reads[0]
    assert "POST /v1/patients {} → 400" in reads[0]
    assert all(key not in t for t in support_reads(api))
    assert dentally.counts.writes == 0
    assert dentally.counts.records_served == 0


async def test_couldnt_prove_then_check_again_once_dentally_introspects(
    scenario: Scenario, bot: RunningBot, dentally: Sandbox
) -> None:
    driver = scenario.driver
    dentally.use_modes(["lookup-first"])
    await open_modal(driver, await reach_key_step(scenario))
    await submit_key(driver, KEYS["all_scopes"].key)
    unproven = await result_in_thread(scenario, "couldn't prove the key's permissions")
    assert "appointment : update, appointment : delete" in message_text(unproven)
    await scenario.idle(bot)
    dentally.use_modes(["lookup-first", "token-info"])
    await driver.click(ADMIN, unproven, results.ACTION_CHECK_AGAIN)
    await result_in_thread(scenario, "Dentally is connected")
    await scenario.idle(bot)
    clinic = await bot.runtime.core.service.clinic("slack", CLINIC)
    assert clinic is not None
    assert clinic.credential is not None
    assert clinic.unverified_keys == {}


async def test_an_invalid_key_says_how_to_copy_it_again(scenario: Scenario) -> None:
    driver = scenario.driver
    await open_modal(driver, await reach_key_step(scenario))
    await submit_key(driver, "A" * 43)
    invalid = await result_in_thread(scenario, "didn't accept that key")
    assert "Copy" in message_text(invalid)
    assert action_ids(invalid) == [blocks.ACTION_ENTER_KEY]


async def test_dentally_down_then_check_again_without_retyping(
    scenario: Scenario, bot: RunningBot, dentally: Sandbox, api: SlackApiSandbox
) -> None:
    driver = scenario.driver
    await open_modal(driver, await reach_key_step(scenario))
    dentally.switches.server_error = 503
    await submit_key(driver, KEYS["all_scopes"].key)
    down = await result_in_thread(scenario, "couldn't check the key")
    assert action_ids(down) == [results.ACTION_CHECK_AGAIN, blocks.ACTION_ENTER_KEY]
    await scenario.idle(bot)
    state = await bot.runtime.core.service.conversation(await _key(bot))
    assert state is not None
    assert state.status.value == "awaiting_key"
    clinic = await bot.runtime.core.service.clinic("slack", CLINIC)
    assert clinic is not None
    assert clinic.credential is None
    assert KEYS["all_scopes"].key not in clinic.model_dump_json()
    dentally.switches.server_error = None
    await driver.click(ADMIN, down, results.ACTION_CHECK_AGAIN)
    await result_in_thread(scenario, "Dentally is connected")
    await scenario.idle(bot)
    clinic = await bot.runtime.core.service.clinic("slack", CLINIC)
    assert clinic is not None
    assert clinic.credential is not None
    assert clinic.unverified_keys == {}


async def test_someone_else_cannot_open_the_owners_key_form(scenario: Scenario) -> None:
    driver = scenario.driver
    key_step = await reach_key_step(scenario)
    await driver.click("U0NURSE", key_step, blocks.ACTION_ENTER_KEY)
    note = await driver.wait_for(lambda: driver.ephemeral("U0NURSE", CLINIC))
    assert "belongs to" in note[-1].text
    assert driver.open_view("U0NURSE") is None


async def test_without_encryption_keys_the_bot_refuses_keys_and_says_why(
    api: SlackApiSandbox, state_url: str, dentally_url: str
) -> None:
    import httpx

    settings = bot_settings(api, state_url, dentally_url, server__key_encryption_keys=None)
    async with httpx.AsyncClient(timeout=10) as client, running_bot(settings) as running:
        driver = SlackDriver(running.url, SIGNING_SECRET, api, client)
        scenario = Scenario(api, driver, None)  # type: ignore[arg-type]
        await driver.click(ADMIN, await reach_key_step(scenario), blocks.ACTION_ENTER_KEY)
        view = await driver.wait_for(lambda: driver.open_view(ADMIN))
        assert "can't accept keys just yet" in view_text(view)
        assert view.payload.get("submit") is None
        await driver.wait_for(lambda: any("KEY_ENCRYPTION_KEYS is not set" in t for t in support_texts(api)))


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[dict[str, object]], list[int]]]:
    """A loopback hand-off receiver that checks the signature; ``statuses`` scripts its answers."""
    received: list[dict[str, object]] = []
    statuses: list[int] = []

    async def take(request: Request) -> Response:
        body = await request.body()
        expected = sign(HANDOFF_SECRET, request.headers[TIMESTAMP_HEADER], body)
        if request.headers[SIGNATURE_HEADER] != expected:
            return JSONResponse({"error": "bad signature"}, status_code=401)
        status = statuses.pop(0) if statuses else 200
        if status == 200:
            received.append(json.loads(body))
        return JSONResponse({}, status_code=status)

    async with serve(Starlette(routes=[Route("/keys", take, methods=["POST"])]), poll_seconds=QUICK_STOP) as url:
        yield f"{url}/keys", received, statuses


async def test_a_verified_key_is_handed_off_signed_after_a_retry(
    api: SlackApiSandbox, state_url: str, dentally_url: str, receiver: tuple[str, list[dict[str, object]], list[int]]
) -> None:
    import httpx

    url, received, statuses = receiver
    statuses.append(503)
    settings = bot_settings(
        api,
        state_url,
        dentally_url,
        support__handoff_url=url,
        support__handoff_secret=SecretStr(HANDOFF_SECRET),
        support__handoff_allow_private=True,
    )
    async with httpx.AsyncClient(timeout=10) as client, running_bot(settings) as running:
        driver = SlackDriver(running.url, SIGNING_SECRET, api, client)
        scenario = Scenario(api, driver, None)  # type: ignore[arg-type]
        await open_modal(driver, await reach_key_step(scenario))
        await submit_key(driver, KEYS["all_scopes"].key)
        await driver.wait_for(lambda: received, timeout=10)
        assert received[0]["key"] == KEYS["all_scopes"].key
        assert received[0]["region"] == "uk"
        assert received[0]["clinic"] == {"name": "Maple Leaf Dental", "channel": CLINIC, "team": "T0ALDENSE"}
        await driver.wait_for(lambda: any("handed to Aldense" in t for t in support_texts(api)))


async def test_a_failing_hand_off_is_reported_and_the_key_stays_stored(
    api: SlackApiSandbox, state_url: str, dentally_url: str, receiver: tuple[str, list[dict[str, object]], list[int]]
) -> None:
    import httpx

    url, received, statuses = receiver
    statuses.extend([400])
    settings = bot_settings(
        api,
        state_url,
        dentally_url,
        support__handoff_url=url,
        support__handoff_secret=SecretStr(HANDOFF_SECRET),
        support__handoff_allow_private=True,
    )
    async with httpx.AsyncClient(timeout=10) as client, running_bot(settings) as running:
        driver = SlackDriver(running.url, SIGNING_SECRET, api, client)
        scenario = Scenario(api, driver, None)  # type: ignore[arg-type]
        await open_modal(driver, await reach_key_step(scenario))
        await submit_key(driver, KEYS["all_scopes"].key)
        await driver.wait_for(lambda: any("Hand-off of key" in t for t in support_texts(api)), timeout=10)
        assert received == []
        clinic = await running.runtime.core.service.clinic("slack", CLINIC)
        assert clinic is not None
        assert clinic.credential is not None


async def _last_check(bot: RunningBot) -> CheckResult:
    clinic = await bot.runtime.core.service.clinic("slack", CLINIC)
    assert clinic is not None
    assert clinic.last_check is not None
    return CheckResult.model_validate(clinic.last_check)


async def _key(bot: RunningBot):  # type: ignore[no-untyped-def]
    from conversations.addresses import ConversationKey

    return ConversationKey("slack", await bot.runtime.slack.workspace.installing_team(), CLINIC, ADMIN)
