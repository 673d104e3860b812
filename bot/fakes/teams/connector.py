"""A Bot Framework-compatible connector on loopback: what the Teams service would be for the bot, for tests and demos.

It answers the Bot Connector REST calls the bot makes (create, update and reply to activities, targeted messages,
one member's details), demands the bearer token it was given, and records every call and message. Activities the
bot receives name this server as their ``serviceUrl``, so the bot's replies come back here. With ``rate_limits``
it enforces the connector's limits (``bot.teams.limits``) per conversation and per tenant, answering 429 with
``Retry-After`` and the ``Throttled`` error as the connector does; ``POST /_sandbox/rate_limits {"enabled": …}``
switches them.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.core.limits import Buckets, Limit, retry_after
from bot.serving import serve
from bot.teams.limits import PER_CONVERSATION, PER_TENANT


@dataclass(frozen=True, slots=True)
class Member:
    """A person (or the bot) as the connector's roster knows them."""

    account_id: str
    aad_object_id: str
    name: str
    tenant_id: str

    def to_json(self) -> dict[str, Any]:
        """As the connector's ``TeamsChannelAccount``."""
        return {
            "id": self.account_id,
            "aadObjectId": self.aad_object_id,
            "name": self.name,
            "tenantId": self.tenant_id,
            "userRole": "user",
        }


@dataclass
class Call:
    """One request the bot made."""

    method: str
    path: str
    query: str
    body: dict[str, Any] | None
    authorized: bool
    status: int


@dataclass
class Sent:
    """A message the bot posted, with every version of it (edits append)."""

    id: str
    conversation: str
    thread: str | None
    versions: list[dict[str, Any]] = field(default_factory=list)
    targeted_to: str | None = None

    @property
    def body(self) -> dict[str, Any]:
        """The message as it reads now."""
        return self.versions[-1]

    @property
    def cards(self) -> list[dict[str, Any]]:
        """The Adaptive Cards attached to the message now."""
        return [
            attachment["content"]
            for attachment in self.body.get("attachments") or []
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive"
        ]

    @property
    def text(self) -> str:
        """Everything a person would read: the text and every TextBlock and image description of its cards."""
        parts = [str(self.body.get("text") or "")]
        for card in self.cards:
            parts.extend(_card_texts(card))
        return "\n".join(part for part in parts if part)

    def action(self, title: str) -> dict[str, Any] | None:
        """The card action titled ``title`` (None when the card has no such button now)."""
        for card in self.cards:
            for action in _card_actions(card):
                if action.get("title") == title:
                    return action
        return None

    @property
    def titles(self) -> list[str]:
        """The titles of every button now on the message."""
        return [str(action.get("title")) for card in self.cards for action in _card_actions(card)]


def _card_texts(node: Any) -> list[str]:
    texts: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "TextBlock":
            texts.append(str(node.get("text", "")))
        if node.get("type") == "Image":
            texts.append(str(node.get("altText", "")))
        for value in node.values():
            texts.extend(_card_texts(value))
    elif isinstance(node, list):
        for item in node:
            texts.extend(_card_texts(item))
    return texts


def _card_actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(card.get("actions") or [])
    for element in card.get("body") or []:
        if isinstance(element, dict) and element.get("type") == "ActionSet":
            found.extend(element.get("actions") or [])
    return found


def _mention_problem(body: dict[str, Any]) -> str | None:
    """Why Teams would refuse the activity's mentions: each names an account and its ``<at>`` text is in the text."""
    for entity in body.get("entities") or []:
        if not isinstance(entity, dict) or entity.get("type") != "mention":
            continue
        mentioned = entity.get("mentioned") or {}
        if not isinstance(mentioned, dict) or not mentioned.get("id"):
            return "a mention names no account"
        said = entity.get("text")
        if not isinstance(said, str) or not said.startswith("<at>") or said not in str(body.get("text") or ""):
            return "a mention's text is not in the message"
    return None


