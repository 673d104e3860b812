"""Bad input at the Slack endpoint: forged, stale, malformed, oversized and odd-shaped bodies, retries, and a fuzz."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.fakes.slack import SlackApiSandbox, SlackDriver, Workspace, payloads
from bot.runtime import Runtime, open_runtime
from bot.slack import blocks, modals
from bot.slack.endpoint import MAX_BODY_BYTES
from conversations.guide import load_guide
from dentally.token import MAX_LENGTH, MIN_LENGTH
from tests.bot.harness import ADMIN, CLINIC, NURSE, SIGNING_SECRET, RunningBot, action_ids, bot_settings
from tests.bot.shipped import ShippedLogs

GUIDE = load_guide()
# Put inside request bodies; it must never reach a log record, whatever the logger or level.
MARKER = "Mk9-BODY-q4Zt-never-log-7Hs2"
URL = "/slack/events"
# Raise it for a deeper run: ALDENSE_FUZZ_EXAMPLES=20000 pytest tests/bot/test_http_input.py -k fuzz
FUZZ_EXAMPLES = int(os.environ.get("ALDENSE_FUZZ_EXAMPLES", "200"))
T = TypeVar("T")


# --- capturing every log record -------------------------------------------------------------------------------


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.texts.append(logging.Formatter().format(record) + repr(record.args))


@contextlib.contextmanager
def every_logger_at_debug() -> Iterator[_Capture]:
    """Every logger (libraries included, and those that do not propagate) at DEBUG into one capture."""
    capture = _Capture()
    names = ["", *logging.root.manager.loggerDict]
    loggers = [logging.getLogger(name) for name in names]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    hooked = [logger for logger in loggers if logger is logging.root or not logger.propagate]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
    for logger in hooked:
        logger.addHandler(capture)
    try:
        yield capture
    finally:
        for logger in hooked:
            logger.removeHandler(capture)
        for logger, level, disabled in saved:
            logger.setLevel(level)
            logger.disabled = disabled


def assert_marker_never_logged(capture: _Capture, shipped: ShippedLogs) -> None:
    leaked = [text[:500] for text in capture.texts if MARKER in text]
    assert leaked == []
    # And what the bot's handler wrote, in the format under test (a JSON line that does not parse fails here too).
    written = shipped.text() if shipped.format == "text" else json.dumps(shipped.records())
    assert written
    assert MARKER not in written
    # The capture really saw library DEBUG output and the endpoint's own warnings, so the check above could fail.
    assert any(record.levelno == logging.DEBUG for record in capture.records)


@pytest.fixture
def logs(bot: RunningBot) -> Iterator[_Capture]:
    # Requested after the bot is serving: uvicorn configures its loggers when it starts.
    with every_logger_at_debug() as capture:
        yield capture


# --- bodies ---------------------------------------------------------------------------------------------------

WS = Workspace()
# No listener these bodies reach posts to their response_url; if one ever did, it would fail fast on loopback.
NEVER_DIALLED = "http://127.0.0.1:9/response/none"


def step_click(action_id: str = blocks.ACTION_DONE, clicker: str = ADMIN, **changes: Any) -> dict[str, Any]:
    """A block_actions click on step 1's message, with a marker in the message text and the input state."""
    text, step_blocks = blocks.step_message(GUIDE, 0, ADMIN, None)
    message = {"type": "message", "ts": "1700000000.000100", "text": f"{text} {MARKER}", "blocks": step_blocks}
    found = payloads.find_action(step_blocks, action_id) or ("b", blocks.button("x", action_id, "v"))
    payload = payloads.block_actions(
        WS,
        user=WS.user(clicker),
        channel=WS.channel(CLINIC),
        message_ts=message["ts"],
        action=payloads.action_item(found[1], found[0], "1700000001.000200"),
        trigger_id="1.2.trigger",
        response_url=NEVER_DIALLED,
        message=message,
        thread_ts="1700000000.000001",
        state={"note": {"typed": {"type": "plain_text_input", "value": MARKER}}},
    )
    payload |= changes
    return payload


