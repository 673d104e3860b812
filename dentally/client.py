"""Async client for Dentally's v1 API: auth headers, rate-limit headers, wrapped JSON and typed errors."""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, Final, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from dentally.errors import MalformedKey, Timeout, TransportError, UnexpectedResponse, error_for
from dentally.regions import Endpoints, RegionId

__all__ = [
    "DEFAULT_TIMEOUT",
    "TOKEN_INFO_PATH",
    "ApiResponse",
    "Appointment",
    "ClientFactory",
    "DentallyClient",
    "DentallyUser",
    "PingResult",
    "PingStatus",
    "Practice",
    "RateLimit",
    "Site",
    "default_user_agent",
    "format_timestamp",
    "parse_scopes_header",
]

logger = logging.getLogger(__name__)

TOKEN_INFO_PATH: Final = "/oauth/token/info"  # noqa: S105 - a URL path, not a secret
"""Doorkeeper's introspection route, on the same host as the API."""

DEFAULT_TIMEOUT: Final = 15.0
"""Seconds allowed for each request (connect, write, read and pool wait) unless the caller says otherwise."""

_PRODUCT: Final = "AldenseGuide"
_CONTACT: Final = "+https://aldense.com"
_DISTRIBUTION: Final = "aldense-guide"
# Enough to find "Rate limit exceeded" or "insufficient_scope" in any plausible error body.
_KEPT_TEXT: Final = 2000
_EXCERPT: Final = 300
_REDACTED: Final = "[redacted]"
# Visible ASCII only: anything else (space, newline, non-ASCII) cannot travel in a header, and httpx's error
# for such a header would quote the whole value, key included.
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")
_LEADING_NUMBER = re.compile(r"\s*(\d+(?:\.\d+)?)")
# Below this a "reset" value is a number of seconds to wait, above it a Unix time (Dentally sends the latter).
_EPOCH_THRESHOLD: Final = 1_000_000_000


