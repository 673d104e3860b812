"""What the Slack sandbox records: Web API calls, messages, ephemerals, views, response_urls, faults and changes."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any

JSON = dict[str, Any]


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


@dataclass
class Trigger:
    """A trigger_id handed out for ``user``: Slack accepts it once, within seconds of ``issued``."""

    user: str
    issued: float
    used: bool = False
