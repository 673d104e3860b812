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
    POST     /_sandbox/latency                {"seconds": 0.2, "method": "*"}

All state lives in memory and is changed only between awaits, so it is consistent within one event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import itertools
import json
import time
import urllib.parse
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View as SdkView
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bot.sandbox.workspace import Channel, User, Workspace
from bot.serving import serve

JSON = dict[str, Any]
T = TypeVar("T", int, float)

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT = 40_000
MAX_VIEW_STACK = 3
MAX_POLL_WAIT = 10.0  # long-polls end by then, so a shutting-down server never waits long for them
RESPONSE_URL_USES = 5
RESPONSE_URL_TTL = 30 * 60
_INTERACTIVE_BLOCK_KEYS = ("accessory", "element")


def _number(request: Request, name: str, kind: Callable[[str], T]) -> T:
    """A numeric query parameter (0 when absent); a bad one answers 400 instead of crashing the handler."""
    try:
        return kind(request.query_params.get(name, "0"))
    except ValueError:
        raise HTTPException(400, f"{name} must be a number") from None


# --- validation ------------------------------------------------------------------------------------------------


def _compare(sent: Any, kept: Any, pointer: str, errors: list[str]) -> None:
    """Report what slack_sdk's models silently dropped or coerced, which Slack itself would refuse."""
    if isinstance(sent, dict):
        if not isinstance(kept, dict):
            errors.append(f"unsupported value [json-pointer:{pointer}]")
            return
        for key, value in sent.items():
            if key in kept:
                _compare(value, kept[key], f"{pointer}/{key}", errors)
            elif isinstance(value, list) and not value:
                errors.append(f"must provide at least 1 item [json-pointer:{pointer}/{key}]")
            elif value not in (None, ""):
                # The models drop keys they do not know; Slack answers "invalid additional property".
                errors.append(f"invalid additional property: {key} [json-pointer:{pointer}]")
    elif isinstance(sent, list):
        if not isinstance(kept, list):
            errors.append(f"must be an array [json-pointer:{pointer}]")
            return
        for index, (item, kept_item) in enumerate(zip(sent, kept, strict=False)):
            if kept_item is None:
                errors.append(f"unsupported type [json-pointer:{pointer}/{index}]")
            else:
                _compare(item, kept_item, f"{pointer}/{index}", errors)
    elif isinstance(kept, dict):
        # slack_sdk turns a bare string into a text object; Slack wants the object.
        errors.append(f"must be an object [json-pointer:{pointer}]")


def validate_blocks(blocks: Any, *, limit: int = MAX_MESSAGE_BLOCKS, pointer: str = "/blocks") -> list[str]:
    """Check blocks the way Slack does, using ``slack_sdk.models`` for the per-element rules and limits.

    Args:
        blocks: The ``blocks`` value as sent (a list of dicts).
        limit: Most blocks allowed: 50 in a message, 100 in a view.
        pointer: JSON pointer of ``blocks`` inside the request, used in the messages.

    Returns:
        Slack-style error strings (``"... [json-pointer:/blocks/0/text]"``); empty when valid.
    """
    if not isinstance(blocks, list):
        return [f"must be an array [json-pointer:{pointer}]"]
    errors: list[str] = []
    if len(blocks) > limit:
        errors.append(f"must be less than {limit + 1} items [json-pointer:{pointer}]")
    for index, raw in enumerate(blocks):
        where = f"{pointer}/{index}"
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
            errors.append(f"missing required field: type [json-pointer:{where}]")
            continue
        try:
            block = Block.parse(copy.deepcopy(raw))
            if block is None:
                errors.append(f"unsupported type: {raw['type']} [json-pointer:{where}/type]")
                continue
            kept = block.to_dict()  # validates the block and, recursively, its elements
        except SlackObjectFormationError as exc:
            errors.append(f"{exc} [json-pointer:{where}]")
            continue
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            errors.append(f"invalid block: {exc} [json-pointer:{where}]")
            continue
        _compare(raw, kept, where, errors)
    return errors


def validate_view(view: Any, *, pointer: str = "/view") -> list[str]:
    """Check a modal or App Home view the way Slack does (title/submit/close lengths, 1–100 blocks, metadata size).

    Args:
        view: The ``view`` value as sent.
        pointer: JSON pointer of the view inside the request.

    Returns:
        Slack-style error strings; empty when valid.
    """
    if not isinstance(view, dict):
        return [f"must be an object [json-pointer:{pointer}]"]
    kind = view.get("type")
    if kind not in ("modal", "home"):
        return [f"must be one of modal, home [json-pointer:{pointer}/type]"]
    errors: list[str] = []
    if kind == "modal" and not view.get("title"):
        errors.append(f"missing required field: title [json-pointer:{pointer}]")
    if "blocks" not in view:
        errors.append(f"missing required field: blocks [json-pointer:{pointer}]")
    try:
        SdkView(**copy.deepcopy(view)).validate_json()
    except SlackObjectFormationError as exc:
        errors.append(f"{exc} [json-pointer:{pointer}]")
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        errors.append(f"invalid view: {exc} [json-pointer:{pointer}]")
    errors += validate_blocks(view.get("blocks", []), limit=MAX_VIEW_BLOCKS, pointer=f"{pointer}/blocks")
    return errors


