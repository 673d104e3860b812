"""The one importer of the Teams SDK's app package: builds its ``App`` from our settings and serves it from Starlette.

Three things the SDK does by itself are tamed here. It loads ``.env`` into the environment when imported, so the
import undoes that (our settings are the only reader of the environment). It reads credentials, ``CLOUD``,
``SERVICE_URL`` and ``DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS`` from the environment when an option is missing,
so every option is passed explicitly. And it logs whole activities at DEBUG (a dialog submission carries the key),
so its loggers are gated: only WARNING and above pass, and never an exception's message.
"""

from __future__ import annotations

import json
import logging
import os
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any

import jwt
from pydantic import SecretStr, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.logs import bind_ids

# Undo the SDK's import-time load_dotenv(): a .env file must not add to (or override) the environment.
_environment = dict(os.environ)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from microsoft_teams.api import ActivityTypeAdapter
    from microsoft_teams.api.auth.cloud_environment import PUBLIC, CloudEnvironment
    from microsoft_teams.api.clients.api_client_settings import ApiClientSettings
    from microsoft_teams.apps import App
    from microsoft_teams.apps.http.adapter import HttpMethod, HttpRequest, HttpResponse, HttpRouteHandler
os.environ.clear()
os.environ.update(_environment)
del _environment

logger = logging.getLogger(__name__)

MESSAGING_ENDPOINT = "/api/messages"
# Teams activities are small (a card submission, a dialog); anything larger is not from Teams.
MAX_BODY_BYTES = 256 * 1024
SDK_LOGGER = "microsoft_teams"


@dataclass(frozen=True, slots=True)
class Credentials:
    """The bot's Entra app registration, passed to the SDK explicitly."""

    client_id: str
    client_secret: SecretStr
    tenant_id: str

    def __repr__(self) -> str:
        return f"Credentials(client_id={self.client_id!r}, tenant_id={self.tenant_id!r})"


def _local_token() -> str:
    # The SDK reads its outgoing token as a JWT, so the stand-in is one: unsigned in spirit, far from expiring.
    claims = {"iss": "aldense-local-connector", "aud": "local", "exp": 4102444800}
    return jwt.encode(claims, "local-connector-signing-key-not-a-secret", algorithm="HS256")


@dataclass(frozen=True, slots=True)
class UnsafeLocalAuth:
    """Tests and the playground only: accept activities without a Bot Framework JWT and sign outgoing calls with a
    fixed token. Never built from settings, so no configuration can switch JWT validation off in production."""

    token: str = field(default_factory=_local_token)


class StarletteAdapter:
    """The SDK's ``HttpServerAdapter`` in non-managed mode: it only collects routes; our server serves them."""

    def __init__(self) -> None:
        self.routes: dict[str, HttpRouteHandler] = {}

    def register_route(self, method: HttpMethod, path: str, handler: HttpRouteHandler) -> None:
        """Remember the SDK's handler for ``path`` (only POST routes exist)."""
        self.routes[path] = handler

    def serve_static(self, path: str, directory: str) -> None:
        """Static pages are not used; the SDK asks only when a tab is registered."""
        raise NotImplementedError("Aldense Guide serves no Teams tabs")

    async def start(self, port: int) -> None:
        """Never used: ``aldense-guide run`` serves the Starlette app itself."""
        raise NotImplementedError("the Teams endpoint is served by aldense-guide run")

    async def stop(self) -> None:
        """Nothing to stop."""


class _SdkFilter(logging.Filter):
    """On every SDK logger: drops DEBUG and INFO (whole activities), and withholds exception messages.

    A logger's filters run before any handler sees the record, whatever handlers are attached and whatever
    level anyone sets, so this holds even where a level is forced to DEBUG.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return False
        if record.exc_info and record.exc_info[0] is not None:
            kind = record.exc_info[0].__name__
            record.msg, record.args = f"{kind} in the Teams SDK (message withheld: it may quote an activity)", None
            record.exc_info, record.exc_text = None, None
        return True


class _SdkGate(logging.Handler):
    """Passes the SDK's (filtered) records on to ``aldense_guide.microsoft_teams…``, where our handlers are."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        logging.getLogger(f"aldense_guide.{record.name}").log(record.levelno, "%s", record.getMessage())


def gate_sdk_logging() -> None:
    """Keep the SDK's DEBUG output (whole activities, a dialog's key among them) away from every handler.

    Each SDK logger gets ``_SdkFilter``; the package logger stops propagating and hands what passes to our own
    logger tree, so a logger the SDK creates later is still kept from the root handlers.
    """
    sdk = logging.getLogger(SDK_LOGGER)
    sdk.propagate = False
    if not any(isinstance(handler, _SdkGate) for handler in sdk.handlers):
        sdk.addHandler(_SdkGate())
    for name in [SDK_LOGGER, *logging.root.manager.loggerDict]:
        if name == SDK_LOGGER or name.startswith(SDK_LOGGER + "."):
            logger = logging.getLogger(name)
            if not any(isinstance(existing, _SdkFilter) for existing in logger.filters):
                logger.addFilter(_SdkFilter())


