"""A Slack-compatible Web API on loopback: answers the bot like Slack does and records what every user would see.

Serve :class:`SlackApiSandbox` (an ASGI app) and point the bot's ``AsyncWebClient(base_url=...)`` at
``f"{url}/api/"``. Layout::

    POST|GET /api/<method>                    Web API methods (form, JSON or query parameters)
    POST     /response/<id>                   response_url targets handed out in commands and interactions
    GET      /_sandbox/state                  the world and the change counter
    GET      /_sandbox/calls?method=&since=   recorded Web API calls
    GET      /_sandbox/changes?since=&wait=   change log, long-polled (wait ≤ 10 s): answers once something is newer
    GET      /_sandbox/channels/<id>/messages[?thread_ts=]
    GET      /_sandbox/users/<id>/ephemeral   ephemeral messages a user has been shown
    GET      /_sandbox/users/<id>/views       the user's modal stack and App Home
    GET      /_sandbox/responses              bodies posted to response_urls (and command acks)
    POST|DELETE /_sandbox/faults              add a fault ({method, status, error, retry_after, times}) / clear all
    POST     /_sandbox/rate_limits            {"enabled": true|false}: enforce Slack's rate limits (refills them)
    POST     /_sandbox/latency                {"seconds": 0.2, "method": "*"}
    ws://…/link/?ticket=                       Socket Mode links (``socket_mode=True``; see ``socket_mode``)

All state lives in memory and is changed only between awaits, so it is consistent within one event loop.

This module is the facade and the HTTP app; the rest lives beside it::

    records      what is recorded: ApiCall, Message, Ephemeral, View, ResponsePost, Fault, Change, ...
    validation   blocks and views checked the way Slack checks them
    errors       WebApiRefusal, a refusal worded the way Slack words it
    params       one call's parameters, however they were sent
    ids          the block_id/action_id values Slack fills in
    state        what users see, the ids handed out, and the change log
    methods      the Web API methods (WebApi)
    responses    what a body posted to a response_url does
    socket_mode  Socket Mode: links, envelopes and acks over a WebSocket
    rate_limits  Slack's rate limits (bot.slack.limits) enforced per method, channel and workspace
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bot.fakes.slack.errors import WebApiRefusal
from bot.fakes.slack.ids import stable_id
from bot.fakes.slack.methods import MAX_TEXT, MAX_VIEW_STACK, WebApi
from bot.fakes.slack.params import Params
from bot.fakes.slack.rate_limits import SlackRateLimits, ratelimited
from bot.fakes.slack.records import (
    JSON,
    ApiCall,
    Change,
    Ephemeral,
    Fault,
    Message,
    MessageVersion,
    ResponsePost,
    ResponseTarget,
    Trigger,
    View,
)
from bot.fakes.slack.responses import respond
from bot.fakes.slack.socket_mode import SocketModeServer
from bot.fakes.slack.state import State
from bot.fakes.slack.validation import MAX_MESSAGE_BLOCKS, MAX_VIEW_BLOCKS, validate_blocks, validate_view
from bot.fakes.slack.workspace import Workspace
from bot.serving import serve

# The records, limits, validators and WebApiRefusal live in their own modules; they are re-exported here because
# `from bot.fakes.slack.api import Message, View, ...` is how much of the code base reaches them.
__all__ = [
    "MAX_MESSAGE_BLOCKS",
    "MAX_POLL_WAIT",
    "MAX_TEXT",
    "MAX_VIEW_BLOCKS",
    "MAX_VIEW_STACK",
    "RESPONSE_URL_TTL",
    "RESPONSE_URL_USES",
    "ApiCall",
    "Change",
    "Ephemeral",
    "Fault",
    "Message",
    "MessageVersion",
    "ResponsePost",
    "ResponseTarget",
    "SlackApiSandbox",
    "View",
    "WebApiRefusal",
    "validate_blocks",
    "validate_view",
]

T = TypeVar("T", int, float)

# Methods that take the app-level token (xapp-) rather than the bot token.
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})
MAX_POLL_WAIT = 10.0  # long-polls end by then, so a shutting-down server never waits long for them
RESPONSE_URL_USES = 5
# How often a stopping stand-in looks whether its connections closed (uvicorn waits 0.1 s; tests stop hundreds).
STOP_POLL_SECONDS = 0.01
RESPONSE_URL_TTL = 30 * 60


def _number(request: Request, name: str, kind: Callable[[str], T]) -> T:
    """A numeric query parameter (0 when absent); a bad one answers 400 instead of crashing the handler."""
    try:
        return kind(request.query_params.get(name, "0"))
    except ValueError:
        raise HTTPException(400, f"{name} must be a number") from None


class SlackApiSandbox:
    """A Slack Web API stand-in and the record of what it was asked and what users would now see.

    Args:
        workspace: The world (defaults to ``Workspace()``).
        clock: Unix time source, for ``ts`` values, trigger expiry and response_url expiry.
        trigger_ttl: Seconds a trigger_id stays usable (Slack: 3).
        strict_threads: Refuse ``thread_ts`` of a missing message with ``thread_not_found``. Slack itself posts
            such a reply anyway, so by default the call succeeds and carries the warning ``thread_parent_not_found``.
        max_changes: How many change-log entries to keep for pollers.
        socket_mode: Also serve Socket Mode (:attr:`socket`): ``apps.connections.open`` hands out its links.
        rate_limits: Enforce Slack's rate limits (``bot.slack.limits``), answering 429 with ``Retry-After`` like
            Slack. Off by default so ordinary tests measure behaviour, not budgets; on in benchmarks and the
            playground.
    """

    def __init__(
        self,
        workspace: Workspace | None = None,
        *,
        clock: Callable[[], float] = time.time,
        trigger_ttl: float = 3.0,
        strict_threads: bool = False,
        max_changes: int = 10_000,
        socket_mode: bool = False,
        rate_limits: bool = False,
    ) -> None:
        self.workspace = workspace if workspace is not None else Workspace()
        self.url: str | None = None
        self._clock = clock
        self._state = State(self.workspace, clock, max_changes)
        self._api = WebApi(self._state, trigger_ttl=trigger_ttl, strict_threads=strict_threads)
        self._calls: list[ApiCall] = []
        self._targets: dict[str, ResponseTarget] = {}
        self._responses: list[ResponsePost] = []
        self._faults: list[Fault] = []
        self._latency: dict[str, float] = {}
        self._limits = SlackRateLimits(enabled=rate_limits)
        self.fail_response_urls = False  # tests: every response_url answers 404 expired_url, as an old one does
        self.socket = SocketModeServer(self.workspace.app_id) if socket_mode else None
        self._api.handlers["apps.connections.open"] = self._apps_connections_open
        self.app = Starlette(routes=self._routes())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve as an ASGI app."""
        await self.app(scope, receive, send)

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve on loopback for the block, setting :attr:`url` (so response_urls can be issued) and yielding it.

        To serve the app some other way (mounted in a playground, say), set :attr:`url` to where it is reachable.
        """
        async with contextlib.AsyncExitStack() as stack:
            url = await stack.enter_async_context(serve(self, host, port, poll_seconds=STOP_POLL_SECONDS))
            if self.socket is not None:
                await stack.enter_async_context(self.socket.serve(host))
            self.url = url
            try:
                yield url
            finally:
                # Answer pending long-polls now, or uvicorn's shutdown would wait for them to time out.
                self._state.closing = True
                self._state.wake()
                self.url = None
                self._state.closing = False

    @property
    def api_url(self) -> str:
        """The ``base_url`` for ``AsyncWebClient`` (the bot's SLACK_API_URL): ``<url>/api/``."""
        return f"{self._served_url()}/api/"

    def _served_url(self) -> str:
        if self.url is None:
            raise RuntimeError("the sandbox is not being served; use `async with sandbox.serve() as url:` first")
        return self.url

    @property
    def trigger_ttl(self) -> float:
        """Seconds a trigger_id stays usable (Slack: 3)."""
        return self._api.trigger_ttl

    @trigger_ttl.setter
    def trigger_ttl(self, seconds: float) -> None:
        self._api.trigger_ttl = seconds

    @property
    def images_fail(self) -> bool:
        """Whether messages with an ``image_url`` are refused: ``invalid_blocks``, "downloading image failed"."""
        return self._api.images_fail

    @images_fail.setter
    def images_fail(self, failing: bool) -> None:
        self._api.images_fail = failing

    @property
    def rate_limits(self) -> bool:
        """Whether Slack's rate limits are enforced; switching refills every bucket."""
        return self._limits.enabled

    @rate_limits.setter
    def rate_limits(self, enabled: bool) -> None:
        self._limits.enabled = enabled
        self._limits.reset()

    @property
    def strict_threads(self) -> bool:
        """Whether ``thread_ts`` of a missing message is refused with ``thread_not_found`` rather than warned about."""
        return self._api.strict_threads

    @strict_threads.setter
    def strict_threads(self, strict: bool) -> None:
        self._api.strict_threads = strict

    # -- reading the state -------------------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """A counter that grows with every change (calls included); poll it to notice activity."""
        return self._state.seq

    def changes(self, since: int = 0) -> list[Change]:
        """Change-log entries newer than ``since``."""
        return [c for c in self._state.log if c.seq > since]

    def calls(self, method: str | None = None) -> list[ApiCall]:
        """Every recorded Web API call, or those of one method, oldest first."""
        return [c for c in self._calls if method is None or c.method == method]

    def messages(self, channel: str, *, include_replies: bool = False) -> list[Message]:
        """Messages in a channel, oldest first: the top level only, unless ``include_replies``."""
        return self._state.channel_messages(channel, include_replies=include_replies)

    def thread(self, channel: str, thread_ts: str) -> list[Message]:
        """A thread's parent (when it exists) followed by its replies, oldest first."""
        return self._state.thread(channel, thread_ts)

    def message(self, channel: str, ts: str) -> Message:
        """One message, deleted or not.

        Raises:
            KeyError: if the channel has no message with that ts.
        """
        return self._state.messages[channel][ts]

    def find_message(self, ts: str) -> Message | None:
        """Find a live message by ``ts`` in any channel."""
        return self._state.find_message(ts)

    def message_json(self, message: Message) -> JSON:
        """A message as Slack returns it in history and interaction payloads, with its thread summary."""
        return self._state.message_json(message)

    def ephemeral(self, user: str, channel: str | None = None) -> list[Ephemeral]:
        """Ephemeral messages shown to a user (optionally in one channel), oldest first."""
        return [e for e in self._state.ephemeral if e.user == user and not e.deleted and channel in (None, e.channel)]

    def view(self, view_id: str) -> View:
        """A view by id, open or closed.

        Raises:
            KeyError: if the id was never issued.
        """
        return self._state.views[view_id]

    def modal_stack(self, user: str) -> list[View]:
        """The user's open modals, bottom first."""
        return [self._state.views[v] for v in self._state.stacks.get(user, [])]

    def open_view(self, user: str) -> View | None:
        """The modal the user is looking at (the top of the stack), if any."""
        stack = self._state.stacks.get(user)
        return self._state.views[stack[-1]] if stack else None

    def home(self, user: str) -> View | None:
        """The App Home view published for a user, if any."""
        return self._state.home(user)

    def responses(self) -> list[ResponsePost]:
        """Everything posted to response_urls, plus command acks, oldest first."""
        return list(self._responses)

    async def wait_for_change(self, since: int, timeout: float) -> int:  # noqa: ASYNC109 - a poll bound, not a deadline
        """Wait until :attr:`version` passes ``since`` or ``timeout`` seconds go by; return the version."""
        return await self._state.wait_for_change(since, timeout)

    # -- arranging things --------------------------------------------------------------------------------------

    def fail(
        self,
        method: str = "*",
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Make the next ``times`` calls of ``method`` fail (see :class:`Fault`); returns the fault.

        Examples: ``fail("chat.postMessage", status=429, retry_after=1)``, ``fail("views.open",
        error="expired_trigger_id")``, ``fail(status=503, times=None)``.
        """
        fault = Fault(method, status, error, retry_after, times)
        fault.answer()  # refuse an impossible fault now rather than mid-test
        self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Forget every planned fault."""
        self._faults.clear()

    def set_latency(self, seconds: float, method: str = "*") -> None:
        """Delay every call (or one method's) by ``seconds`` before answering; 0 removes the delay."""
        if seconds > 0:
            self._latency[method] = seconds
        else:
            self._latency.pop(method, None)

    def issue_trigger(self, user: str) -> str:
        """Hand out a trigger_id for ``user``, usable once within :attr:`trigger_ttl` seconds."""
        now = self._clock()
        trigger_id = f"{self._state.next_id()}.{int(now)}.{stable_id(f'trigger:{user}:{now}')}"
        self._state.triggers[trigger_id] = Trigger(user, now)
        return trigger_id

    def issue_response_url(
        self,
        *,
        channel: str,
        user: str,
        message_ts: str | None = None,
        thread_ts: str | None = None,
        is_ephemeral: bool = False,
    ) -> str:
        """Hand out a loopback response_url answering ``user`` in ``channel`` (and about a message, if given)."""
        target_id = f"R{self._state.next_id():06d}"
        self._targets[target_id] = ResponseTarget(
            target_id, channel, user, self._clock(), message_ts, thread_ts, is_ephemeral
        )
        return f"{self._served_url()}/response/{target_id}"

    def add_member(self, channel: str, user: str) -> None:
        """Put a user in a channel (the driver does this before sending ``member_joined_channel``)."""
        self.workspace.join(channel, user)
        self._state.change("member_joined", channel=channel, user=user)

    def post_as_user(self, user: str, channel: str, text: str, *, thread_ts: str | None = None) -> Message:
        """Record a message a person typed (the driver does this before sending the matching event)."""
        person = self.workspace.user(user)
        message = Message(channel, self._state.next_ts(), user, person.team_id, text, thread_ts=thread_ts)
        self._state.store(message)
        return message

    def set_view_state(self, view_id: str, values: JSON) -> None:
        """Record what the user has typed or picked in a view (its ``state.values``)."""
        self._state.views[view_id].state_values = copy.deepcopy(values)
        self._state.change("view_state", view=view_id)

    def close_view(self, view_id: str, *, clear: bool = False) -> None:
        """Close a modal as its user would (``clear`` closes the whole stack)."""
        view = self._state.views[view_id]
        stack = self._state.stacks.get(view.user, [])
        closing = list(stack) if clear else [v for v in stack if v == view_id]
        for closed in closing:
            stack.remove(closed)
            self._state.views[closed].closed = True
        self._state.change("view_closed", user=view.user, views=closing)

    def apply_view_ack(self, view_id: str, ack: Any) -> list[str]:
        """Do what Slack does with a ``view_submission`` ack: close, update, push, clear, or show errors.

        Args:
            view_id: The submitted view.
            ack: The parsed ack body (``None``/empty closes the view).

        Returns:
            Problems Slack would refuse the ack for (the view is then left as it was); empty when applied.
        """
        view = self._state.views[view_id]
        action = ack.get("response_action") if isinstance(ack, dict) else None
        if action is None:
            self.close_view(view_id)
            return []
        if action == "clear":
            self.close_view(view_id, clear=True)
            return []
        if action == "errors":
            errors = ack.get("errors")
            inputs = {str(b.get("block_id")) for b in view.blocks if b.get("type") == "input"}
            if not isinstance(errors, dict) or not errors or not set(errors) <= inputs:
                return [f"errors must name input blocks of the view; got {errors!r}, inputs are {sorted(inputs)}"]
            view.errors = {str(k): str(v) for k, v in errors.items()}
            self._state.change("view_errors", view=view_id, errors=view.errors)
            return []
        if action in ("update", "push"):
            problems = validate_view(ack.get("view"))
            if problems:
                return problems
            if action == "update":
                self._state.replace_view(view, ack["view"])
            elif len(self._state.stacks.get(view.user, [])) >= MAX_VIEW_STACK:
                return ["push_limit_reached"]
            else:
                self._state.push_view(view.user, ack["view"])
            return []
        return [f"unknown response_action {action!r}"]

    def apply_response(self, target_id: str, body: JSON, *, source: str = "response_url") -> str:
        """Do what Slack does with a body posted to a response_url (or a command's ack, ``source="ack"``).

        Returns:
            The outcome: ``ephemeral``, ``in_channel``, ``replaced``, ``deleted``, or ``refused:<error>``.

        Raises:
            KeyError: for an unknown target.
        """
        target = self._targets[target_id]
        outcome = respond(self._state, target, body, source)
        self._responses.append(ResponsePost(target_id, copy.deepcopy(body), self._clock(), source, outcome))
        self._state.change("response", target=target_id, source=source, outcome=outcome)
        return outcome

    # -- dispatch ----------------------------------------------------------------------------------------------

    async def handle(self, method: str, params: JSON, token: str | None) -> tuple[int, JSON, dict[str, str]]:
        """Answer one Web API call as Slack would, and record it.

        Args:
            method: e.g. ``chat.postMessage``.
            params: Parameters, JSON values already decoded or still as strings.
            token: The bearer token, if any.

        Returns:
            HTTP status, JSON body and extra headers.
        """
        delay = self._latency.get(method, self._latency.get("*", 0.0))
        if delay:
            await asyncio.sleep(delay)
        status, headers, warnings = 200, dict[str, str](), list[str]()
        handler = self._api.handlers.get(method)
        fault = None
        if handler is None:
            body: JSON = {"ok": False, "error": "unknown_method", "req_method": method}
        elif token is None:
            body = {"ok": False, "error": "not_authed"}
        elif token != (self.workspace.app_token if method in APP_TOKEN_METHODS else self.workspace.bot_token):
            known = token in (self.workspace.app_token, self.workspace.bot_token)
            body = {"ok": False, "error": "not_allowed_token_type" if known else "invalid_auth"}
        elif (wait := self._limits.check(method, _channel(params), self._clock())) > 0.0:
            status, body, headers = ratelimited(wait)
        elif (fault := self._take_fault(method)) is not None:
            status, body, headers = fault.answer()
        else:
            try:
                body = {"ok": True, **handler(Params(params, warnings))}
            except WebApiRefusal as exc:
                body = exc.body()
        call = ApiCall(self._state.seq + 1, method, params, token, self._clock(), status, body, warnings)
        self._calls.append(call)
        self._state.change("call", method=method, ok=call.ok, error=call.error, fault=fault is not None)
        return status, body, headers

    def _apps_connections_open(self, p: Params) -> JSON:
        if self.socket is None:
            # The stand-in's own wording: Slack's answer for an app with Socket Mode off is not recorded here.
            raise WebApiRefusal("socket_mode_not_enabled")
        return {"url": self.socket.open_connection()}

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self._faults:
            if fault.method in ("*", method):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    # -- HTTP --------------------------------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        return [
            Route("/api/{method}", self._http_api, methods=["GET", "POST"]),
            Route("/response/{target}", self._http_response, methods=["POST"]),
            Route("/_sandbox/state", self._http_state, methods=["GET"]),
            Route("/_sandbox/calls", self._http_calls, methods=["GET"]),
            Route("/_sandbox/changes", self._http_changes, methods=["GET"]),
            Route("/_sandbox/channels/{channel}/messages", self._http_messages, methods=["GET"]),
            Route("/_sandbox/users/{user}/ephemeral", self._http_ephemeral, methods=["GET"]),
            Route("/_sandbox/users/{user}/views", self._http_views, methods=["GET"]),
            Route("/_sandbox/responses", self._http_responses, methods=["GET"]),
            Route("/_sandbox/faults", self._http_faults, methods=["POST", "DELETE"]),
            Route("/_sandbox/latency", self._http_latency, methods=["POST"]),
            Route("/_sandbox/rate_limits", self._http_rate_limits, methods=["POST"]),
        ]

    async def _http_api(self, request: Request) -> Response:
        params: JSON = dict(request.query_params)
        raw = await request.body()
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if raw and content_type == "application/json":
            try:
                decoded = json.loads(raw)
            except ValueError:
                decoded = None
            if not isinstance(decoded, dict):
                return JSONResponse({"ok": False, "error": "invalid_json"})
            params |= decoded
        elif raw and content_type in ("", "application/x-www-form-urlencoded"):
            params |= dict(urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True))
        elif raw:
            return JSONResponse({"ok": False, "error": "invalid_form_data"})
        token = params.pop("token", None)
        authorization = request.headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        status, body, headers = await self.handle(request.path_params["method"], params, token)
        return JSONResponse(body, status_code=status, headers=headers)

    async def _http_response(self, request: Request) -> Response:
        target = self._targets.get(request.path_params["target"])
        now = self._clock()
        if target is None or now - target.issued > RESPONSE_URL_TTL or self.fail_response_urls:
            return PlainTextResponse("expired_url", status_code=404)
        if target.uses >= RESPONSE_URL_USES:
            return PlainTextResponse("used_url", status_code=404)
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return PlainTextResponse("invalid_payload", status_code=400)
        target.uses += 1
        outcome = self.apply_response(target.id, body)
        if outcome.startswith("refused:"):
            return PlainTextResponse(outcome.removeprefix("refused:"), status_code=400)
        return PlainTextResponse("ok")

    async def _http_state(self, request: Request) -> Response:
        ws = self.workspace
        return JSONResponse(
            {
                "version": self.version,
                "installing_team_id": ws.installing_team_id,
                "bot_user_id": ws.bot_user_id,
                "app_id": ws.app_id,
                "teams": [asdict(t) for t in ws.teams.values()],
                "users": [asdict(u) for u in ws.users.values()],
                "channels": [asdict(c) | {"is_ext_shared": c.is_ext_shared} for c in ws.channels.values()],
                "faults": [asdict(f) for f in self._faults],
                "latency": self._latency,
                "rate_limits": self.rate_limits,
            }
        )

    async def _http_calls(self, request: Request) -> Response:
        method = request.query_params.get("method")
        since = _number(request, "since", int)
        found = [c.to_json() for c in self.calls(method) if c.seq > since]
        return JSONResponse({"version": self.version, "calls": found})

    async def _http_changes(self, request: Request) -> Response:
        since = _number(request, "since", int)
        wait = min(_number(request, "wait", float), MAX_POLL_WAIT)
        version = await self.wait_for_change(since, wait)
        return JSONResponse({"version": version, "changes": [asdict(c) for c in self.changes(since)]})

    async def _http_messages(self, request: Request) -> Response:
        channel = request.path_params["channel"]
        thread_ts = request.query_params.get("thread_ts")
        found = self.thread(channel, thread_ts) if thread_ts else self.messages(channel)
        messages = [self.message_json(m) | {"edits": [asdict(e) for e in m.edits]} for m in found]
        return JSONResponse({"version": self.version, "channel": channel, "messages": messages})

    async def _http_ephemeral(self, request: Request) -> Response:
        found = [e.to_slack() for e in self.ephemeral(request.path_params["user"])]
        return JSONResponse({"version": self.version, "messages": found})

    async def _http_views(self, request: Request) -> Response:
        user = request.path_params["user"]
        home = self.home(user)
        modals = [v.to_slack() | {"errors": v.errors} for v in self.modal_stack(user)]
        return JSONResponse({"version": self.version, "modals": modals, "home": home.to_slack() if home else None})

    async def _http_responses(self, request: Request) -> Response:
        return JSONResponse({"version": self.version, "responses": [asdict(r) for r in self._responses]})

    async def _http_faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.clear_faults()
            return JSONResponse({"ok": True})
        try:
            spec = await request.json()
            fault = self.fail(
                str(spec.get("method", "*")),
                status=int(spec.get("status", 200)),
                error=spec.get("error"),
                retry_after=spec.get("retry_after"),
                times=spec.get("times", 1),
            )
        except (ValueError, TypeError, AttributeError) as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True, "fault": asdict(fault)})

    async def _http_latency(self, request: Request) -> Response:
        try:
            spec = await request.json()
            self.set_latency(float(spec.get("seconds", 0)), str(spec.get("method", "*")))
        except (ValueError, TypeError, AttributeError) as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True, "latency": self._latency})

    async def _http_rate_limits(self, request: Request) -> Response:
        try:
            spec = await request.json()
            enabled = spec["enabled"]
            if not isinstance(enabled, bool):
                raise TypeError("enabled must be true or false")
        except (ValueError, TypeError, KeyError) as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, status_code=400)
        self.rate_limits = enabled
        return JSONResponse({"ok": True, "rate_limits": self.rate_limits})


def _channel(params: JSON) -> str | None:
    """The channel a call names, if any (chat.postMessage's per-channel limit is counted by it)."""
    channel = params.get("channel")
    return channel if isinstance(channel, str) else None