def _stable_id(seed: str) -> str:
    return hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()[:5]


def _with_ids(blocks: list[JSON], seed: str) -> list[JSON]:
    """Give every block a ``block_id`` and every interactive element an ``action_id``, as Slack does on save."""
    filled = copy.deepcopy(blocks)
    for index, block in enumerate(filled):
        block.setdefault("block_id", _stable_id(f"{seed}:{index}"))
        elements = [block[k] for k in _INTERACTIVE_BLOCK_KEYS if isinstance(block.get(k), dict)]
        if block.get("type") == "actions":
            elements += [e for e in block.get("elements", []) if isinstance(e, dict)]
        for position, element in enumerate(elements):
            element.setdefault("action_id", _stable_id(f"{seed}:{index}:{position}"))
    return filled


# --- what is recorded ------------------------------------------------------------------------------------------


@dataclass
class ApiCall:
    """One Web API call as the sandbox answered it."""

    seq: int
    method: str
    params: JSON
    token: str | None
    at: float
    status: int
    response: JSON
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether Slack would have said ``ok: true``."""
        return self.status == 200 and self.response.get("ok") is True

    @property
    def error(self) -> str | None:
        """The ``error`` code of a refused call."""
        value = self.response.get("error")
        return value if isinstance(value, str) else None

    def to_json(self) -> JSON:
        """A JSON-safe view for the browser, with the token reduced to its last four characters."""
        data = asdict(self)
        data["token"] = f"…{self.token[-4:]}" if self.token else None
        return data


@dataclass
class MessageVersion:
    """What a message said before an edit."""

    text: str
    blocks: list[JSON]
    replaced_at: str


@dataclass
class Message:
    """A message in a channel as every member sees it; ``edits`` holds the earlier versions, oldest first."""

    channel: str
    ts: str
    user: str
    team: str
    text: str
    blocks: list[JSON] = field(default_factory=list)
    bot_id: str | None = None
    app_id: str | None = None
    thread_ts: str | None = None
    metadata: JSON | None = None
    reply_broadcast: bool = False
    edits: list[MessageVersion] = field(default_factory=list)
    deleted: bool = False

    @property
    def is_reply(self) -> bool:
        """Whether this message is a reply inside a thread (not its parent)."""
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_slack(self) -> JSON:
        """The message object as Slack returns it from chat.postMessage or conversations.history."""
        data: JSON = {"type": "message", "text": self.text, "user": self.user, "ts": self.ts, "team": self.team}
        if self.bot_id:
            data |= {"bot_id": self.bot_id, "app_id": self.app_id}
        if self.blocks:
            data["blocks"] = copy.deepcopy(self.blocks)
        if self.thread_ts:
            data["thread_ts"] = self.thread_ts
        if self.metadata:
            data["metadata"] = copy.deepcopy(self.metadata)
        if self.edits:
            data["edited"] = {"user": self.user, "ts": self.edits[-1].replaced_at}
        return data


@dataclass
class Ephemeral:
    """A message only ``user`` sees, from chat.postEphemeral, a response_url or a command's ack."""

    channel: str
    user: str
    ts: str
    text: str
    blocks: list[JSON] = field(default_factory=list)
    thread_ts: str | None = None
    source: str = "chat.postEphemeral"
    deleted: bool = False

    def to_slack(self) -> JSON:
        """The shape a client would render (and the JSON endpoint returns)."""
        data: JSON = {"type": "message", "subtype": "ephemeral", "channel": self.channel, "user": self.user}
        data |= {"ts": self.ts, "text": self.text, "blocks": copy.deepcopy(self.blocks), "source": self.source}
        if self.thread_ts:
            data["thread_ts"] = self.thread_ts
        return data


@dataclass
class View:
    """A modal or App Home view shown to ``user``; ``payload`` is what the app sent, ids filled in."""

    id: str
    user: str
    team_id: str
    app_id: str
    bot_id: str
    app_installed_team_id: str
    payload: JSON
    hash: str
    root_view_id: str
    previous_view_id: str | None = None
    external_id: str | None = None
    errors: dict[str, str] = field(default_factory=dict)
    state_values: JSON = field(default_factory=dict)
    history: list[JSON] = field(default_factory=list)
    closed: bool = False

    @property
    def type(self) -> str:
        """``modal`` or ``home``."""
        return str(self.payload.get("type"))

    @property
    def callback_id(self) -> str:
        """The app's ``callback_id`` (empty when unset)."""
        return str(self.payload.get("callback_id") or "")

    @property
    def blocks(self) -> list[JSON]:
        """The view's blocks."""
        blocks = self.payload.get("blocks")
        return blocks if isinstance(blocks, list) else []

    def to_slack(self) -> JSON:
        """The view object as Slack returns it and puts it in interaction payloads."""
        data: JSON = {
            "type": self.type,
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "clear_on_close": False,
            "notify_on_close": False,
            "close": None,
            "submit": None,
        }
        data |= copy.deepcopy(self.payload)
        data |= {
            "id": self.id,
            "team_id": self.team_id,
            "state": {"values": copy.deepcopy(self.state_values)},
            "hash": self.hash,
            "previous_view_id": self.previous_view_id,
            "root_view_id": self.root_view_id,
            "app_id": self.app_id,
            "external_id": self.external_id or "",
            "app_installed_team_id": self.app_installed_team_id,
            "bot_id": self.bot_id,
        }
        return data