def build_app(
    credentials: Credentials,
    service_url: str,
    adapter: StarletteAdapter,
    local_auth: UnsafeLocalAuth | None = None,
    cloud: CloudEnvironment = PUBLIC,
) -> App:
    """The SDK's ``App`` with every option explicit, so nothing is read from the environment.

    Args:
        credentials: The Entra app registration (client id, secret, Aldense's tenant).
        service_url: Connector URL for sends before a conversation's own is known.
        adapter: Collects the messaging route for our Starlette app.
        local_auth: Tests and the playground only; see ``UnsafeLocalAuth``.
        cloud: Microsoft's public cloud; tests point its token-signing keys at a loopback server to prove that
            forged tokens are refused by the SDK's own validation.
    """
    gate_sdk_logging()
    common: dict[str, Any] = {
        "client_id": credentials.client_id,
        "tenant_id": credentials.tenant_id,
        "cloud": cloud,
        "service_url": service_url.rstrip("/"),
        "api_client_settings": ApiClientSettings(oauth_url=cloud.token_service_url),
        "http_server_adapter": adapter,
        "messaging_endpoint": MESSAGING_ENDPOINT,
        "state": False,
        "fetch_user_token": False,
        "telemetry": {"agent365": False},
    }
    if local_auth is None:
        return App(
            client_secret=credentials.client_secret.get_secret_value(),
            dangerously_allow_unauthenticated_requests=False,
            **common,
        )
    token = local_auth.token

    def fixed_token(scope: str | list[str], tenant_id: str | None = None) -> str:
        return token

    return App(token=fixed_token, dangerously_allow_unauthenticated_requests=True, **common)


class MessagingEndpoint:
    """``POST /api/messages``: size and shape checks, then the SDK (which validates the JWT). Bodies never logged."""

    def __init__(self, adapter: StarletteAdapter) -> None:
        self._adapter = adapter

    async def handle(self, request: Request) -> Response:
        """Serve one activity."""
        handler = self._adapter.routes.get(MESSAGING_ENDPOINT)
        if handler is None:
            return JSONResponse({"error": "Teams is starting"}, status_code=503)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": "request too large"}, status_code=413)
        problem, activity = _parse(body)
        if activity is None:
            logger.warning("rejected a Teams request: %s", problem)
            return JSONResponse({"error": problem}, status_code=400)
        _bind_ids(activity)
        headers = {name.lower(): value for name, value in request.headers.items()}
        try:
            response = await handler(HttpRequest(body=activity, headers=headers))
        except Exception as exc:  # the SDK catches its own; this is a last guard that never logs the body
            where = "".join(traceback.format_tb(exc.__traceback__))
            logger.error("Teams SDK failed with %s (message withheld):\n%s", type(exc).__name__, where)
            return JSONResponse({"error": "internal error"}, status_code=500)
        return _to_response(response)


def _bind_ids(activity: dict[str, Any]) -> None:
    """This activity's log lines (and the work it starts) carry its platform, channel and sender ids."""
    conversation, sender = activity.get("conversation"), activity.get("from")
    conversation_id = conversation.get("id") if isinstance(conversation, dict) else None
    user = sender.get("id") if isinstance(sender, dict) else None
    # The channel is the conversation without its ";messageid=" thread suffix (activities.base_conversation, which
    # is not imported here: that module imports the SDK, and this one must import it first, behind its .env guard).
    channel = conversation_id.split(";", 1)[0] if isinstance(conversation_id, str) else None
    bind_ids(platform="teams", channel=channel, user=user if isinstance(user, str) else None)


def _parse(body: bytes) -> tuple[str, dict[str, Any] | None]:
    """The activity in ``body``, validated as the SDK will validate it; else why not (never quoting the body)."""
    try:
        activity = json.loads(body)
    except (ValueError, RecursionError):
        return "malformed JSON", None
    if not isinstance(activity, dict):
        return "JSON body is not an object", None
    try:
        # Invalid shapes would otherwise reach the SDK, which logs validation errors (with input values) at ERROR.
        ActivityTypeAdapter.validate_python(activity)
    except ValidationError:
        return "not a valid activity", None
    return "", activity


def _to_response(response: HttpResponse) -> Response:
    status = int(response.get("status") or 200)
    body = response.get("body")
    if body is None:
        return Response(status_code=status)
    return JSONResponse(body, status_code=status)