def _tenant(body: dict[str, Any] | None) -> str:
    """The tenant an activity names (the host tenant when it names none: the bot is registered single-tenant)."""
    conversation = (body or {}).get("conversation")
    tenant = conversation.get("tenantId") if isinstance(conversation, dict) else None
    if not tenant:
        channel_data = (body or {}).get("channelData")
        found = channel_data.get("tenant") if isinstance(channel_data, dict) else None
        tenant = found.get("id") if isinstance(found, dict) else None
    return str(tenant or "host")


def base_of(conversation_id: str) -> tuple[str, str | None]:
    """The conversation id without ``;messageid=…`` and the thread root it named, if any."""
    base, _, rest = conversation_id.partition(";messageid=")
    return base, (rest or None)


class TeamsConnector:
    """The loopback connector: a Starlette app plus what it recorded.

    Args:
        token: The bearer token the bot must present.
        members: The roster.
        rate_limits: Enforce the connector's rate limits (off by default in ordinary tests).
        clock: Seconds, for the rate limits' buckets.
    """

    def __init__(
        self,
        token: str,
        members: list[Member] | None = None,
        *,
        rate_limits: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.rate_limits = rate_limits
        self._clock = clock
        self._buckets = Buckets()
        self.members: dict[str, Member] = {member.account_id: member for member in members or []}
        self.calls: list[Call] = []
        self.sent: dict[str, Sent] = {}
        self.refuse_with: int | None = None
        # Tenants whose members the roster lookup does not find (404): whether Teams finds a member of another
        # tenant in a shared channel is not certain (Microsoft's shared-channel sample avoids the lookup), so tests
        # run both ways.
        self.roster_hides: set[str] = set()
        # Targeted messages are a preview feature; a tenant may refuse them.
        self.refuse_targeted = False
        self._ids = itertools.count(1_700_000_000_001)
        self.app = Starlette(
            routes=[
                Route("/v3/conversations/{conversation}/activities", self._create, methods=["POST"]),
                Route("/v3/conversations/{conversation}/activities/{activity}", self._reply, methods=["POST"]),
                Route("/v3/conversations/{conversation}/activities/{activity}", self._update, methods=["PUT"]),
                Route("/v3/conversations/{conversation}/members", self._members, methods=["GET"]),
                Route("/v3/conversations/{conversation}/members/{member}", self._member, methods=["GET"]),
                Route("/_sandbox/rate_limits", self._switch_rate_limits, methods=["POST"]),
            ]
        )

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        """Serve on loopback (a free port); yields the base URL to use as ``serviceUrl``."""
        # A stand-in need not wait uvicorn's 0.1 s steps for its connections to close when it stops (tests stop
        # hundreds).
        async with serve(self.app, poll_seconds=0.01) as url:
            self.url = url
            yield url

    def messages(self, conversation: str, thread: str | None = None) -> list[Sent]:
        """Messages in a conversation (only those in ``thread`` when given), oldest first."""
        return [
            sent
            for sent in self.sent.values()
            if sent.conversation == conversation and (thread is None or sent.thread == thread)
        ]

    def bodies(self) -> list[str]:
        """Every request body the bot sent, as JSON text."""
        return [json.dumps(call.body) for call in self.calls if call.body is not None]

    async def _record(self, request: Request, status: int, body: dict[str, Any] | None) -> Call:
        authorized = request.headers.get("authorization") == f"Bearer {self.token}"
        call = Call(request.method, request.url.path, request.url.query, body, authorized, status)
        self.calls.append(call)
        return call

    async def _body(self, request: Request) -> dict[str, Any] | None:
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _refusal(self, request: Request, body: dict[str, Any] | None) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return JSONResponse({"error": {"code": "Unauthorized"}}, status_code=401)
        if body is None and request.method != "GET":
            return JSONResponse({"error": {"code": "BadArgument", "message": "no activity"}}, status_code=400)
        if (wait := self._over_limit(request, body)) > 0.0:
            throttled = {"error": {"code": "Throttled", "message": "Too many requests."}}
            return JSONResponse(throttled, status_code=429, headers={"Retry-After": str(retry_after(wait))})
        if self.refuse_with is not None:
            return JSONResponse({"error": {"code": "Refused"}}, status_code=self.refuse_with)
        if self.refuse_targeted and request.query_params.get("isTargetedActivity") == "true":
            return JSONResponse({"error": {"code": "BadArgument", "message": "no targeted messages"}}, status_code=400)
        if body is not None and (problem := _mention_problem(body)):
            return JSONResponse({"error": {"code": "BadArgument", "message": problem}}, status_code=400)
        return None

    def switch_rate_limits(self, enabled: bool) -> None:
        """Turn the rate limits on or off; either way every bucket is refilled."""
        self.rate_limits = enabled
        self._buckets.clear()

    def _over_limit(self, request: Request, body: dict[str, Any] | None) -> float:
        """Take the call's tokens (its conversation's three windows and its tenant's): 0.0, or seconds to wait."""
        if not self.rate_limits:
            return 0.0
        conversation, _ = base_of(request.path_params["conversation"])
        keyed: list[tuple[Hashable, Limit]] = [(("conversation", conversation), w) for w in PER_CONVERSATION]
        keyed.append((("tenant", _tenant(body)), PER_TENANT))
        return self._buckets.take_all(keyed, self._clock())

    async def _switch_rate_limits(self, request: Request) -> Response:
        try:
            enabled = (await request.json())["enabled"]
            if not isinstance(enabled, bool):
                raise TypeError("enabled must be true or false")
        except (ValueError, TypeError, KeyError) as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, status_code=400)
        self.switch_rate_limits(enabled)
        return JSONResponse({"ok": True, "rate_limits": self.rate_limits})

    async def _create(self, request: Request) -> Response:
        body = await self._body(request)
        refusal = self._refusal(request, body)
        status = refusal.status_code if refusal else 201
        await self._record(request, status, body)
        if refusal or body is None:
            return refusal or Response(status_code=400)
        base, thread = base_of(request.path_params["conversation"])
        thread = thread or body.get("replyToId")
        sent = Sent(str(next(self._ids)), base, thread, [body])
        if request.query_params.get("isTargetedActivity") == "true":
            sent.targeted_to = str((body.get("recipient") or {}).get("id") or "")
        self.sent[sent.id] = sent
        return JSONResponse({"id": sent.id}, status_code=201)

    async def _reply(self, request: Request) -> Response:
        body = await self._body(request)
        if body is not None:
            body = {**body, "replyToId": request.path_params["activity"]}
        return await self._create_from(request, body)

    async def _create_from(self, request: Request, body: dict[str, Any] | None) -> Response:
        refusal = self._refusal(request, body)
        await self._record(request, refusal.status_code if refusal else 201, body)
        if refusal or body is None:
            return refusal or Response(status_code=400)
        base, _ = base_of(request.path_params["conversation"])
        sent = Sent(str(next(self._ids)), base, request.path_params["activity"], [body])
        self.sent[sent.id] = sent
        return JSONResponse({"id": sent.id}, status_code=201)

    async def _update(self, request: Request) -> Response:
        body = await self._body(request)
        refusal = self._refusal(request, body)
        sent = self.sent.get(request.path_params["activity"])
        status = refusal.status_code if refusal else (200 if sent else 404)
        await self._record(request, status, body)
        if refusal:
            return refusal
        if sent is None or body is None:
            return JSONResponse({"error": {"code": "ActivityNotFoundInConversation"}}, status_code=404)
        sent.versions.append(body)
        return JSONResponse({"id": sent.id})

    async def _members(self, request: Request) -> Response:
        """Every member of a conversation (the roster stands for every channel's membership)."""
        refusal = self._refusal(request, None)
        await self._record(request, refusal.status_code if refusal else 200, None)
        if refusal:
            return refusal
        return JSONResponse([m.to_json() for m in self.members.values() if m.tenant_id not in self.roster_hides])

    async def _member(self, request: Request) -> Response:
        refusal = self._refusal(request, None)
        member = self.members.get(request.path_params["member"])
        if member is not None and member.tenant_id in self.roster_hides:
            member = None
        status = refusal.status_code if refusal else (200 if member else 404)
        await self._record(request, status, None)
        if refusal:
            return refusal
        if member is None:
            return JSONResponse({"error": {"code": "MemberNotFoundInConversation"}}, status_code=404)
        return JSONResponse(member.to_json())