def key_submission(**changes: Any) -> dict[str, Any]:
    """A view_submission of the key modal with the marker typed as the key."""
    view = modals.key_modal(CLINIC, ADMIN, MIN_LENGTH, MAX_LENGTH) | {"id": "V0KEY", "hash": "h"}
    state = payloads.state_values(view["blocks"], {}, {modals.BLOCK_KEY: MARKER})
    view["state"] = {"values": state}
    payload = payloads.view_submission(WS, user=WS.user(ADMIN), view=view, trigger_id="1.2.trigger")
    payload |= changes
    return payload


def suggestion() -> dict[str, Any]:
    """A block_suggestion (someone typing into an external select) with the marker as what they typed."""
    typed = {"type": "block_suggestion", "action_id": f"pick_{MARKER}", "block_id": f"b_{MARKER}", "value": MARKER}
    return _without(step_click(), "actions", "state", "trigger_id", "response_url") | typed


def mention_event(text: str = f"start {MARKER}", event_id: str = "Ev0MENTION") -> dict[str, Any]:
    event = payloads.message_event(
        user=WS.user(ADMIN), channel=WS.channel(CLINIC), text=f"<@U0BOT> {text}", ts="1700000000.000300", mention=True
    )
    return payloads.event_callback(
        WS, event, event_id=event_id, event_time=1700000000, channel=WS.channel(CLINIC), actor_team_id="T0CLINIC"
    )


def command_fields(text: str = f"help {MARKER}") -> dict[str, str]:
    return payloads.slash_command(
        WS,
        user=WS.user("U0STAFF"),
        channel=WS.channel("C0ONBOARD"),
        command="/aldense",
        text=text,
        response_url=NEVER_DIALLED,
        trigger_id="1.2.trigger",
    )


def form(payload: dict[str, Any]) -> tuple[bytes, str]:
    return payloads.interactivity_body(payload)


def signed(
    body: bytes, content_type: str | None, *, secret: str = SIGNING_SECRET, at: int | None = None
) -> dict[str, str]:
    headers = payloads.signature_headers(body, secret, int(time.time()) if at is None else at)
    return headers | ({"Content-Type": content_type} if content_type else {})


async def post(http: httpx.AsyncClient, bot: RunningBot, body: Any, headers: dict[str, str]) -> httpx.Response:
    return await http.post(bot.url + URL, content=body, headers=headers)


# --- forged and stale ---------------------------------------------------------------------------------------