@dataclass
class ResponseTarget:
    """Where a response_url leads: the channel, the user it answers, and the message it came from, if any."""

    id: str
    channel: str
    user: str
    issued: float
    message_ts: str | None = None
    thread_ts: str | None = None
    is_ephemeral: bool = False
    uses: int = 0


@dataclass
class ResponsePost:
    """A body posted to a response_url (``source="response_url"``) or returned as a command's ack (``"ack"``)."""

    target: str
    body: JSON
    at: float
    source: str
    outcome: str


@dataclass
class Fault:
    """A planned failure: the next ``times`` calls of ``method`` (``"*"``: any; ``times=None``: until cleared).

    ``status=429`` answers ``ratelimited`` with ``Retry-After``; 5xx answers that status; 200 with ``error`` answers
    ``ok: false``.
    """

    method: str = "*"
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    times: int | None = 1

    def answer(self) -> tuple[int, JSON, dict[str, str]]:
        """The status, body and headers the faulty call gets."""
        default = {429: "ratelimited", 503: "service_unavailable"}.get(self.status, "internal_error")
        if self.status == 200 and self.error is None:
            raise ValueError("a 200 fault needs an error code")
        body: JSON = {"ok": False, "error": self.error or default}
        headers = {"Retry-After": str(self.retry_after or 1)} if self.status == 429 else {}
        return self.status, body, headers


@dataclass(frozen=True)
class Change:
    """One entry in the change log a browser page polls."""

    seq: int
    kind: str
    at: float
    data: JSON


