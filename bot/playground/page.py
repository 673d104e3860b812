"""The playground's web page and the JSON endpoints it calls; every act reaches the bot through the signing driver.

Routes::

    GET  /                                 the page (static files under /static/)
    GET  /playground/world                 people, channels, sample key names
    GET  /playground/snapshot?as=&since=&wait=
                                           what ``as`` sees; long-polled: answers once the sandbox moved past since
    GET  /playground/sample-keys/<name>    one sample key's value (the page copies it to the clipboard)
    POST /playground/act/<kind>            act as a person: click, view-action, submit, close, command, message, home

Acts are JSON bodies naming the person (``as``); each becomes one signed request to the bot's ``/slack/events``
and answers with how the bot acked. A refusal Slack itself would make (an external user typing a slash command,
an empty required field) answers 4xx with Slack's wording in ``error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.fakes.slack import (
    AckRejected,
    CommandUnavailable,
    Delivery,
    ElementNotFound,
    SlackDriver,
    SubmissionBlocked,
)
from bot.playground.snapshot import snapshot, world
from dentally.sandbox import SandboxKey

JSON = dict[str, Any]
STATIC_DIR = Path(__file__).parent / "static"
MAX_WAIT = 10.0
# A burst of Web API calls follows every click; wait this long after the first so the page redraws once.
SETTLE_SECONDS = 0.03
_SECURITY_HEADERS = {
    # Everything is served from loopback: no CDN, no inline script; step pictures come from the bot's own port.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: http://127.0.0.1:*; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class ActError(Exception):
    """An act the page asked for that cannot happen; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class PlaygroundPage:
    """The page's Starlette app, acting through ``driver`` for whichever person the browser picked.

    Args:
        driver: Signs and posts Slack-shaped requests to the bot.
        channels: The channels the page shows side by side.
        default_user: Whom the page acts as until the browser picks someone else.
        sample_keys: The Dentally sandbox's sample keys.
    """

    def __init__(
        self,
        driver: SlackDriver,
        channels: Sequence[str],
        default_user: str,
        sample_keys: Mapping[str, SandboxKey],
    ) -> None:
        self.driver = driver
        self.channels = list(channels)
        self.default_user = default_user
        self.sample_keys = dict(sample_keys)
        self.requests: deque[JSON] = deque(maxlen=50)
        self._closing = asyncio.Event()
        acts: dict[str, Callable[[JSON], Awaitable[Delivery | None]]] = {
            "click": self._click,
            "view-action": self._view_action,
            "submit": self._submit,
            "close": self._close,
            "command": self._command,
            "message": self._message,
            "home": self._home,
        }
        self._acts = acts
        self.app = Starlette(
            routes=[
                Route("/", self._index),
                Route("/playground/world", self._world),
                Route("/playground/snapshot", self._snapshot),
                Route("/playground/sample-keys/{name}", self._sample_key),
                Route("/playground/act/{kind}", self._act, methods=["POST"]),
                Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
            ],
            middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"])],
        )

    def close(self) -> None:
        """Answer every waiting long-poll now, so the server can stop without waiting for them to time out."""
        self._closing.set()

    # -- reading -----------------------------------------------------------------------------------------------

    def _viewer(self, value: Any) -> str:
        user = str(value or self.default_user)
        person = self.driver.workspace.users.get(user)
        if person is None or person.is_bot:
            raise ActError(400, f"no such person: {user[:40]}")
        return user

    async def _index(self, request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers=_SECURITY_HEADERS)

    async def _world(self, request: Request) -> Response:
        data = world(self.driver.workspace)
        data["channel_order"] = self.channels
        data["default_user"] = self.default_user
        data["sample_keys"] = [
            {"name": k.name, "region": k.region, "description": k.description} for k in self.sample_keys.values()
        ]
        return _json(data)

    async def _snapshot(self, request: Request) -> Response:
        try:
            viewer = self._viewer(request.query_params.get("as"))
            since = int(request.query_params.get("since", "0"))
            wait = min(float(request.query_params.get("wait", "0")), MAX_WAIT)
        except ActError as exc:
            return _json({"ok": False, "error": str(exc)}, exc.status)
        except ValueError:
            return _json({"ok": False, "error": "since and wait must be numbers"}, 400)
        api = self.driver.api
        if api.version <= since and wait > 0 and not self._closing.is_set():
            await self._wait_for_change(since, wait)
            if not self._closing.is_set():
                await asyncio.sleep(SETTLE_SECONDS)
        data = snapshot(api, viewer, self.channels)
        data["requests"] = list(self.requests)[-12:]
        return _json(data)

    async def _wait_for_change(self, since: int, wait: float) -> None:
        changed = asyncio.ensure_future(self.driver.api.wait_for_change(since, wait))
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            await asyncio.wait({changed, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (changed, closing):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _sample_key(self, request: Request) -> Response:
        key = self.sample_keys.get(request.path_params["name"])
        if key is None:
            return _json({"ok": False, "error": "no such sample key"}, 404)
        return _json({"ok": True, "name": key.name, "key": key.key})

    # -- acting ------------------------------------------------------------------------------------------------

    async def _act(self, request: Request) -> Response:
        act = self._acts.get(request.path_params["kind"])
        if act is None:
            return _json({"ok": False, "error": "no such act"}, 404)
        # A JSON content type cannot be sent cross-site without a CORS preflight, which this server never grants.
        if not request.headers.get("content-type", "").startswith("application/json"):
            return _json({"ok": False, "error": "send JSON"}, 415)
        try:
            body = await request.json()
        except ValueError:
            return _json({"ok": False, "error": "malformed JSON"}, 400)
        if not isinstance(body, dict):
            return _json({"ok": False, "error": "send a JSON object"}, 400)
        started = time.perf_counter()
        try:
            body["as"] = self._viewer(body.get("as"))
            delivery = await act(body)
        except ActError as exc:
            return _json({"ok": False, "error": str(exc)}, exc.status)
        except CommandUnavailable:
            command = str(body.get("text", "")).split(" ", 1)[0][:40]
            return _json({"ok": False, "error": f"{command} is not a valid command. Only the app's own workspace "
                          "can use it."}, 403)  # fmt: skip
        except SubmissionBlocked as exc:
            return _json({"ok": False, "error": str(exc)}, 422)
        except AckRejected as exc:
            return _json({"ok": False, "error": "Slack refused the app's answer: " + "; ".join(exc.problems)}, 502)
        except httpx.HTTPError as exc:
            return _json({"ok": False, "error": f"the bot did not answer ({type(exc).__name__})"}, 502)
        except (ElementNotFound, LookupError, ValueError) as exc:
            return _json({"ok": False, "error": str(exc)}, 404 if isinstance(exc, LookupError) else 400)
        if delivery is None:
            return _json({"ok": True, "request": None})
        record = _describe(delivery, body["as"], time.perf_counter() - started)
        self.requests.append(record)
        return _json({"ok": True, "request": record, "ack": delivery.ack})

    async def _click(self, body: JSON) -> Delivery:
        return await self.driver.click(body["as"], _text(body, "ts"), _text(body, "action_id"), value=body.get("value"))

    async def _view_action(self, body: JSON) -> Delivery:
        return await self.driver.click_in_view(
            body["as"],
            _text(body, "view_id"),
            _text(body, "action_id"),
            value=body.get("value"),
            values=_values(body),
        )

    async def _submit(self, body: JSON) -> Delivery:
        return await self.driver.submit_view(body["as"], _text(body, "view_id"), _values(body))

    async def _close(self, body: JSON) -> Delivery | None:
        return await self.driver.close_view(body["as"], _text(body, "view_id"))

    async def _command(self, body: JSON) -> Delivery:
        typed = _text(body, "text").strip()
        command, _, text = typed.partition(" ")
        if not command.startswith("/") or len(command) < 2:
            raise ActError(400, "a slash command starts with /")
        return await self.driver.run_command(body["as"], self._channel(body), command, text.strip())

    async def _message(self, body: JSON) -> Delivery:
        text = _text(body, "text")
        thread_ts = body.get("thread_ts") or None
        if thread_ts is not None and not isinstance(thread_ts, str):
            raise ActError(400, "thread_ts must be a string")
        channel = self._channel(body)
        if f"<@{self.driver.workspace.bot_user_id}>" in text:
            return await self.driver.mention(body["as"], channel, text, thread_ts=thread_ts)
        return await self.driver.post_message(body["as"], channel, text, thread_ts=thread_ts)

    async def _home(self, body: JSON) -> Delivery:
        return await self.driver.open_home(body["as"])

    def _channel(self, body: JSON) -> str:
        channel = _text(body, "channel")
        found = self.driver.workspace.channels.get(channel)
        if found is None or body["as"] not in found.members:
            raise ActError(403, "you are not a member of that channel")
        return channel


def _text(body: JSON, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ActError(400, f"{name} is required")
    return value


def _values(body: JSON) -> JSON:
    values = body.get("values") or {}
    if not isinstance(values, dict):
        raise ActError(400, "values must be an object")
    return values


def _describe(delivery: Delivery, user: str, seconds: float) -> JSON:
    """One line of the page's request log: what kind of Slack request went to the bot, and how it answered."""
    payload = delivery.payload
    kind = str(payload.get("type") or ("slash_command" if "command" in payload else "?"))
    detail = ""
    if kind == "event_callback":
        detail = str((payload.get("event") or {}).get("type", ""))
    elif kind == "block_actions":
        detail = str(((payload.get("actions") or [{}])[0]).get("action_id", ""))
    elif kind in ("view_submission", "view_closed"):
        detail = str((payload.get("view") or {}).get("callback_id", ""))
    elif kind == "slash_command":
        detail = str(payload.get("command", ""))
    return {
        "at": time.time(),
        "user": user,
        "team": str((payload.get("user") or {}).get("team_id") or payload.get("team_id") or ""),
        "kind": kind,
        "detail": detail[:80],
        "status": delivery.status_code,
        "ms": round(seconds * 1000, 1),
    }


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={"Cache-Control": "no-store"})