def _hmac_headers(body: bytes, timestamp: str, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """A v0 signature over the raw bytes (slack_sdk's signer insists on UTF-8, so non-UTF-8 bodies are signed here)."""
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


def _not_signed_right(body: bytes, content_type: str) -> list[dict[str, str]]:
    now = int(time.time())
    signed_now = signed(body, content_type)
    kinds = [
        signed(body, content_type, secret="not-the-signing-secret"),
        # Far outside Slack's 5-minute window, so a loaded machine's delay before sending cannot bring them inside
        # (the exact edges are pinned with an injected clock in test_the_window_edges_are_exact).
        signed(body, content_type, at=now - 3600),  # stale
        signed(body, content_type, at=now + 3600),  # from the future
        signed(body + b" ", content_type),  # another body's signature
        {"Content-Type": content_type},  # unsigned
        {k: v for k, v in signed_now.items() if k != "X-Slack-Request-Timestamp"},
        {k: v for k, v in signed_now.items() if k != "X-Slack-Signature"},
        signed_now | {"X-Slack-Request-Timestamp": ""},
        signed_now | {"X-Slack-Request-Timestamp": "yesterday"},
        signed_now | {"X-Slack-Request-Timestamp": "9" * 5000},
        signed_now | {"X-Slack-Signature": "v0=" + "0" * 64},
    ]
    return [{"Content-Type": content_type} | headers for headers in kinds]


async def test_forged_and_stale_requests_get_401_and_their_bodies_are_never_logged(
    bot: RunningBot, http: httpx.AsyncClient, api: SlackApiSandbox, logs: _Capture, shipped_logs: ShippedLogs
) -> None:
    bodies = [form(step_click()), form(key_submission()), payloads.json_body(mention_event())]
    bodies.append(payloads.command_body(command_fields()))
    answers = []
    for body, content_type in bodies:
        assert MARKER in urllib.parse.unquote_plus(body.decode())
        for headers in _not_signed_right(body, content_type):
            answers.append(await post(http, bot, body, headers))
    not_utf8 = MARKER.encode() + b"\xff\xfe"
    answers.append(await post(http, bot, not_utf8, _hmac_headers(not_utf8, str(int(time.time())))))
    assert [answer.status_code for answer in answers] == [401] * len(answers)
    assert all(MARKER not in answer.text for answer in answers)
    await bot.runtime.core.tasks.drain(5)
    # Nothing got past the door: the only call is start-up's auth.test.
    assert [call.method for call in api.calls()] == ["auth.test"]
    assert_marker_never_logged(logs, shipped_logs)
    rejected = [r for r in logs.records if "forged or stale Slack signature" in r.getMessage()]
    assert len(rejected) == len(answers)


@pytest.mark.parametrize(("offset", "accepted"), [(-301, False), (-300, True), (300, True), (301, False)])
async def test_the_window_edges_are_exact(offset: int, accepted: bool) -> None:
    """Slack's 5-minute window, at a fixed clock: 300 s either way is inside, 301 s is outside."""
    from slack_bolt.async_app import AsyncApp
    from starlette.applications import Starlette

    from bot.slack.endpoint import SlackEndpoint

    now = 1_800_000_000
    bolt = AsyncApp(signing_secret=SIGNING_SECRET, request_verification_enabled=False, token="xoxb-unused")
    app = Starlette(routes=[SlackEndpoint(bolt, SIGNING_SECRET, clock=lambda: float(now)).route])
    body = json.dumps(mention_event()).encode()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot") as client:
        answer = await client.post(URL, content=body, headers=signed(body, "application/json", at=now + offset))
    assert (answer.status_code != 401) is accepted


# --- malformed and oversized ----------------------------------------------------------------------------------

_PAYLOAD = json.dumps(step_click())
NOT_SLACK_REQUESTS: list[tuple[str, bytes, str | None, str]] = [
    ("truncated JSON", b'{"type": "event_callback", "event": ', "application/json", "malformed JSON"),
    ("JSON array", b"[1, 2, 3]", "application/json", "JSON body is not an object"),
    ("form sent as JSON", b"payload=" + urllib.parse.quote(_PAYLOAD).encode(), "application/json", "malformed JSON"),
    ("payload not JSON", b"payload=%7Bnot+json", payloads.FORM, "malformed payload JSON"),
    ("payload an array", b"payload=%5B%5D", payloads.FORM, "payload is not an object"),
    ("form with neither", b"text=hello&user_id=U0ADMIN", payloads.FORM, "form body is neither a payload nor a command"),
    ("repeated payload", b"payload=%7B%7D&payload=%7B%7D", payloads.FORM, "a form field is repeated"),
    ("JSON sent as form", _PAYLOAD.encode(), payloads.FORM, "form body is neither a payload nor a command"),
    ("text/plain", json.dumps(mention_event()).encode(), "text/plain", "unsupported content type"),
    ("multipart", b"--x\r\n\r\n--x--", "multipart/form-data; boundary=x", "unsupported content type"),
    ("no content type", json.dumps(mention_event()).encode(), None, "unsupported content type"),
    ("nested too deep", b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}", "application/json", "malformed JSON"),
    ("empty body", b"", "application/json", "malformed JSON"),
]


async def test_signed_bodies_that_are_not_slack_requests_get_400_naming_the_problem(
    bot: RunningBot, http: httpx.AsyncClient
) -> None:
    answers = {}
    for name, body, content_type, _ in NOT_SLACK_REQUESTS:
        answer = await post(http, bot, body, signed(body, content_type))
        answers[name] = (answer.status_code, answer.json().get("error"))
    expected = {name: (400, problem) for name, _, _, problem in NOT_SLACK_REQUESTS}
    assert answers == expected


async def _chunks(size: int, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < size:
        piece = min(chunk, size - sent)
        sent += piece
        yield b"x" * piece


async def test_bodies_over_the_limit_get_413_with_or_without_content_length(
    bot: RunningBot, http: httpx.AsyncClient
) -> None:
    too_big = b'{"type": "x", "pad": "' + b"a" * MAX_BODY_BYTES + b'"}'
    declared = await post(http, bot, too_big, signed(too_big, "application/json"))
    assert declared.status_code == 413
    chunked = await http.post(
        bot.url + URL, content=_chunks(MAX_BODY_BYTES + 1), headers={"Content-Type": "application/json"}
    )
    assert chunked.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in chunked.request.headers
    assert chunked.status_code == 413


async def test_a_body_at_the_limit_and_a_chunked_one_are_read_in_full(bot: RunningBot, http: httpx.AsyncClient) -> None:
    head, tail = b'{"type": "not_a_slack_type", "pad": "', b'"}'
    exact = head + b"a" * (MAX_BODY_BYTES - len(head) - len(tail)) + tail
    assert len(exact) == MAX_BODY_BYTES
    answer = await post(http, bot, exact, signed(exact, "application/json"))
    assert answer.status_code == 404  # got through the size limit and the signature to Bolt, which has no listener

    body, content_type = payloads.json_body(payloads.url_verification(WS, "chunked-challenge"))

    async def in_pieces() -> AsyncIterator[bytes]:
        for index in range(0, len(body), 7):
            yield body[index : index + 7]

    chunked = await http.post(bot.url + URL, content=in_pieces(), headers=signed(body, content_type))
    assert chunked.request.headers.get("transfer-encoding") == "chunked"
    assert (chunked.status_code, chunked.json()) == (200, {"challenge": "chunked-challenge"})


# --- properly signed, but odd ---------------------------------------------------------------------------------


def _without(payload: dict[str, Any], *names: str) -> dict[str, Any]:
    return {key: value for key, value in payload.items() if key not in names}


ODD_BODIES: list[tuple[str, tuple[bytes, str], set[int]]] = [
    ("unknown action id", form(step_click("no_such_action")), {200}),
    ("step click without container or channel", form(_without(step_click(), "container", "channel")), {200}),
    ("step click without message", form(_without(step_click(), "message", "container")), {200}),
    ("step click by someone else", form(step_click(clicker=NURSE)), {200}),
    ("step click without actions", form(_without(step_click(), "actions")), {404}),
    ("actions is a string", form(step_click(actions="x")), {400}),
    ("actions is empty", form(step_click(actions=[])), {400}),
    ("action without action_id", form(step_click(actions=[{"value": MARKER}])), {400}),
    ("user is a number", form(step_click(user=5)), {400}),
    ("user is a bare id", form(step_click(user=ADMIN)), {400}),
    ("team is a list", form(step_click(team=[MARKER])), {400}),
    ("authorizations is a string", form(step_click(authorizations=MARKER)), {400}),
    ("key submission", form(key_submission()), {200}),
    ("key submission, view is a list", form(key_submission(view=[])), {400}),
    ("key submission, state values are strings", form(key_submission(view={"state": {"values": MARKER}})), {400}),
    ("key submission without view", form(_without(key_submission(), "view")), {404}),
    ("submission of an unknown view", form(key_submission(view={"type": "modal", "callback_id": "other"})), {404}),
    ("view without a type", form(key_submission(view={"callback_id": modals.KEY_VIEW})), {400}),
    ("a retired workflow step edit", form({"type": "workflow_step_edit", "callback_id": "x", "user": {}}), {400}),
    ("view_closed of an unknown view", form(key_submission(type="view_closed")), {404}),
    ("shortcut", form({"type": "shortcut", "callback_id": "x", "user": {"id": ADMIN}, "token": MARKER}), {404}),
    ("unknown payload type", form({"type": "future_thing", "user": {"id": ADMIN}, "secret": MARKER}), {404}),
    ("event is a string", payloads.json_body(mention_event() | {"event": MARKER}), {400}),
    ("event without type", payloads.json_body(mention_event() | {"event": {"text": MARKER}}), {404}),
    ("event of a type we ignore", payloads.json_body(mention_event() | {"event": {"type": "reaction_added"}}), {404}),
    (
        "event user is a number",
        payloads.json_body(mention_event() | {"event": {"type": "app_mention", "user": 5}}),
        {400},
    ),
    ("mention without channel", payloads.json_body(mention_event() | {"event": {"type": "app_mention"}}), {200}),
    ("url_verification without challenge", payloads.json_body({"type": "url_verification"}), {200}),
    ("command without response_url", payloads.command_body(_without(command_fields(), "response_url")), {400}),
    ("command that is not ours", payloads.command_body(command_fields() | {"command": "/other"}), {404}),
    # Bolt's "Unhandled request" warning quotes a suggestion's typed value (and its action and block ids).
    ("a suggestion nobody answers", form(suggestion()), {404}),
]


async def test_signed_but_odd_bodies_are_answered_never_with_a_500_and_logged_without_their_content(
    bot: RunningBot, http: httpx.AsyncClient, logs: _Capture, shipped_logs: ShippedLogs
) -> None:
    answers = {}
    for name, (body, content_type), _ in ODD_BODIES:
        answers[name] = await post(http, bot, body, signed(body, content_type))
    await bot.runtime.core.tasks.drain(5)
    assert {name: answers[name].status_code for name, *_ in ODD_BODIES} == {
        name: next(iter(expected)) for name, _, expected in ODD_BODIES
    }
    assert [name for name, answer in answers.items() if MARKER in answer.text] == []
    errors = [r.getMessage()[:300] for r in logs.records if r.levelno >= logging.ERROR]
    assert errors == []
    assert_marker_never_logged(logs, shipped_logs)
    said = " ".join(r.getMessage() for r in logs.records)
    assert "Bolt found no listener for a signed request (its fields are withheld)" in said
    assert "ignored unknown action 'no_such_action'" in said
    assert "rejected a signed request: actions is not a non-empty list of objects" in said


async def test_a_command_whose_text_mentions_payload_still_reaches_the_bot(
    driver: SlackDriver, api: SlackApiSandbox
) -> None:
    # Bolt's own form parsing takes any body containing "payload" for an interaction; the endpoint hands it JSON.
    delivery = await driver.run_command(
        "U0STAFF", "C0ONBOARD", "/aldense", "onboard <#C0CLINIC|payload-team>", escape=False
    )
    assert delivery.status_code == 200
    replies = await driver.wait_for(lambda: api.responses())
    assert "Kick-off posted" in str(replies[-1].body)


# --- Events API retries ---------------------------------------------------------------------------------------


def _openers(api: SlackApiSandbox, user: str) -> list[Any]:
    return [m for m in api.messages(CLINIC) if f"<@{user}> is connecting Dentally" in m.text]


async def test_a_retried_start_mention_opens_one_thread(
    driver: SlackDriver, api: SlackApiSandbox, bot: RunningBot
) -> None:
    first = await driver.mention(ADMIN, CLINIC, "start")
    retries = [await driver.redeliver(first, retry_num=n, retry_reason="http_timeout") for n in (1, 2)]
    assert [d.status_code for d in (first, *retries)] == [200, 200, 200]
    await driver.wait_for(lambda: driver.latest_in_user_thread(CLINIC, ADMIN))
    await bot.runtime.core.tasks.drain(5)
    assert len(_openers(api, ADMIN)) == 1
    assert len(driver.user_thread(CLINIC, ADMIN)) == 2  # the opener and step 1, once


async def test_concurrent_deliveries_of_one_event_are_processed_once(
    driver: SlackDriver, api: SlackApiSandbox, bot: RunningBot
) -> None:
    mention = payloads.message_event(
        user=WS.user(ADMIN), channel=WS.channel(CLINIC), text="<@U0BOT> start", ts="1700000001.000100", mention=True
    )
    joined = payloads.member_joined_channel_event(user=WS.user(NURSE), channel=WS.channel(CLINIC), event_ts="1.0")
    sends: list[Awaitable[Any]] = []
    for event, event_id in ((mention, "Ev0SAMEMENTION"), (joined, "Ev0SAMEJOIN")):
        sends += [driver.send_event(event, event_id=event_id, retry_num=n or None) for n in range(4)]
    deliveries = await asyncio.gather(*sends)
    assert {d.status_code for d in deliveries} == {200}
    await driver.wait_for(lambda: driver.latest_in_user_thread(CLINIC, ADMIN))
    await bot.runtime.core.tasks.drain(5)
    assert len(_openers(api, ADMIN)) == 1
    kickoffs = [m for m in api.messages(CLINIC) if blocks.ACTION_START in action_ids(m)]
    assert len(kickoffs) == 1


async def test_a_new_event_id_is_a_new_event(driver: SlackDriver, api: SlackApiSandbox, bot: RunningBot) -> None:
    joined = payloads.member_joined_channel_event(user=WS.user(NURSE), channel=WS.channel(CLINIC), event_ts="1.0")
    await driver.send_event(joined, event_id="Ev0JOIN1")
    await driver.send_event(joined, event_id="Ev0JOIN2")
    await bot.runtime.core.tasks.drain(5)
    assert len([m for m in api.messages(CLINIC) if blocks.ACTION_START in action_ids(m)]) == 2


# --- fuzz: the parsing layer in-process -----------------------------------------------------------------------


class _LoopThread:
    """An event loop in a thread, so synchronous Hypothesis examples can drive one long-lived async bot."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fuzz-loop", daemon=True)
        self._thread.start()

    def run(self, work: Awaitable[T], timeout: float = 30) -> T:
        async def wrapped() -> T:
            return await work

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()[:300]}")


class _FuzzBot:
    def __init__(self, runtime: Runtime, client: httpx.AsyncClient, response_url: str, loop: _LoopThread) -> None:
        self.runtime = runtime
        self.client = client
        self.response_url = response_url
        self.loop = loop
        self.errors = _Errors()

    def send(self, body: bytes, content_type: str) -> httpx.Response:
        async def go() -> httpx.Response:
            answer = await self.client.post(URL, content=body, headers=signed(body, content_type))
            await self.runtime.core.tasks.drain(5)
            return answer

        return self.loop.run(go())


@pytest.fixture(scope="module")
def fuzz_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_FuzzBot]:
    loop = _LoopThread()
    stack = contextlib.AsyncExitStack()

    async def start() -> _FuzzBot:
        api = SlackApiSandbox(Workspace())
        await stack.enter_async_context(api.serve())
        state = tmp_path_factory.mktemp("fuzz") / "state.sqlite3"
        runtime = await stack.enter_async_context(open_runtime(bot_settings(api, f"sqlite:///{state}")))
        transport = httpx.ASGITransport(app=runtime.http_app)  # raises whatever escapes the app
        client = await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url="http://bot"))
        return _FuzzBot(runtime, client, api.issue_response_url(channel="C0ONBOARD", user="U0STAFF"), loop)

    bot = loop.run(start())
    logging.getLogger().addHandler(bot.errors)
    try:
        yield bot
    finally:
        logging.getLogger().removeHandler(bot.errors)
        loop.run(stack.aclose())
        loop.close()


_KEYS = st.sampled_from(
    [
        "type",
        "user",
        "team",
        "enterprise",
        "channel",
        "container",
        "message",
        "actions",
        "action_id",
        "block_id",
        "value",
        "view",
        "state",
        "values",
        "callback_id",
        "private_metadata",
        "event",
        "event_id",
        "text",
        "ts",
        "thread_ts",
        "authorizations",
        "response_url",
        "response_urls",
        "trigger_id",
        "command",
        "id",
        "team_id",
        "channel_id",
        "message_ts",
        "is_ext_shared_channel",
        "item",
        "previous_message",
        "subtype",
        "selected_option",
        "is_enterprise_install",
        "api_app_id",
        "token",
        "challenge",
        "user_team",
        "function_data",
        "assistant_thread",
    ]
)
_TYPES = st.sampled_from(
    [
        "block_actions",
        "view_submission",
        "view_closed",
        "event_callback",
        "url_verification",
        "shortcut",
        "message_action",
        "interactive_message",
        "dialog_submission",
        "dialog_cancellation",
        "dialog_suggestion",
        "block_suggestion",
        "workflow_step_edit",
        "app_mention",
        "member_joined_channel",
        "message",
    ]
)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | _TYPES
    | st.sampled_from([ADMIN, CLINIC, "T0ALDENSE", blocks.ACTION_DONE, blocks.ACTION_START, modals.KEY_VIEW, MARKER])
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS | st.text(max_size=6), inner, max_size=5),
    max_leaves=12,
)


def _seeds() -> list[dict[str, Any]]:
    return [
        step_click(),
        step_click(blocks.ACTION_START),
        step_click(blocks.ACTION_ENTER_KEY),
        step_click(clicker=NURSE),
        key_submission(),
        mention_event(),
        payloads.event_callback(
            WS,
            payloads.member_joined_channel_event(user=WS.user(NURSE), channel=WS.channel(CLINIC), event_ts="1.0"),
            event_id="Ev0FUZZJOIN",
            event_time=1700000000,
            channel=WS.channel(CLINIC),
            actor_team_id="T0CLINIC",
        ),
    ]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from _paths(child, (*prefix, key))


@st.composite
def mutated_seeds(draw: st.DrawFn) -> dict[str, Any]:
    """A real payload with a few values replaced, removed or added at any depth."""
    payload = json.loads(json.dumps(draw(st.sampled_from(_seeds()))))
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(list(_paths(payload))))
        if not path:
            continue
        parent = payload
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(_JSON)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(_KEYS)] = draw(_JSON)
    return payload


_ENVELOPES = st.one_of(
    mutated_seeds(),
    st.dictionaries(_KEYS, _JSON, max_size=8).map(lambda d: d | {"type": d.get("type", "block_actions")}),
    st.fixed_dictionaries({"type": _TYPES}, optional={key: _JSON for key in ("user", "actions", "view", "event")}),
)


def _loopback_only(payload: Any, response_url: str) -> Any:
    """Point every response_url at the sandbox: a fuzzed URL must never send the bot off the machine."""
    if isinstance(payload, dict):
        return {
            key: response_url if key == "response_url" else _loopback_only(value, response_url)
            for key, value in payload.items()
        }
    if isinstance(payload, list):
        return [_loopback_only(item, response_url) for item in payload]
    return payload


@st.composite
def signed_bodies(draw: st.DrawFn, response_url: str) -> tuple[bytes, str]:
    fields = _loopback_only(draw(_ENVELOPES), response_url)
    encoding = draw(st.sampled_from(["payload", "json", "command"]))
    if encoding == "payload":
        return form(fields)
    if encoding == "json":
        return payloads.json_body(fields)
    command = command_fields() | {"response_url": response_url}
    names = st.sampled_from([name for name in command if name != "response_url"] + ["payload_like"])
    texts = st.text(max_size=20) | st.sampled_from(["payload", "onboard payload", "onboard <#C0CLINIC|x>", "help"])
    command |= draw(st.dictionaries(names, texts, max_size=4))
    return payloads.command_body(command)


def test_fuzzed_signed_bodies_never_get_a_5xx_nor_break_the_bot(fuzz_bot: _FuzzBot) -> None:
    fuzz_bot.errors.messages.clear()
    statuses: dict[int, int] = {}

    quiet = [HealthCheck.too_slow, HealthCheck.data_too_large]

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=quiet)
    @given(signed_bodies(fuzz_bot.response_url))
    def check(encoded: tuple[bytes, str]) -> None:
        answer = fuzz_bot.send(*encoded)
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
        assert answer.status_code < 500, answer.text
        assert fuzz_bot.errors.messages == []

    check()
    assert len(statuses) > 1, statuses  # the fuzz reached past the envelope check as well as into it