class SlackApiError(Exception):
    """A refusal the way Slack words it: ``{"ok": false, "error": code, ...extra}``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

    def body(self) -> JSON:
        """The JSON answer."""
        return {"ok": False, "error": self.error, **self.extra}


def _invalid_blocks(errors: list[str]) -> SlackApiError:
    messages = [f"[ERROR] {e}" for e in errors]
    return SlackApiError("invalid_blocks", errors=errors, response_metadata={"messages": messages})


def _invalid_view(errors: list[str]) -> SlackApiError:
    # views.* refuse a bad view with invalid_arguments (not invalid_blocks), detailing it in response_metadata.
    messages = [f"[ERROR] {e}" for e in errors]
    return SlackApiError("invalid_arguments", errors=errors, response_metadata={"messages": messages})


class _Params:
    """The parameters of one call, however they were sent (query, form or JSON)."""

    def __init__(self, raw: JSON, warnings: list[str]) -> None:
        self.raw = raw
        self.warnings = warnings

    def text(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(value)

    def required(self, name: str, error: str) -> str:
        value = self.text(name)
        if value is None:
            raise SlackApiError(error)
        return value

    def decoded(self, name: str, error: str) -> Any:
        """A JSON-valued parameter: already structured in a JSON body, a JSON string in a form."""
        value = self.raw.get(name)
        if isinstance(value, str) and value:
            try:
                return json.loads(value)
            except ValueError:
                raise SlackApiError(error) from None
        return value

    def flag(self, name: str) -> bool:
        value = self.raw.get(name)
        return value is True or (isinstance(value, str) and value.lower() in ("1", "true"))


@dataclass
class _Trigger:
    user: str
    issued: float
    used: bool = False


# --- the sandbox -----------------------------------------------------------------------------------------------


class SlackApiSandbox:
    """A Slack Web API stand-in and the record of what it was asked and what users would now see.

    Args:
        workspace: The world (defaults to ``Workspace()``).
        clock: Unix time source, for ``ts`` values, trigger expiry and response_url expiry.
        trigger_ttl: Seconds a trigger_id stays usable (Slack: 3).
        strict_threads: Refuse ``thread_ts`` of a missing message with ``thread_not_found``. Slack itself posts
            such a reply anyway, so by default the call succeeds and carries the warning ``thread_parent_not_found``.
        max_changes: How many change-log entries to keep for pollers.
    """

    def __init__(
        self,
        workspace: Workspace | None = None,
        *,
        clock: Callable[[], float] = time.time,
        trigger_ttl: float = 3.0,
        strict_threads: bool = False,
        max_changes: int = 10_000,
    ) -> None:
        self.workspace = workspace if workspace is not None else Workspace()
        self.url: str | None = None
        self.trigger_ttl = trigger_ttl
        self.strict_threads = strict_threads
        self._clock = clock
        self._last_micros = 0
        self._ids = itertools.count(1)
        self._seq = 0
        self._changes: deque[Change] = deque(maxlen=max_changes)
        self._wakeup: asyncio.Event | None = None
        self._closing = False
        self._calls: list[ApiCall] = []
        self._messages: dict[str, dict[str, Message]] = {}
        self._ephemeral: list[Ephemeral] = []
        self._views: dict[str, View] = {}
        self._stacks: dict[str, list[str]] = {}
        self._homes: dict[str, str] = {}
        self._triggers: dict[str, _Trigger] = {}
        self._targets: dict[str, ResponseTarget] = {}
        self._responses: list[ResponsePost] = []
        self._faults: list[Fault] = []
        self._latency: dict[str, float] = {}
        self._handlers: dict[str, Callable[[_Params], JSON]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "conversations.join": self._conversations_join,
            "users.info": self._users_info,
            "team.info": self._team_info,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
        }
        self.app = Starlette(routes=self._routes())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve as an ASGI app."""
        await self.app(scope, receive, send)

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve on loopback for the block, setting :attr:`url` (so response_urls can be issued) and yielding it.

        To serve the app some other way (mounted in a playground, say), set :attr:`url` to where it is reachable.
        """
        async with serve(self, host, port) as url:
            self.url = url
            try:
                yield url
            finally:
                # Answer pending long-polls now, or uvicorn's shutdown would wait for them to time out.
                self._closing = True
                self._wake()
                self.url = None
                self._closing = False

    @property
    def api_url(self) -> str:
        """The ``base_url`` for ``AsyncWebClient`` (the bot's SLACK_API_URL): ``<url>/api/``."""
        return f"{self._served_url()}/api/"

    def _served_url(self) -> str:
        if self.url is None:
            raise RuntimeError("the sandbox is not being served; use `async with sandbox.serve() as url:` first")
        return self.url

    # -- reading the state -------------------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """A counter that grows with every change (calls included); poll it to notice activity."""
        return self._seq

    def changes(self, since: int = 0) -> list[Change]:
        """Change-log entries newer than ``since``."""
        return [c for c in self._changes if c.seq > since]

    def calls(self, method: str | None = None) -> list[ApiCall]:
        """Every recorded Web API call, or those of one method, oldest first."""
        return [c for c in self._calls if method is None or c.method == method]

    def messages(self, channel: str, *, include_replies: bool = False) -> list[Message]:
        """Messages in a channel, oldest first: the top level only, unless ``include_replies``."""
        found = self._messages.get(channel, {}).values()
        return [m for m in found if not m.deleted and (include_replies or not m.is_reply or m.reply_broadcast)]

    def thread(self, channel: str, thread_ts: str) -> list[Message]:
        """A thread's parent (when it exists) followed by its replies, oldest first."""
        found = self._messages.get(channel, {}).values()
        return [m for m in found if not m.deleted and (m.ts == thread_ts or m.thread_ts == thread_ts)]

    def message(self, channel: str, ts: str) -> Message:
        """One message, deleted or not.

        Raises:
            KeyError: if the channel has no message with that ts.
        """
        return self._messages[channel][ts]

    def find_message(self, ts: str) -> Message | None:
        """Find a live message by ``ts`` in any channel."""
        for channel in self._messages.values():
            if ts in channel and not channel[ts].deleted:
                return channel[ts]
        return None

    def ephemeral(self, user: str, channel: str | None = None) -> list[Ephemeral]:
        """Ephemeral messages shown to a user (optionally in one channel), oldest first."""
        return [e for e in self._ephemeral if e.user == user and not e.deleted and channel in (None, e.channel)]

    def view(self, view_id: str) -> View:
        """A view by id, open or closed.

        Raises:
            KeyError: if the id was never issued.
        """
        return self._views[view_id]

    def modal_stack(self, user: str) -> list[View]:
        """The user's open modals, bottom first."""
        return [self._views[v] for v in self._stacks.get(user, [])]

    def open_view(self, user: str) -> View | None:
        """The modal the user is looking at (the top of the stack), if any."""
        stack = self._stacks.get(user)
        return self._views[stack[-1]] if stack else None

    def home(self, user: str) -> View | None:
        """The App Home view published for a user, if any."""
        view_id = self._homes.get(user)
        return self._views[view_id] if view_id else None

    def responses(self) -> list[ResponsePost]:
        """Everything posted to response_urls, plus command acks, oldest first."""
        return list(self._responses)

    async def wait_for_change(self, since: int, timeout: float) -> int:  # noqa: ASYNC109 - a poll bound, not a deadline
        """Wait until :attr:`version` passes ``since`` or ``timeout`` seconds go by; return the version."""
        if self._seq > since or timeout <= 0 or self._closing:
            return self._seq
        if self._wakeup is None:
            self._wakeup = asyncio.Event()
        wakeup = self._wakeup
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout)
        return self._seq

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
        trigger_id = f"{next(self._ids)}.{int(now)}.{_stable_id(f'trigger:{user}:{now}')}"
        self._triggers[trigger_id] = _Trigger(user, now)
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
        target_id = f"R{next(self._ids):06d}"
        self._targets[target_id] = ResponseTarget(
            target_id, channel, user, self._clock(), message_ts, thread_ts, is_ephemeral
        )
        return f"{self._served_url()}/response/{target_id}"

    def add_member(self, channel: str, user: str) -> None:
        """Put a user in a channel (the driver does this before sending ``member_joined_channel``)."""
        self.workspace.join(channel, user)
        self._change("member_joined", channel=channel, user=user)

    def post_as_user(self, user: str, channel: str, text: str, *, thread_ts: str | None = None) -> Message:
        """Record a message a person typed (the driver does this before sending the matching event)."""
        person = self.workspace.user(user)
        message = Message(channel, self._next_ts(), user, person.team_id, text, thread_ts=thread_ts)
        self._store(message)
        return message

    def set_view_state(self, view_id: str, values: JSON) -> None:
        """Record what the user has typed or picked in a view (its ``state.values``)."""
        self._views[view_id].state_values = copy.deepcopy(values)
        self._change("view_state", view=view_id)

    def close_view(self, view_id: str, *, clear: bool = False) -> None:
        """Close a modal as its user would (``clear`` closes the whole stack)."""
        view = self._views[view_id]
        stack = self._stacks.get(view.user, [])
        closing = list(stack) if clear else [v for v in stack if v == view_id]
        for closed in closing:
            stack.remove(closed)
            self._views[closed].closed = True
        self._change("view_closed", user=view.user, views=closing)

    def apply_view_ack(self, view_id: str, ack: Any) -> list[str]:
        """Do what Slack does with a ``view_submission`` ack: close, update, push, clear, or show errors.

        Args:
            view_id: The submitted view.
            ack: The parsed ack body (``None``/empty closes the view).

        Returns:
            Problems Slack would refuse the ack for (the view is then left as it was); empty when applied.
        """
        view = self._views[view_id]
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
            self._change("view_errors", view=view_id, errors=view.errors)
            return []
        if action in ("update", "push"):
            problems = validate_view(ack.get("view"))
            if problems:
                return problems
            if action == "update":
                self._replace_view(view, ack["view"])
            elif len(self._stacks.get(view.user, [])) >= MAX_VIEW_STACK:
                return ["push_limit_reached"]
            else:
                self._push_view(view.user, ack["view"])
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
        outcome = self._respond(target, body, source)
        self._responses.append(ResponsePost(target_id, copy.deepcopy(body), self._clock(), source, outcome))
        self._change("response", target=target_id, source=source, outcome=outcome)
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
        handler = self._handlers.get(method)
        fault = None
        if handler is None:
            body: JSON = {"ok": False, "error": "unknown_method", "req_method": method}
        elif token is None:
            body = {"ok": False, "error": "not_authed"}
        elif token != self.workspace.bot_token:
            body = {"ok": False, "error": "invalid_auth"}
        elif (fault := self._take_fault(method)) is not None:
            status, body, headers = fault.answer()
        else:
            try:
                body = {"ok": True, **handler(_Params(params, warnings))}
            except SlackApiError as exc:
                body = exc.body()
        call = ApiCall(self._seq + 1, method, params, token, self._clock(), status, body, warnings)
        self._calls.append(call)
        self._change("call", method=method, ok=call.ok, error=call.error, fault=fault is not None)
        return status, body, headers

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self._faults:
            if fault.method in ("*", method):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def _change(self, kind: str, **data: Any) -> None:
        self._seq += 1
        self._changes.append(Change(self._seq, kind, self._clock(), data))
        self._wake()

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()
            self._wakeup = None

    def _next_ts(self) -> str:
        # Slack's ts is seconds.microseconds and unique per channel; keep it strictly increasing even when the
        # clock stands still (a fake clock) or steps back.
        micros = max(int(self._clock() * 1_000_000), self._last_micros + 1)
        self._last_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _store(self, message: Message) -> None:
        self._messages.setdefault(message.channel, {})[message.ts] = message
        self._change("message", channel=message.channel, ts=message.ts, thread_ts=message.thread_ts)

    # -- helpers for the methods -------------------------------------------------------------------------------

    def _channel(self, p: _Params, name: str = "channel") -> Channel:
        key = p.text(name)
        if key is None:
            raise SlackApiError("channel_not_found")
        if key.startswith(("U", "W")) and key in self.workspace.users:
            return self.workspace.im_channel(key)  # posting to a user id means their DM with the bot
        channel = self.workspace.find_channel(key)
        if channel is None or (channel.is_private and self.workspace.bot_user_id not in channel.members):
            raise SlackApiError("channel_not_found")
        return channel

    def _user(self, user_id: str | None) -> User:
        if user_id is None or user_id not in self.workspace.users:
            raise SlackApiError("user_not_found")
        return self.workspace.users[user_id]

    def _content(self, p: _Params, *, required: bool) -> tuple[str | None, list[JSON] | None]:
        text = p.text("text")
        blocks = p.decoded("blocks", "invalid_blocks_format")
        if blocks is not None:
            errors = validate_blocks(blocks)
            if errors:
                raise _invalid_blocks(errors)
        if required and not text and not blocks and not p.text("attachments"):
            raise SlackApiError("no_text")
        if text is not None and len(text) > MAX_TEXT:
            raise SlackApiError("msg_too_long")
        return text, blocks

    def _thread(self, channel: Channel, thread_ts: str | None, warnings: list[str]) -> str | None:
        if thread_ts is None:
            return None
        parent = self._messages.get(channel.id, {}).get(thread_ts)
        if parent is None or parent.deleted:
            if self.strict_threads:
                raise SlackApiError("thread_not_found")
            warnings.append("thread_parent_not_found")
            return thread_ts
        if parent.is_reply:
            warnings.append("thread_ts_is_a_reply")  # Slack files it under the reply's own parent
            return parent.thread_ts
        return thread_ts

    def _bot_message(self, p: _Params, channel: Channel, text: str | None, blocks: list[JSON] | None) -> Message:
        ws = self.workspace
        ts = self._next_ts()
        metadata = p.decoded("metadata", "invalid_metadata_format")
        return Message(
            channel.id,
            ts,
            ws.bot_user_id,
            ws.installing_team_id,
            text or "",
            _with_ids(blocks or [], f"{channel.id}:{ts}"),
            bot_id=ws.bot.bot_id,
            app_id=ws.app_id,
            thread_ts=self._thread(channel, p.text("thread_ts"), p.warnings),
            metadata=metadata if isinstance(metadata, dict) else None,
            reply_broadcast=p.flag("reply_broadcast"),
        )

    def _live_message(self, channel: Channel, ts: str | None) -> Message:
        message = self._messages.get(channel.id, {}).get(ts or "")
        if message is None or message.deleted:
            raise SlackApiError("message_not_found")
        return message

    def message_json(self, message: Message) -> JSON:
        """A message as Slack returns it in history and interaction payloads, with its thread summary."""
        data = message.to_slack()
        replies = [m for m in self.thread(message.channel, message.ts) if m.ts != message.ts]
        if replies and not message.is_reply:
            data |= {
                "thread_ts": message.ts,
                "reply_count": len(replies),
                "reply_users": sorted({m.user for m in replies}),
                "latest_reply": replies[-1].ts,
            }
        return data

    def _new_view(self, user: str, payload: JSON, *, root: str | None, previous: str | None) -> View:
        ws = self.workspace
        view_id = f"V{next(self._ids):08d}"
        payload = {**payload, "blocks": _with_ids(payload.get("blocks", []), view_id)}
        view = View(
            view_id,
            user,
            ws.user(user).team_id,  # a clinic user's view carries the clinic's team
            ws.app_id,
            ws.bot.bot_id or "",
            ws.installing_team_id,
            payload,
            self._new_hash(view_id),
            root or view_id,
            previous,
            payload.get("external_id") or None,
        )
        self._views[view_id] = view
        return view

    def _new_hash(self, view_id: str) -> str:
        return f"{int(self._clock())}.{_stable_id(f'{view_id}:{next(self._ids)}')}"

    def _replace_view(self, view: View, payload: JSON) -> None:
        view.history.append(view.payload)
        view.payload = {**payload, "blocks": _with_ids(payload.get("blocks", []), f"{view.id}:{view.hash}")}
        view.external_id = payload.get("external_id") or view.external_id
        view.hash = self._new_hash(view.id)
        view.errors = {}
        self._change("view_updated", user=view.user, view=view.id)

    def _push_view(self, user: str, payload: JSON) -> View:
        stack = self._stacks.setdefault(user, [])
        view = self._new_view(user, payload, root=stack[0] if stack else None, previous=stack[-1] if stack else None)
        stack.append(view.id)
        self._change("view_pushed", user=user, view=view.id)
        return view

    def _claim_trigger(self, p: _Params) -> _Trigger:
        trigger_id = p.text("trigger_id") or p.text("interactivity_pointer")
        trigger = self._triggers.get(trigger_id or "")
        if trigger is None:
            raise SlackApiError("invalid_trigger_id")
        if trigger.used:
            raise SlackApiError("exchanged_trigger_id")
        if self._clock() - trigger.issued > self.trigger_ttl:
            raise SlackApiError("expired_trigger_id")
        trigger.used = True
        return trigger

    def _view_param(self, p: _Params, *, kind: str) -> JSON:
        view = p.decoded("view", "invalid_arguments")
        errors = validate_view(view)
        if not errors and view.get("type") != kind:
            errors = [f"must be {kind} [json-pointer:/view/type]"]
        if errors:
            raise _invalid_view(errors)
        external_id = view.get("external_id")
        if external_id and any(v.external_id == external_id for v in self._views.values() if not v.closed):
            raise SlackApiError("duplicate_external_id")
        return dict(view)

    def _find_view(self, p: _Params) -> View:
        view_id, external_id = p.text("view_id"), p.text("external_id")
        if view_id is None and external_id is None:
            raise SlackApiError("invalid_arguments")
        for view in self._views.values():
            if (view.id == view_id or (external_id and view.external_id == external_id)) and not view.closed:
                return view
        raise SlackApiError("not_found")

    def _respond(self, target: ResponseTarget, body: JSON, source: str) -> str:
        ws = self.workspace
        original = self.find_message(target.message_ts) if target.message_ts and not target.is_ephemeral else None
        if body.get("delete_original"):
            self._drop_original(target, original)
            return "deleted"
        blocks = body.get("blocks")
        if blocks is not None and validate_blocks(blocks):
            return "refused:invalid_blocks"
        text = body.get("text")
        if not text and not blocks:
            return "refused:no_text"
        if body.get("replace_original") and (original is not None or target.is_ephemeral):
            if original is not None:
                self._edit(original, text, blocks)
            else:
                self._drop_original(target, None)
                self._add_ephemeral(target.channel, target.user, text, blocks, target.thread_ts, source)
            return "replaced"
        thread_ts = body.get("thread_ts") or target.thread_ts
        if body.get("response_type") == "in_channel":
            ts = self._next_ts()
            message = Message(
                target.channel, ts, ws.bot_user_id, ws.installing_team_id, text or "",
                _with_ids(blocks or [], f"{target.channel}:{ts}"), ws.bot.bot_id, ws.app_id, thread_ts,
            )  # fmt: skip
            self._store(message)
            return "in_channel"
        self._add_ephemeral(target.channel, target.user, text, blocks, thread_ts, source)
        return "ephemeral"

    def _drop_original(self, target: ResponseTarget, original: Message | None) -> None:
        if original is not None:
            original.deleted = True
            self._change("message_deleted", channel=original.channel, ts=original.ts)
        for ephemeral in self._ephemeral:
            if target.is_ephemeral and ephemeral.ts == target.message_ts:
                ephemeral.deleted = True
                self._change("ephemeral_deleted", user=ephemeral.user, ts=ephemeral.ts)

    def _add_ephemeral(
        self, channel: str, user: str, text: str | None, blocks: list[JSON] | None, thread_ts: str | None, source: str
    ) -> Ephemeral:
        ts = self._next_ts()
        ephemeral = Ephemeral(channel, user, ts, text or "", _with_ids(blocks or [], f"e:{ts}"), thread_ts, source)
        self._ephemeral.append(ephemeral)
        self._change("ephemeral", channel=channel, user=user, ts=ts)
        return ephemeral

    def _edit(self, message: Message, text: str | None, blocks: list[JSON] | None) -> None:
        ts = self._next_ts()
        message.edits.append(MessageVersion(message.text, message.blocks, ts))
        if text is not None:
            message.text = text
        if blocks is not None:
            # Like Slack: omitted blocks are kept, an empty list removes them.
            message.blocks = _with_ids(blocks, f"{message.channel}:{message.ts}:{ts}")
        self._change("message_updated", channel=message.channel, ts=message.ts)

    # -- Web API methods ---------------------------------------------------------------------------------------

    def _auth_test(self, p: _Params) -> JSON:
        ws = self.workspace
        return {
            "url": f"https://{ws.team.domain}.slack.com/",
            "team": ws.team.name,
            "user": ws.bot.name,
            "team_id": ws.team.id,
            "user_id": ws.bot.id,
            "bot_id": ws.bot.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, p: _Params) -> JSON:
        channel = self._channel(p)
        if self.workspace.bot_user_id not in channel.members:
            raise SlackApiError("not_in_channel")
        text, blocks = self._content(p, required=True)
        message = self._bot_message(p, channel, text, blocks)
        self._store(message)
        return {"channel": channel.id, "ts": message.ts, "message": message.to_slack()}

    def _chat_update(self, p: _Params) -> JSON:
        channel = self._channel(p)
        message = self._live_message(channel, p.text("ts"))
        if message.user != self.workspace.bot_user_id:
            raise SlackApiError("cant_update_message")
        text, blocks = self._content(p, required=False)
        if text is None and blocks is None:
            raise SlackApiError("no_text")
        self._edit(message, text, blocks)
        return {"channel": channel.id, "ts": message.ts, "text": message.text, "message": message.to_slack()}

    def _chat_post_ephemeral(self, p: _Params) -> JSON:
        channel = self._channel(p)
        if self.workspace.bot_user_id not in channel.members:
            raise SlackApiError("not_in_channel")
        user = self._user(p.text("user"))
        if user.id not in channel.members:
            raise SlackApiError("user_not_in_channel")
        text, blocks = self._content(p, required=True)
        thread_ts = self._thread(channel, p.text("thread_ts"), p.warnings)
        ephemeral = self._add_ephemeral(channel.id, user.id, text, blocks, thread_ts, "chat.postEphemeral")
        return {"message_ts": ephemeral.ts}

    def _chat_delete(self, p: _Params) -> JSON:
        channel = self._channel(p)
        message = self._live_message(channel, p.text("ts"))
        if message.user != self.workspace.bot_user_id:
            raise SlackApiError("cant_delete_message")
        message.deleted = True
        self._change("message_deleted", channel=channel.id, ts=message.ts)
        return {"channel": channel.id, "ts": message.ts}

    def _chat_get_permalink(self, p: _Params) -> JSON:
        channel = self._channel(p)
        message = self._live_message(channel, p.text("message_ts"))
        link = f"https://{self.workspace.team.domain}.slack.com/archives/{channel.id}/p{message.ts.replace('.', '')}"
        if message.is_reply:
            link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
        return {"channel": channel.id, "permalink": link}

    def _conversations_history(self, p: _Params) -> JSON:
        channel = self._channel(p)
        asked = p.text("limit") or ""
        limit = int(asked) if asked.isdigit() and int(asked) > 0 else 100
        found = [self.message_json(m) for m in reversed(self.messages(channel.id))]
        return {"messages": found[:limit], "has_more": len(found) > limit, "response_metadata": {"next_cursor": ""}}

    def _conversations_replies(self, p: _Params) -> JSON:
        channel = self._channel(p)
        parent = self._messages.get(channel.id, {}).get(p.text("ts") or "")
        if parent is None or parent.deleted:
            raise SlackApiError("thread_not_found")
        found = [self.message_json(m) for m in self.thread(channel.id, parent.thread_ts or parent.ts)]
        return {"messages": found, "has_more": False, "response_metadata": {"next_cursor": ""}}

    def _conversation_json(self, channel: Channel) -> JSON:
        ws = self.workspace
        if channel.is_im:
            return {"id": channel.id, "created": channel.created, "is_im": True, "is_org_shared": False,
                    "user": channel.name, "is_user_deleted": False}  # fmt: skip
        data: JSON = {
            "id": channel.id,
            "name": channel.name,
            "name_normalized": channel.name,
            "is_channel": not channel.is_private,
            "is_group": channel.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": channel.is_private,
            "created": channel.created,
            "is_archived": False,
            "is_general": False,
            "is_shared": channel.is_ext_shared,
            "is_org_shared": False,
            "is_ext_shared": channel.is_ext_shared,
            "is_pending_ext_shared": False,
            "pending_shared": [],
            "context_team_id": ws.installing_team_id,
            "is_member": ws.bot_user_id in channel.members,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }
        if channel.is_ext_shared:
            teams = sorted(set(channel.connected_team_ids) | {channel.team_id})
            data |= {"connected_team_ids": teams, "shared_team_ids": teams, "internal_team_ids": []}
        return data

    def _conversations_info(self, p: _Params) -> JSON:
        channel = self._channel(p)
        data = self._conversation_json(channel)
        if p.flag("include_num_members"):
            data["num_members"] = len(channel.members)
        return {"channel": data}

    def _conversations_members(self, p: _Params) -> JSON:
        channel = self._channel(p)
        return {"members": list(channel.members), "response_metadata": {"next_cursor": ""}}

    def _conversations_join(self, p: _Params) -> JSON:
        channel = self._channel(p)
        if channel.is_im or channel.is_private:
            raise SlackApiError("method_not_supported_for_channel_type")
        already = self.workspace.bot_user_id in channel.members
        self.workspace.join(channel.id, self.workspace.bot_user_id)
        self._change("member_joined", channel=channel.id, user=self.workspace.bot_user_id)
        answer: JSON = {"channel": self._conversation_json(channel)}
        if already:
            answer["warning"] = "already_in_channel"
        return answer

    def _users_info(self, p: _Params) -> JSON:
        user = self._user(p.text("user"))
        now = self._clock()
        stranger = user.team_id != self.workspace.installing_team_id
        profile: JSON = {
            "real_name": user.real_name,
            "real_name_normalized": user.real_name,
            "display_name": user.display_name,
            "display_name_normalized": user.display_name,
            "team": user.team_id,
        }
        if user.email and not stranger:
            profile["email"] = user.email  # Slack Connect profiles usually withhold the email
        if user.bot_id:
            profile["bot_id"] = user.bot_id
        data: JSON = {
            "id": user.id,
            "team_id": user.team_id,
            "name": user.name,
            "deleted": False,
            "real_name": user.real_name,
            "tz": user.tz,
            "tz_label": user.tz_label(now),
            "tz_offset": user.tz_offset(now),
            "profile": profile,
            "is_admin": user.is_admin,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "updated": 1_700_000_000,
        }
        if stranger:
            data["is_stranger"] = True
        return {"user": data}

    def _team_info(self, p: _Params) -> JSON:
        team = self.workspace.teams.get(p.text("team") or self.workspace.installing_team_id)
        if team is None:
            raise SlackApiError("team_not_found")
        data: JSON = {"id": team.id, "name": team.name, "domain": team.domain, "email_domain": "",
                      "icon": {"image_default": True}}  # fmt: skip
        if team.enterprise_id:
            data["enterprise_id"] = team.enterprise_id
        return {"team": data}

    def _views_open(self, p: _Params) -> JSON:
        payload = self._view_param(p, kind="modal")
        trigger = self._claim_trigger(p)
        for old in self._stacks.pop(trigger.user, []):
            self._views[old].closed = True  # a fresh modal replaces whatever stack was open
        view = self._push_view(trigger.user, payload)
        return {"view": view.to_slack()}

    def _views_push(self, p: _Params) -> JSON:
        payload = self._view_param(p, kind="modal")
        trigger = self._claim_trigger(p)
        stack = self._stacks.get(trigger.user, [])
        if not stack:
            raise SlackApiError("not_found")
        if len(stack) >= MAX_VIEW_STACK:
            raise SlackApiError("push_limit_reached")
        return {"view": self._push_view(trigger.user, payload).to_slack()}

    def _views_update(self, p: _Params) -> JSON:
        view = self._find_view(p)
        payload = p.decoded("view", "invalid_arguments")
        errors = validate_view(payload)
        if errors:
            raise _invalid_view(errors)
        expected = p.text("hash")
        if expected is not None and expected != view.hash:
            raise SlackApiError("hash_conflict")
        self._replace_view(view, payload)
        return {"view": view.to_slack()}

    def _views_publish(self, p: _Params) -> JSON:
        user = self._user(p.text("user_id"))
        payload = self._view_param(p, kind="home")
        current = self.home(user.id)
        expected = p.text("hash")
        if current is not None and expected is not None and expected != current.hash:
            raise SlackApiError("hash_conflict")
        if current is None:
            current = self._new_view(user.id, payload, root=None, previous=None)
            self._homes[user.id] = current.id
            self._change("home_published", user=user.id, view=current.id)
        else:
            self._replace_view(current, payload)
        return {"view": current.to_slack()}

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
        if target is None or now - target.issued > RESPONSE_URL_TTL:
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