@functools.cache
def default_user_agent() -> str:
    """The User-Agent Dentally sees, naming the product, its version and a contact URL.

    Dentally refuses requests without a User-Agent (403), so every request carries this unless the caller
    supplies another.
    """
    try:
        version = importlib.metadata.version(_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        # Running from a source tree that was never installed.
        version = "0+unknown"
    return f"{_PRODUCT}/{version} ({_CONTACT})"


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    match = _LEADING_NUMBER.match(value)
    return float(match.group(1)) if match else None


def _count(value: str | None) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


@dataclass(frozen=True, slots=True)
class RateLimit:
    """What an answer said about the key's request budget; every field is None when its header was absent."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None
    """Unix time when the budget refills (``X-RateLimit-Reset``; Dentally sends the top of the hour)."""
    reset_after: float | None = None
    """Seconds until the budget refills, counted from the answer (``RateLimit-Reset*`` or ``Retry-After``)."""

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimit:
        """Read both header families (``X-RateLimit-*`` and the IETF draft's ``RateLimit-*``) and Retry-After.

        Unparseable values are ignored rather than raised: a strange header must never fail a request.

        Args:
            headers: Response headers; lookups should be case-insensitive (``httpx.Headers`` is).
        """
        limit = _count(headers.get("x-ratelimit-limit"))
        if limit is None:
            limit = _count(headers.get("ratelimit-limit"))
        remaining = _count(headers.get("x-ratelimit-remaining"))
        if remaining is None:
            remaining = _count(headers.get("ratelimit-remaining"))
        reset_at: float | None = None
        reset_after: float | None = None
        x_reset = _number(headers.get("x-ratelimit-reset"))
        if x_reset is not None:
            if x_reset >= _EPOCH_THRESHOLD:
                reset_at = x_reset
            else:
                reset_after = x_reset
        if reset_after is None:
            reset_after = _number(headers.get("ratelimit-reset-after"))
        # The IETF draft means seconds, but some servers send a Unix time here: read large values as one.
        ietf_reset = _number(headers.get("ratelimit-reset"))
        if reset_after is None and reset_at is None and ietf_reset is not None:
            if ietf_reset >= _EPOCH_THRESHOLD:
                reset_at = ietf_reset
            else:
                reset_after = ietf_reset
        if reset_after is None and reset_at is None:
            reset_after, reset_at = _retry_after(headers.get("retry-after"))
        return cls(limit=limit, remaining=remaining, reset_at=reset_at, reset_after=reset_after)

    def seconds_until_reset(self, now: datetime) -> float | None:
        """Seconds from ``now`` until the budget refills (never negative), or None when the answer did not say."""
        if self.reset_after is not None:
            return max(0.0, self.reset_after)
        if self.reset_at is not None:
            return max(0.0, self.reset_at - now.timestamp())
        return None

    def reset_time(self, now: datetime) -> datetime | None:
        """When the budget refills, as an aware UTC time, or None when the answer did not say."""
        wait = self.seconds_until_reset(now)
        if wait is None:
            return None
        return datetime.fromtimestamp(now.timestamp() + wait, UTC)


def _retry_after(value: str | None) -> tuple[float | None, float | None]:
    if value is None:
        return None, None
    seconds = _number(value)
    if seconds is not None:
        return seconds, None
    try:
        return None, parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None, None


def parse_scopes_header(value: str | None) -> tuple[str, ...] | None:
    """Split an ``X-OAuth-Scopes`` value into scopes.

    The separator Dentally uses is unconfirmed, so spaces and commas are both accepted.

    Args:
        value: The header value, or None when the header was absent.

    Returns:
        The scopes in the order given, without repeats; None when the header was absent.
    """
    if value is None:
        return None
    return tuple(dict.fromkeys(part for part in re.split(r"[\s,]+", value) if part))


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, _REDACTED) if secret else text


def _scrub(value: Any, secret: str) -> Any:
    """Redact the key wherever it appears in parsed JSON (keys, values, nested)."""
    if isinstance(value, str):
        return _redact(value, secret)
    if isinstance(value, list):
        return [_scrub(item, secret) for item in value]
    if isinstance(value, dict):
        return {_scrub(k, secret): _scrub(v, secret) for k, v in value.items()}
    return value


@dataclass(frozen=True, slots=True, eq=False)
class ApiResponse:
    """One answer from Dentally, whatever its status, with the key scrubbed from every text field."""

    method: str
    path: str
    status_code: int
    headers: httpx.Headers = field(repr=False)
    body: Any = field(repr=False)
    """Parsed JSON, or None when the body was empty or not JSON."""
    text: str = field(repr=False)
    """The start of the raw body (up to 2,000 characters)."""
    www_authenticate: str = field(repr=False)
    rate_limit: RateLimit = field(repr=False)

    @property
    def is_success(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status_code < 300

    @property
    def content_type(self) -> str:
        """The media type of the answer without parameters, e.g. ``application/json``; empty when absent."""
        value: str = self.headers.get("content-type", "")
        return value.split(";", 1)[0].strip().lower()

    @property
    def is_rate_limited(self) -> bool:
        """Dentally's rate-limit answer, in any of the shapes it may take.

        A 429 (defensive), a 403 whose body says "Rate limit exceeded" in any case (Dentally's throttle answers
        ``text/plain`` with no rate headers), or a 403 that says no budget is left (``X-RateLimit-Remaining: 0``).
        """
        if self.status_code == 429:
            return True
        if self.status_code != 403:
            return False
        return "rate limit exceeded" in self.text.lower() or self.rate_limit.remaining == 0

    @property
    def is_insufficient_scope(self) -> bool:
        """A 403 that names ``insufficient_scope`` in its WWW-Authenticate header or its body."""
        if self.status_code != 403 or self.is_rate_limited:
            return False
        return "insufficient_scope" in self.www_authenticate.lower() or "insufficient_scope" in self.text.lower()

    @property
    def oauth_scopes(self) -> tuple[str, ...] | None:
        """Scopes listed in ``X-OAuth-Scopes``, or None when Dentally did not send the header."""
        return parse_scopes_header(self.headers.get("x-oauth-scopes"))

    @property
    def excerpt(self) -> str:
        """The first 300 characters of the body, for logs and support notes."""
        return self.text[:_EXCERPT]

    @property
    def error_summary(self) -> str:
        """A short, one-line account of what an error answer said, read defensively from whatever came back."""
        parts: list[str] = []
        if isinstance(self.body, Mapping):
            for key in ("error", "error_description", "message", "errors"):
                value = self.body.get(key)
                if value:
                    parts.append(_flatten(value))
        if not parts and self.www_authenticate:
            parts.append(self.www_authenticate)
        if not parts and self.text.strip():
            parts.append(" ".join(self.text.split()))
        return "; ".join(parts)[:200]

    def resource(self, key: str) -> Any:
        """The object inside Dentally's wrapper, e.g. the value of ``"user"`` in ``{"user": {...}}``.

        Raises:
            ResponseError: The matching subclass when the status is not 2xx.
            UnexpectedResponse: When the body is not a JSON object holding ``key``.
        """
        if not self.is_success:
            raise error_for(self)
        if not isinstance(self.body, Mapping) or key not in self.body:
            raise UnexpectedResponse(self)
        return self.body[key]

    def __repr__(self) -> str:
        return f"ApiResponse({self.method} {self.path} -> {self.status_code})"


def _flatten(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_flatten(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_flatten(v) for v in value)
    return str(value)


class _Resource(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class DentallyUser(_Resource):
    """The Dentally user a key belongs to (only the fields the bot uses)."""

    id: int | str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    permission_level: int | None = None
    """0 is a deactivated user, 4 an administrator."""
    practice_id: int | str | None = None
    site_id: int | str | None = None

    @property
    def name(self) -> str | None:
        """First and last name joined, or None when Dentally gave neither."""
        joined = " ".join(part for part in (self.first_name, self.last_name) if part)
        return joined or None


class Practice(_Resource):
    """A Dentally practice (the clinic)."""

    id: int | str | None = None
    name: str | None = None


class Site(_Resource):
    """One site (location) of a practice."""

    id: int | str | None = None
    name: str | None = None


class Appointment(BaseModel):
    """An appointment; fields this client does not name are kept as extras."""

    model_config = ConfigDict(frozen=True, extra="allow")

    id: int | str
    start_time: datetime | None = None
    finish_time: datetime | None = None
    patient_id: int | str | None = None
    practitioner_id: int | str | None = None
    state: str | None = None
    reason: str | None = None


_ModelT = TypeVar("_ModelT", bound=BaseModel)


class PingStatus(StrEnum):
    """What a keep-alive call learned about a stored key."""

    OK = "ok"
    INVALID = "invalid"
    RATE_LIMITED = "rate_limited"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PingResult:
    """Outcome of a keep-alive call."""

    status: PingStatus
    http_status: int | None
    """The answer's status, or None when none arrived."""
    rate_limit: RateLimit | None
    detail: str
    """A short, key-free explanation for the support thread."""


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 in UTC with a ``Z``, to whole seconds, as Dentally's ``after``/``before`` filters take it.

    Raises:
        ValueError: If ``moment`` has no time zone (a naive time would be read in the server's zone).
    """
    if moment.tzinfo is None:
        raise ValueError("Dentally times must be time-zone aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DentallyClient:
    """Talks to one region's Dentally v1 API with one key.

    Every request carries ``Authorization: Bearer``, the User-Agent, ``Accept: application/json`` and a
    timeout. The key is held as a ``SecretStr`` and written only into the Authorization header: never into a URL,
    a log line, an exception or a repr.

    ``request`` returns any answer as an :class:`ApiResponse` (the scope checker needs raw statuses); the named
    methods unwrap Dentally's JSON and raise a :mod:`dentally.errors` exception instead.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        token: SecretStr,
        user_agent: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Prepare a client; nothing is sent yet.

        Args:
            http: Transport owned by the caller (it is not closed here).
            base_url: The region's base URL without ``/v1``, e.g. from :meth:`Endpoints.base_url`.
            token: The Dentally API key.
            user_agent: Overrides :func:`default_user_agent`; must not be empty.
            timeout: Seconds allowed per request.

        Raises:
            MalformedKey: If the key is empty or holds characters a header cannot carry.
            ValueError: If the User-Agent is empty or the timeout not positive.
        """
        if not _HEADER_SAFE.fullmatch(token.get_secret_value()):
            raise MalformedKey("the key is empty or contains spaces or characters a Dentally key cannot have")
        agent = default_user_agent() if user_agent is None else user_agent
        if not agent.strip():
            raise ValueError("Dentally refuses requests without a User-Agent")
        if timeout <= 0:
            raise ValueError("the timeout must be positive")
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._user_agent = agent
        self._timeout = timeout

    @property
    def base_url(self) -> str:
        """The base URL requests go to."""
        return self._base_url

    @property
    def timeout(self) -> float:
        """Seconds allowed per request by default."""
        return self._timeout

    def __repr__(self) -> str:
        return f"DentallyClient(base_url={self._base_url!r}, token={self._token!r})"

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
    ) -> ApiResponse:
        """Send one request and return Dentally's answer, whatever its status.

        Args:
            method: HTTP method.
            path: A versioned path such as ``/v1/user``.
            params: Query parameters.
            json: A JSON body (wrapped by the caller, e.g. ``{"appointment": {...}}``).

        Returns:
            The answer, with any echo of the key replaced by ``[redacted]``.

        Raises:
            Timeout: No answer within the timeout.
            TransportError: No usable answer for another reason.
            ValueError: If ``path`` does not start with ``/v1/``.
        """
        if not path.startswith("/v1/"):
            # Unversioned paths get Dentally's *latest* version, which could change under us.
            raise ValueError(f"Dentally paths must start with /v1/, got {path!r}")
        return await self._send(method, path, params, json)

    async def _send(self, method: str, path: str, params: Mapping[str, str | int] | None, json: Any) -> ApiResponse:
        secret = self._token.get_secret_value()
        headers = {
            "Authorization": f"Bearer {secret}",
            "User-Agent": self._user_agent,
            "Accept": "application/json",
        }
        seconds = self._timeout
        try:
            response = await self._http.request(
                method,
                self._base_url + path,
                params=dict(params) if params else None,
                json=json,
                headers=headers,
                timeout=seconds,
            )
        # "from None": httpx's exception keeps the request, headers and all, on its attributes.
        except httpx.TimeoutException as exc:
            logger.debug("%s %s timed out after %s s", method, path, seconds)
            message = f"{method} {path}: no answer within {seconds:g} s ({type(exc).__name__})"
            raise Timeout(message, method=method, path=path) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            logger.debug("%s %s failed: %s", method, path, type(exc).__name__)
            detail = _redact(str(exc), secret) or "no detail"
            message = f"{method} {path}: {type(exc).__name__}: {detail}"
            raise TransportError(message, method=method, path=path) from None
        answer = _to_api_response(method, path, response, secret)
        logger.debug(
            "%s %s -> %s (rate limit remaining %s)", method, path, answer.status_code, answer.rate_limit.remaining
        )
        return answer

    async def token_info(self) -> ApiResponse:
        """Doorkeeper's token introspection, ``GET /oauth/token/info`` on the region's host, whatever it answers.

        It lives outside ``/v1/`` (it is the OAuth server's, not the API's); Dentally may have switched it off,
        so callers must expect a 404 or a body that is not the documented ``{"scope": [...]}``.

        Raises:
            Timeout: No answer within the timeout.
            TransportError: No usable answer for another reason.
        """
        return await self._send("GET", TOKEN_INFO_PATH, None, None)

    async def get_user(self) -> DentallyUser:
        """The user the key belongs to (``GET /v1/user``; needs ``user:read``)."""
        response = await self.request("GET", "/v1/user")
        return _model(DentallyUser, response.resource("user"), response)

    async def get_practice(self) -> Practice:
        """The key's practice (``GET /v1/practice``; the scope it needs is unconfirmed)."""
        response = await self.request("GET", "/v1/practice")
        return _model(Practice, response.resource("practice"), response)

    async def list_sites(self, *, per_page: int = 100) -> list[Site]:
        """The practice's sites, first page (``GET /v1/sites``; the scope it needs is unconfirmed)."""
        response = await self.request("GET", "/v1/sites", params={"per_page": per_page})
        return _models(Site, response.resource("sites"), response)

    async def list_appointments(
        self, after: datetime, before: datetime, *, page: int = 1, per_page: int = 25
    ) -> list[Appointment]:
        """One page of appointments starting in ``[after, before)``.

        Dentally's index returns nothing useful without a window, and ``before`` is exclusive.

        Args:
            after: Aware start of the window.
            before: Aware end of the window (exclusive).
            page: 1-based page number.
            per_page: Rows per page, 1 to 100 (Dentally silently falls back to 25 above 100).
        """
        if not 1 <= per_page <= 100:
            raise ValueError("per_page must be between 1 and 100")
        params: dict[str, str | int] = {
            "after": format_timestamp(after),
            "before": format_timestamp(before),
            "page": page,
            "per_page": per_page,
        }
        response = await self.request("GET", "/v1/appointments", params=params)
        return _models(Appointment, response.resource("appointments"), response)

    async def create_appointment(self, fields: Mapping[str, Any]) -> Appointment:
        """Create an appointment from ``fields`` (sent wrapped as ``{"appointment": fields}``)."""
        response = await self.request("POST", "/v1/appointments", json={"appointment": dict(fields)})
        return _model(Appointment, response.resource("appointment"), response)

    async def update_appointment(self, appointment_id: int | str, fields: Mapping[str, Any]) -> Appointment:
        """Change the given fields of one appointment (``PATCH``)."""
        response = await self.request(
            "PATCH", f"/v1/appointments/{_path_id(appointment_id)}", json={"appointment": dict(fields)}
        )
        return _model(Appointment, response.resource("appointment"), response)

    async def delete_appointment(self, appointment_id: int | str) -> None:
        """Delete one appointment.

        Raises:
            NotFound: If there is no such appointment.
        """
        response = await self.request("DELETE", f"/v1/appointments/{_path_id(appointment_id)}")
        if not response.is_success:
            raise error_for(response)

    async def ping(self) -> PingResult:
        """A cheap authenticated call (``GET /v1/user``) that keeps an idle key alive and reports its health.

        Dentally expires keys unused for two weeks; calling this weekly prevents that. It never raises for a
        Dentally or network problem: the answer says what happened.
        """
        try:
            response = await self.request("GET", "/v1/user")
        except TransportError as exc:
            return PingResult(PingStatus.FAILED, None, None, str(exc))
        if response.is_success:
            status = PingStatus.OK
        elif response.status_code == 401:
            status = PingStatus.INVALID
        elif response.is_rate_limited:
            status = PingStatus.RATE_LIMITED
        else:
            status = PingStatus.FAILED
        detail = response.error_summary if not response.is_success else "key accepted"
        return PingResult(status, response.status_code, response.rate_limit, detail)


def _path_id(appointment_id: int | str) -> str:
    text = str(appointment_id)
    # An id is interpolated into the path, so refuse anything that could change which URL is hit.
    if not text.isalnum():
        raise ValueError("an appointment id must be letters and digits only")
    return text


def _to_api_response(method: str, path: str, response: httpx.Response, secret: str) -> ApiResponse:
    text = _redact(response.text[:_KEPT_TEXT], secret)
    body: Any = None
    if response.content:
        try:
            # Dentally has no reason to echo the key, but a body that did must not carry it into logs or errors.
            body = _scrub(response.json(), secret)
        except ValueError:
            # Errors are documented as JSON, but a proxy's HTML 502 is not; keep the text instead.
            body = None
    return ApiResponse(
        method=method,
        path=path,
        status_code=response.status_code,
        headers=response.headers,
        body=body,
        text=text,
        www_authenticate=_redact(response.headers.get("www-authenticate", ""), secret),
        rate_limit=RateLimit.from_headers(response.headers),
    )


def _model(model: type[_ModelT], data: Any, response: ApiResponse) -> _ModelT:
    try:
        return model.model_validate(data)
    except ValidationError:
        raise UnexpectedResponse(response) from None


def _models(model: type[_ModelT], data: Any, response: ApiResponse) -> list[_ModelT]:
    if not isinstance(data, list):
        raise UnexpectedResponse(response)
    return [_model(model, row, response) for row in data]


class ClientFactory:
    """Builds a :class:`DentallyClient` for a region and key from one deployment's settings.

    The bot makes one at start-up (sharing its ``httpx.AsyncClient``) and asks it for a client whenever it needs
    to talk to Dentally with a particular key.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        endpoints: Endpoints | None = None,
        *,
        user_agent: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Keep the shared settings.

        Args:
            http: Transport shared by every client (the caller closes it).
            endpoints: Base URLs and detect order; the real Dentally hosts when omitted.
            user_agent: Overrides :func:`default_user_agent`.
            timeout: Seconds allowed per request.
        """
        self._http = http
        self._endpoints = endpoints or Endpoints()
        self._user_agent = user_agent
        self._timeout = timeout

    @property
    def endpoints(self) -> Endpoints:
        """The deployment's region settings."""
        return self._endpoints

    def for_region(self, region: RegionId, token: SecretStr) -> DentallyClient:
        """A client for ``region`` using ``token``.

        Raises:
            MalformedKey: If the key cannot be sent in a header.
        """
        return DentallyClient(
            self._http,
            base_url=self._endpoints.base_url(region),
            token=token,
            user_agent=self._user_agent,
            timeout=self._timeout,
        )

    def __repr__(self) -> str:
        return f"ClientFactory(endpoints={self._endpoints!r}, timeout={self._timeout!r})"
