"""A local stand-in for Dentally's v1 API (an ASGI app) that serves every region at once, with sample keys.

It encodes what ``reference/dentally-api.md`` says Dentally does, and every behaviour the sources leave open as a
switchable *mode* (:data:`MODES`): a bare 403 or a 404 for a missing scope, record lookup or body validation before
the scope check, lax create validation, realistic appointment ids with one in progress now, an ungated
``/v1/user``, ``X-OAuth-Scopes`` (off by default), ``/oauth/token/info`` (off by default), ``text/plain`` rate-limit
refusals, an index that answers 200 without a window, and ``PATCH`` left unrouted. With no mode on it is the
cooperative Dentally the first design assumed: scope first, JSON 403 naming ``insufficient_scope``.

**Regions.** One process plays every region. A request to ``/uk/v1/user`` is UK Dentally, ``/au/v1/user`` is
AU/NZ, and so on; a key answers 401 on any region but its own, as a real key would on another host. Point the
client at it with an override URL containing ``{region}``, e.g. ``http://127.0.0.1:8765/{region}``. Paths without a
region prefix (``/v1/user``) accept keys of every region, which suits a plain override URL.

**Switches** (:class:`Switches`) change its behaviour at run time, from Python (``sandbox.switches.latency_ms =
100``) or over HTTP for a browser playground: ``GET``/``POST /_sandbox/switches`` (a partial JSON object),
``POST /_sandbox/reset``, ``GET /_sandbox/requests``, ``GET /_sandbox/counts`` and ``GET /_sandbox/keys``.

**Requests** are recorded (method, path, query, region, status and the *name* of the key used, never the key), and
:attr:`Sandbox.counts` tallies records created, changed and deleted and answers that carried a real appointment or
patient, so tests can prove a check touched nothing.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import itertools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from dentally.regions import REGIONS, RegionId

__all__ = [
    "MODES",
    "SAMPLE_PRACTICES",
    "Counts",
    "RecordedRequest",
    "SamplePractice",
    "Sandbox",
    "SandboxKey",
    "Switches",
    "format_sample_keys",
    "sample_keys",
]

_REQUIRED: Final = ("user:read", "appointment:read", "appointment:create", "appointment:update", "appointment:delete")
_CLINIC: Final = ("practice:read", "site:read")
_PATIENT: Final = ("patient:read", "patient:create", "patient:update", "patient:delete")
_REALM: Final = "Dentally Sandbox"


@dataclass(frozen=True, slots=True)
class SandboxKey:
    """A key the sandbox accepts: its value, the region it belongs to, its scopes and its owner."""

    name: str
    key: str = field(repr=False)
    description: str
    region: RegionId
    scopes: tuple[str, ...]
    expired: bool = False
    user_id: int = 1


def _sample_key_value(name: str) -> str:
    # Doorkeeper's tokens are 32 random bytes in URL-safe base64 (43 characters); these are derived from the
    # name instead, so they are the same on every run and in the docs.
    digest = hashlib.sha256(f"aldense-guide sandbox key: {name}".encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _without(scope: str) -> tuple[str, ...]:
    return tuple(s for s in _REQUIRED if s != scope) + _CLINIC


_SAMPLES: Final[tuple[tuple[str, RegionId, tuple[str, ...], str], ...]] = (
    ("all_scopes", "uk", _REQUIRED + _CLINIC, "every scope Aldense needs, plus practice and site read"),
    *(
        (f"missing_{scope.replace(':', '_')}", "uk", _without(scope), f"everything except {scope}")
        for scope in _REQUIRED
    ),
    ("bare_appointment", "uk", ("user:read", "appointment", "practice:read"), "user:read and a bare appointment"),
    ("read_only", "uk", ("user:read", "appointment:read", "practice:read"), "read scopes only"),
    ("no_clinic_scopes", "uk", _REQUIRED, "the five required scopes, no practice or site read"),
    ("sites_only", "uk", (*_REQUIRED, "site:read"), "the five required scopes and site read, no practice read"),
    (
        "over_granted",
        "uk",
        _REQUIRED + _CLINIC + _PATIENT,
        "the five scopes plus Patient permissions: without introspection Dentally can't prove it (couldn't prove)",
    ),
    ("user_read_only", "uk", ("user:read",), "User Read only (the first key dentally-calibrate asks for)"),
    ("au_all_scopes", "au", _REQUIRED + _CLINIC, "every scope, on Australia & New Zealand"),
    ("ca_all_scopes", "ca", _REQUIRED + _CLINIC, "every scope, on Canada"),
    ("colleague_all_scopes", "uk", _REQUIRED + _CLINIC, "every scope, by another Dentally user of the same practice"),
)
_COLLEAGUE_USER: Final = 5  # Maple Leaf's second Dentally user, who made ``colleague_all_scopes``


def sample_keys() -> dict[str, SandboxKey]:
    """The sandbox's named sample keys, the same on every run.

    Returns:
        A fresh mapping of name to key; ``key.key`` is the value to paste and ``key.description`` says what it
        can do. ``expired`` is an all-scopes key that has expired.
    """
    keys = {
        name: SandboxKey(
            name,
            _sample_key_value(name),
            description,
            region,
            scopes,
            user_id=_COLLEAGUE_USER if name.startswith("colleague") else _REGION_USER[region],
        )
        for name, region, scopes, description in _SAMPLES
    }
    keys["expired"] = SandboxKey(
        "expired",
        _sample_key_value("expired"),
        "every scope, but unused for over two weeks so Dentally expired it",
        "uk",
        _REQUIRED + _CLINIC,
        expired=True,
        user_id=_REGION_USER["uk"],
    )
    return keys


def format_sample_keys(keys: Mapping[str, SandboxKey] | None = None) -> str:
    """A plain-text table of sample keys for the CLI to print.

    Args:
        keys: The keys to list; :func:`sample_keys` when omitted.
    """
    rows = [("name", "region", "key", "what it can do")]
    rows += [(k.name, k.region, k.key, k.description) for k in (keys if keys is not None else sample_keys()).values()]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = ["Dentally sandbox sample keys (fake: they work only against the local sandbox)"]
    for name, region, key, description in rows:
        lines.append(f"{name:<{widths[0]}}  {region:<{widths[1]}}  {key:<{widths[2]}}  {description}")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class _User:
    id: int
    first_name: str
    last_name: str
    email: str
    practice_id: str
    site_id: str


@dataclass(frozen=True, slots=True)
class SamplePractice:
    """Invented clinic data for one region."""

    id: str
    name: str
    sites: tuple[tuple[str, str], ...]
    """(site id, site name) pairs."""


SAMPLE_PRACTICES: Final[Mapping[RegionId, SamplePractice]] = MappingProxyType(
    {
        "uk": SamplePractice(
            "5b0e7c1a-2f4d-4e8a-9c61-0d3f2a9b7e11",
            "Maple Leaf Dental",
            (
                ("8d2f6a40-13c7-4b59-a2e4-6f1b0c9d3a21", "Maple Leaf Dental - Kingsway"),
                ("c41e9b72-5a08-4d3f-8e6b-2a7d1f0c5b32", "Maple Leaf Dental - Riverside"),
            ),
        ),
        "au": SamplePractice(
            "e7a3d915-6c2b-4f80-b1d4-9a5e3c7f2b43",
            "Harbourside Dental Studio",
            (("3f8b1c6d-7e2a-4950-8d1c-b4a6e2f9c054", "Harbourside Dental Studio - Circular Quay"),),
        ),
        "ca": SamplePractice(
            "a9c4e2b8-1d7f-4a36-95e0-7b3d8f1a6c65",
            "Prairie Smile Dental Centre",
            (("6e1d9a3b-8c5f-4b27-a0e3-d2c7b4f8e176", "Prairie Smile Dental Centre - Saskatoon"),),
        ),
        "sandbox": SamplePractice(
            "0f6a2d8c-4b1e-4c95-87a3-e5b9d1c2f087",
            "Sandbox Demo Practice",
            (("1a2b3c4d-0000-4000-8000-000000000001", "Demo"),),
        ),
    }
)


def _user(user_id: int, first_name: str, last_name: str, email: str, region: RegionId) -> _User:
    practice = SAMPLE_PRACTICES[region]
    return _User(user_id, first_name, last_name, email, practice.id, practice.sites[0][0])


_USERS: Final[Mapping[int, _User]] = {
    user.id: user
    for user in (
        _user(1, "Priya", "Shah", "priya.shah@mapleleaf-dental.example", "uk"),
        _user(2, "Liam", "Okafor", "liam@harbourside-dental.example", "au"),
        _user(3, "Sophie", "Tremblay", "sophie@prairiesmile.example", "ca"),
        _user(4, "Sam", "Tester", "sam@sandbox.example", "sandbox"),
        _user(5, "Tom", "Baker", "tom.baker@mapleleaf-dental.example", "uk"),
    )
}
_REGION_USER: Final[Mapping[RegionId, int]] = {"uk": 1, "au": 2, "ca": 3, "sandbox": 4}


class Switches(BaseModel):
    """Run-time behaviour of the sandbox; assignments are validated, so a bad value fails where it is set."""

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    latency_ms: int = Field(0, ge=0, le=60_000, description="Delay before every API answer.")
    server_error: int | None = Field(
        None, ge=500, le=599, description="Answer matching API requests with this 5xx status."
    )
    hang_ms: int = Field(
        0, ge=0, le=120_000, description="Hold matching API requests this long first (longer than a client timeout)."
    )
    fault_target: str = Field(
        "",
        description="Limit server_error, hang_ms and rate_limit_blips to requests whose "
        '"METHOD /v1/path" starts with this; empty means every API request.',
    )
    rate_limit_blips: int = Field(
        0,
        ge=0,
        description="Refuse the next N matching requests with 403 Rate limit exceeded although budget is left, "
        "as Dentally has been seen to do.",
    )
    rate_limit: int = Field(3600, ge=0, description="Requests each key may make per window (Dentally: 3,600/hour).")
    rate_limit_window_s: int = Field(3600, ge=1, description="Window length; windows start on multiples of it.")
    lax_create: bool = Field(
        False, description="Save any appointment object a create carries, however invalid (looser validation)."
    )
    scopes_header: Literal["space", "comma", "off"] = Field(
        "off", description="How X-OAuth-Scopes lists scopes, or off (its existence is unconfirmed)."
    )
    token_info: bool = Field(False, description="Answer GET /oauth/token/info with the token's scopes (else 404).")
    bare_403: bool = Field(False, description="Refuse a missing scope with a bare 403: no body, no WWW-Authenticate.")
    not_found_when_forbidden: bool = Field(
        False, description="Refuse a missing scope with a 404 exactly like a missing record's (Doorkeeper's option)."
    )
    lookup_before_scope: bool = Field(
        False, description="Member routes look the record up before checking the scope (404 for id 0 regardless)."
    )
    validate_before_scope: bool = Field(
        False, description="Create and update check the body's wrapper before the scope (400 for {} regardless)."
    )
    real_ids: bool = Field(
        False, description="Appointment ids start at 1 and one appointment is in progress now (applied on reseed)."
    )
    ungated_user: bool = Field(False, description="GET /v1/user answers without checking user:read.")
    text_rate_limits: bool = Field(
        False, description='Rate-limit refusals are 403 text/plain "Rate Limit Exceeded" with no rate headers.'
    )
    unwindowed_index: bool = Field(
        False, description="The appointments index without after/before answers 200 with rows instead of 400."
    )
    patch_unrouted: bool = Field(False, description="PATCH is not routed (a Rails routing 404); only PUT updates.")


MODES: Final[Mapping[str, Mapping[str, Any]]] = MappingProxyType(
    {
        "bare-403": {"bare_403": True},
        "lookup-first": {"lookup_before_scope": True},
        "validate-first": {"validate_before_scope": True},
        "404-for-forbidden": {"not_found_when_forbidden": True},
        "lax-create": {"lax_create": True},
        "real-ids": {"real_ids": True},
        "ungated-user": {"ungated_user": True},
        "scopes-header": {"scopes_header": "space"},
        "token-info": {"token_info": True},
        "text-rate-limits": {"text_rate_limits": True},
        "unwindowed-index": {"unwindowed_index": True},
        "patch-unrouted": {"patch_unrouted": True},
    }
)
"""Named Dentally behaviours the sources leave open, as switch settings; combine any of them."""


def switches_for(modes: Iterable[str], base: Switches | None = None) -> Switches:
    """Switches with the named modes on.

    Args:
        modes: Names from :data:`MODES`.
        base: Switches to start from; defaults when omitted.

    Raises:
        ValueError: A name that is not a mode.
    """
    settings = (base or Switches()).model_dump()
    for name in modes:
        if name not in MODES:
            raise ValueError(f"unknown Dentally sandbox mode {name!r}; choose from {', '.join(MODES)}")
        settings.update(MODES[name])
    return Switches.model_validate(settings)


@dataclass(slots=True)
class Counts:
    """What the sandbox's API did to its records, and how often an answer carried one."""

    created: int = 0
    changed: int = 0
    deleted: int = 0
    records_served: int = 0
    """Answers that carried at least one real appointment or patient."""

    @property
    def writes(self) -> int:
        """Records created, changed or deleted."""
        return self.created + self.changed + self.deleted


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One API request the sandbox answered; it names the key used, never its value."""

    method: str
    path: str
    query: str
    region: str | None
    status: int
    key_name: str | None


def _grants(scopes: Iterable[str], needed: str) -> bool:
    # A bare resource scope ("appointment") is read here as covering every action on it.
    resource = needed.split(":", 1)[0]
    return any(s in (needed, resource) for s in scopes)


def _parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_Handler = Callable[[Request, SandboxKey], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class _ApiRoute:
    method: str
    path: str
    scope: str
    handler: _Handler

    @property
    def resource(self) -> str:
        return "patient" if self.path.startswith("/v1/patients") else "appointment"


class Sandbox:
    """Dentally's v1 API, simulated in memory; the instance itself is the ASGI app.

    Run it with ``bot.serving.serve(sandbox)`` and point clients at ``<base>/{region}``.
    """

    def __init__(
        self,
        keys: Mapping[str, SandboxKey] | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        switches: Switches | None = None,
    ) -> None:
        """Build the app.

        Args:
            keys: Keys it accepts, by name; :func:`sample_keys` when omitted.
            clock: Returns the current aware time; drives rate-limit windows and sample appointments, so a test
                can move time without waiting. Defaults to the system clock.
            switches: Initial behaviour; defaults when omitted.
        """
        self._keys = dict(keys if keys is not None else sample_keys())
        self._by_value = {k.key: k for k in self._keys.values()}
        self._clock = clock or (lambda: datetime.now(UTC))
        self.switches = switches or Switches()
        self._requests: list[RecordedRequest] = []
        self._usage: dict[tuple[str, int], int] = {}
        self.appointments: dict[int, dict[str, Any]] = {}
        self.patients: dict[int, dict[str, Any]] = {}
        self.counts = Counts()
        self.practice_names: dict[RegionId, str] = {}
        """Practice names that replace the sample ones (a clinic controls its own; tests give hostile ones)."""
        self._ids = itertools.count(1001)
        self._seed()
        self._app = Starlette(
            routes=self._routes(),
            exception_handlers={HTTPException: self._http_error},
        )

    @property
    def keys(self) -> Mapping[str, SandboxKey]:
        """The keys it accepts, by name."""
        return self._keys

    @property
    def requests(self) -> list[RecordedRequest]:
        """API requests answered so far, oldest first (a copy)."""
        return list(self._requests)

    def revoke(self, name: str) -> None:
        """Revoke the key called ``name``, as an admin can in Dentally's settings: it answers 401 from now on."""
        revoked = dataclasses.replace(self._keys[name], expired=True)
        self._keys[name] = revoked
        self._by_value[revoked.key] = revoked

    def reset(self, switches: Switches | None = None) -> None:
        """Forget requests, rate-limit usage, counts, practice names and changes to records; default switches."""
        self.switches = switches or Switches()
        self._requests.clear()
        self._usage.clear()
        self.counts = Counts()
        self.practice_names.clear()
        self._seed()

    def use_modes(self, modes: Iterable[str]) -> None:
        """Reset with the named :data:`MODES` on (records are seeded again, so ``real-ids`` takes effect)."""
        self.reset(switches_for(modes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point: record API requests around the Starlette app."""
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox"):
            await self._app(scope, receive, send)
            return
        status = 0

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, recording_send)
        finally:
            self._requests.append(self._record(scope, status))

    def _record(self, scope: Scope, status: int) -> RecordedRequest:
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        key = self._by_value.get(_bearer(headers.get("authorization", "")))
        path: str = scope["path"]
        first = path.strip("/").split("/", 1)[0]
        return RecordedRequest(
            method=scope["method"],
            path=path,
            query=scope.get("query_string", b"").decode("latin-1"),
            region=first if first in REGIONS else None,
            status=status,
            key_name=key.name if key else None,
        )

    def _seed(self) -> None:
        self.appointments.clear()
        self.patients.clear()
        # A real diary's ids are small integers and something is usually in progress; the default keeps ids high
        # and nothing happening now, so only the real-ids mode exposes a checker that reads "now" or guesses ids.
        real = self.switches.real_ids
        self._ids = itertools.count(1 if real else 1001)
        now = self._clock().astimezone(UTC).replace(second=0, microsecond=0)
        today = now.replace(hour=9, minute=0)
        for region, practice in SAMPLE_PRACTICES.items():
            user = _USERS[_REGION_USER[region]]
            slots = [(today + timedelta(days=1), "Check-up"), (today + timedelta(days=1, hours=1), "Scale and polish")]
            if real:
                slots.insert(0, (now - timedelta(minutes=10), "Filling"))
            for start, reason in slots:
                self._store(
                    {
                        "practice_id": practice.id,
                        "patient_id": 501,
                        "practitioner_id": user.id,
                        "start_time": _iso(start),
                        "finish_time": _iso(start + timedelta(minutes=30)),
                        "reason": reason,
                        "state": "Booked",
                    }
                )
            for patient_id, first_name in ((501, "Alex"), (502, "Morgan")):
                key = patient_id + 1000 * list(SAMPLE_PRACTICES).index(region)
                self.patients[key] = {
                    "id": key,
                    "practice_id": practice.id,
                    "first_name": first_name,
                    "last_name": "Example",
                    "date_of_birth": "1980-01-01",
                }

    def _store(self, fields: dict[str, Any]) -> dict[str, Any]:
        appointment = {"id": next(self._ids), **fields}
        self.appointments[appointment["id"]] = appointment
        return appointment

    # Routing ---------------------------------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        api: list[tuple[str, str, str, _Handler]] = [
            ("GET", "/v1/user", "user:read", self._get_user),
            ("GET", "/v1/users", "user:read", self._list_users),
            ("GET", "/v1/practice", "practice:read", self._get_practice),
            ("GET", "/v1/sites", "site:read", self._list_sites),
            ("GET", "/v1/appointments", "appointment:read", self._list_appointments),
            ("POST", "/v1/appointments", "appointment:create", self._create_appointment),
            ("GET", "/v1/appointments/{record_id}", "appointment:read", self._get_record),
            ("PATCH", "/v1/appointments/{record_id}", "appointment:update", self._update_record),
            ("PUT", "/v1/appointments/{record_id}", "appointment:update", self._update_record),
            ("DELETE", "/v1/appointments/{record_id}", "appointment:delete", self._delete_record),
            ("GET", "/v1/patients", "patient:read", self._list_patients),
            ("POST", "/v1/patients", "patient:create", self._create_patient),
            ("GET", "/v1/patients/{record_id}", "patient:read", self._get_record),
            ("PATCH", "/v1/patients/{record_id}", "patient:update", self._update_record),
            ("PUT", "/v1/patients/{record_id}", "patient:update", self._update_record),
            ("DELETE", "/v1/patients/{record_id}", "patient:delete", self._delete_record),
        ]
        routes = [
            Route("/_sandbox/switches", self._get_switches, methods=["GET"]),
            Route("/_sandbox/switches", self._set_switches, methods=["POST"]),
            Route("/_sandbox/reset", self._reset, methods=["POST"]),
            Route("/_sandbox/requests", self._list_requests, methods=["GET"]),
            Route("/_sandbox/counts", self._get_counts, methods=["GET"]),
            Route("/_sandbox/keys", self._list_keys, methods=["GET"]),
        ]
        for prefix in ("/{region}", ""):
            routes.append(Route(prefix + "/oauth/token/info", self._token_info, methods=["GET"]))
            for method, path, scope, handler in api:
                route = _ApiRoute(method, path, scope, handler)
                routes.append(Route(prefix + path, self._guarded(route), methods=[method]))
        return routes

    def _guarded(self, route: _ApiRoute) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await self._answer(request, route)

        return endpoint

    async def _admit(self, request: Request, target: str) -> tuple[SandboxKey | None, Response | None, dict[str, str]]:
        """Everything before the controller: latency, faults, User-Agent, region, the key and the rate limit."""
        switches = self.switches
        if switches.latency_ms:
            await asyncio.sleep(switches.latency_ms / 1000)
        targeted = target.startswith(switches.fault_target)
        if targeted:
            if switches.hang_ms:
                await asyncio.sleep(switches.hang_ms / 1000)
            if switches.server_error is not None:
                error = JSONResponse({"error": "Internal server error"}, status_code=switches.server_error)
                return None, error, {}
        if not request.headers.get("user-agent", "").strip():
            return None, JSONResponse({"error": "Requests must include a User-Agent header"}, status_code=403), {}
        region = request.path_params.get("region")
        if region is not None and region not in REGIONS:
            return None, _not_found(), {}
        key = self._by_value.get(_bearer(request.headers.get("authorization", "")))
        # A key from another region is simply unknown on this host, exactly like an invalid one.
        if key is None or (region is not None and key.region != region):
            return None, _unauthorized("The access token is invalid"), {}
        if key.expired:
            return None, _unauthorized("The access token expired"), {}
        blip = targeted and switches.rate_limit_blips > 0
        if blip:
            switches.rate_limit_blips -= 1
        allowed, headers = self._spend(key, count=not blip)
        if blip or not allowed:
            return None, self._rate_limited(headers), {}
        headers.update(self._scopes_header(key))
        return key, None, headers

    async def _answer(self, request: Request, route: _ApiRoute) -> Response:
        # Rails routes before any controller code runs, so an unrouted PATCH is a 404 for every key.
        if route.method == "PATCH" and self.switches.patch_unrouted:
            return _not_found()
        key, refused, headers = await self._admit(request, f"{route.method} {route.path}")
        if key is None:
            assert refused is not None
            return refused
        response = await self._controller(request, route, key)
        response.headers.update(headers)
        return response

    async def _controller(self, request: Request, route: _ApiRoute, key: SandboxKey) -> Response:
        """The before_action chain in the order the switches choose, then the action."""
        switches = self.switches
        member = "record_id" in request.path_params
        if member and switches.lookup_before_scope and self._lookup(request, key) is None:
            return _not_found()
        has_body = route.method in ("POST", "PATCH", "PUT")
        if has_body and switches.validate_before_scope and await _wrapped_body(request, route.resource) is None:
            return _param_missing(route.resource)
        ungated = route.path == "/v1/user" and switches.ungated_user
        if not ungated and not _grants(key.scopes, route.scope):
            return self._refusal(route.scope)
        return await route.handler(request, key)

    def _refusal(self, needed: str) -> Response:
        if self.switches.not_found_when_forbidden:
            return _not_found()
        if self.switches.bare_403:
            # Doorkeeper before 5.9.1: head :forbidden, and WWW-Authenticate deleted.
            return Response(status_code=403)
        description = f"The action requires the {needed} scope"
        challenge = f'Bearer realm="{_REALM}", error="insufficient_scope", error_description="{description}"'
        body = {"error": "insufficient_scope", "error_description": description}
        return JSONResponse(body, status_code=403, headers={"WWW-Authenticate": challenge})

    def _rate_limited(self, headers: dict[str, str]) -> Response:
        if self.switches.text_rate_limits:
            # Dentally's redis-throttle fork: text/plain, and rate headers only on allowed answers.
            return PlainTextResponse("Rate Limit Exceeded", status_code=403)
        return JSONResponse({"error": "Rate limit exceeded"}, status_code=403, headers=headers)

    def _spend(self, key: SandboxKey, *, count: bool = True) -> tuple[bool, dict[str, str]]:
        """Count one request against the key's window; False when the budget was already spent."""
        window = self.switches.rate_limit_window_s
        start = int(self._clock().timestamp() // window) * window
        used = self._usage.get((key.name, start), 0)
        limit = self.switches.rate_limit
        allowed = used < limit
        if allowed and count:
            used += 1
            self._usage[(key.name, start)] = used
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - used)),
            # Windows start on multiples of their length, so a 3,600 s window resets on the hour as Dentally's does.
            "X-RateLimit-Reset": str(start + window),
        }
        return allowed, headers

    def _scopes_header(self, key: SandboxKey) -> dict[str, str]:
        style = self.switches.scopes_header
        if style == "off":
            return {}
        return {"X-OAuth-Scopes": (" " if style == "space" else ", ").join(key.scopes)}

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        return JSONResponse({"error": "Not found" if status == 404 else str(exc)}, status_code=status)

    async def _token_info(self, request: Request) -> Response:
        if not self.switches.token_info:
            return _not_found()
        key, refused, headers = await self._admit(request, "GET /oauth/token/info")
        if key is None:
            assert refused is not None
            return refused
        body = {
            "resource_owner_id": key.user_id,
            "scope": list(key.scopes),
            "expires_in": None,
            "application": {"uid": None},
            "created_at": 1_700_000_000,
        }
        return JSONResponse(body, headers=headers)

    # API handlers ----------------------------------------------------------------------------------------------

    def _practice(self, key: SandboxKey) -> SamplePractice:
        return SAMPLE_PRACTICES[key.region]

    def _user_body(self, user: _User) -> dict[str, Any]:
        return {
            "id": user.id,
            "uuid": f"00000000-0000-4000-8000-{user.id:012d}",
            "title": None,
            "first_name": user.first_name,
            "middle_name": None,
            "last_name": user.last_name,
            "email": user.email,
            "role": "Practice manager",
            "permission_level": 4,
            "practice_id": user.practice_id,
            "site_id": user.site_id,
            "allowed_sites": [user.site_id],
        }

    async def _get_user(self, request: Request, key: SandboxKey) -> Response:
        return JSONResponse({"user": self._user_body(_USERS[key.user_id])})

    async def _list_users(self, request: Request, key: SandboxKey) -> Response:
        users = [self._user_body(u) for u in _USERS.values() if u.practice_id == self._practice(key).id]
        per_page = _int(request.query_params.get("per_page"), 25)
        per_page = per_page if 1 <= per_page <= 100 else 25
        return JSONResponse({"users": users[:per_page], "meta": {"current_page": 1, "total_pages": 1}})

    async def _get_practice(self, request: Request, key: SandboxKey) -> Response:
        practice = self._practice(key)
        hours = {day: {"open": "09:00", "close": "17:30"} for day in ("Monday", "Tuesday", "Wednesday", "Thursday")}
        name = self.practice_names.get(key.region, practice.name)
        return JSONResponse({"practice": {"id": practice.id, "name": name, "opening_hours": hours}})

    async def _list_sites(self, request: Request, key: SandboxKey) -> Response:
        sites = [{"id": site_id, "name": name} for site_id, name in self._practice(key).sites]
        return JSONResponse({"sites": sites, "meta": {"current_page": 1, "total_pages": 1, "total": len(sites)}})

    def _served(self, rows: Iterable[Any]) -> None:
        if any(True for _ in rows):
            self.counts.records_served += 1

    async def _list_appointments(self, request: Request, key: SandboxKey) -> Response:
        params = request.query_params
        windowed = bool(params.get("after")) and bool(params.get("before"))
        if not windowed and not self.switches.unwindowed_index:
            name = "after" if not params.get("after") else "before"
            return JSONResponse({"error": f"param is missing or the value is empty: {name}"}, status_code=400)
        after = _parse_time(params["after"]) if windowed else None
        before = _parse_time(params["before"]) if windowed else None
        if windowed and (after is None or before is None):
            return JSONResponse({"errors": {"after": ["must be an ISO-8601 time with a zone"]}}, status_code=422)
        if after is not None and before is not None and before <= after:
            return JSONResponse({"errors": {"before": ["must be after 'after'"]}}, status_code=422)
        per_page = _int(params.get("per_page"), 25)
        per_page = per_page if 1 <= per_page <= 100 else 25
        page = max(1, _int(params.get("page"), 1))
        practice_id = self._practice(key).id
        rows = [
            a
            for a in sorted(self.appointments.values(), key=lambda a: (str(a["start_time"]), a["id"]))
            if a["practice_id"] == practice_id
            and (start := _parse_time(str(a["start_time"]))) is not None
            and (after is None or before is None or after <= start < before)
        ]
        chunk = rows[(page - 1) * per_page : page * per_page]
        self._served(chunk)
        meta = {"current_page": page, "total_pages": max(1, -(-len(rows) // per_page)), "total": len(rows)}
        return JSONResponse({"appointments": [_public(a) for a in chunk], "meta": meta})

    async def _list_patients(self, request: Request, key: SandboxKey) -> Response:
        rows = [p for p in self.patients.values() if p["practice_id"] == self._practice(key).id]
        self._served(rows)
        return JSONResponse({"patients": [_public(p) for p in rows], "meta": {"current_page": 1, "total_pages": 1}})

    async def _create_appointment(self, request: Request, key: SandboxKey) -> Response:
        fields = await _wrapped_body(request, "appointment")
        # Strong parameters: no appointment object (or an empty one) fails inside the action, saving nothing.
        if not fields:
            return _param_missing("appointment")
        if not self.switches.lax_create:
            errors = _validate(fields)
            if errors:
                return JSONResponse({"errors": errors}, status_code=422)
        appointment = self._store({"state": "Booked", **fields, "practice_id": self._practice(key).id})
        self.counts.created += 1
        self._served([appointment])
        return JSONResponse({"appointment": _public(appointment)}, status_code=201)

    async def _create_patient(self, request: Request, key: SandboxKey) -> Response:
        fields = await _wrapped_body(request, "patient")
        if not fields:
            return _param_missing("patient")
        if not fields.get("last_name"):
            return JSONResponse({"errors": {"last_name": ["can't be blank"]}}, status_code=422)
        patient_id = max(self.patients, default=0) + 1
        self.patients[patient_id] = {**fields, "id": patient_id, "practice_id": self._practice(key).id}
        self.counts.created += 1
        self._served([patient_id])
        return JSONResponse({"patient": _public(self.patients[patient_id])}, status_code=201)

    def _table(self, request: Request) -> tuple[str, dict[int, dict[str, Any]]]:
        resource = "patient" if "/patients/" in request.url.path else "appointment"
        return resource, self.patients if resource == "patient" else self.appointments

    def _lookup(self, request: Request, key: SandboxKey) -> dict[str, Any] | None:
        _, table = self._table(request)
        raw = request.path_params["record_id"]
        record = table.get(int(raw)) if raw.isdigit() else None
        if record is None or record["practice_id"] != self._practice(key).id:
            return None
        return record

    async def _get_record(self, request: Request, key: SandboxKey) -> Response:
        resource, _ = self._table(request)
        record = self._lookup(request, key)
        if record is None:
            return _not_found()
        self._served([record])
        return JSONResponse({resource: _public(record)})

    async def _update_record(self, request: Request, key: SandboxKey) -> Response:
        resource, table = self._table(request)
        record = self._lookup(request, key)
        if record is None:
            return _not_found()
        fields = await _wrapped_body(request, resource)
        if not fields:
            return _param_missing(resource)
        merged = {**record, **fields, "id": record["id"], "practice_id": record["practice_id"]}
        if resource == "appointment":
            errors = _validate(merged)
            if errors:
                return JSONResponse({"errors": errors}, status_code=422)
        table[record["id"]] = merged
        self.counts.changed += 1
        self._served([merged])
        return JSONResponse({resource: _public(merged)})

    async def _delete_record(self, request: Request, key: SandboxKey) -> Response:
        _, table = self._table(request)
        record = self._lookup(request, key)
        if record is None:
            return _not_found()
        del table[record["id"]]
        self.counts.deleted += 1
        return Response(status_code=204)

    # Control endpoints -----------------------------------------------------------------------------------------

    async def _get_switches(self, request: Request) -> Response:
        return JSONResponse(self.switches.model_dump())

    async def _set_switches(self, request: Request) -> Response:
        try:
            patch = await request.json()
        except ValueError:
            return JSONResponse({"error": "send a JSON object"}, status_code=400)
        if not isinstance(patch, dict):
            return JSONResponse({"error": "send a JSON object"}, status_code=400)
        modes = patch.pop("modes", None)
        try:
            if modes is not None:
                if not isinstance(modes, list) or not all(isinstance(m, str) for m in modes):
                    return JSONResponse({"error": "modes must be a list of mode names"}, status_code=400)
                switches = switches_for(modes, Switches.model_validate(patch))
            else:
                switches = Switches.model_validate({**self.switches.model_dump(), **patch})
        except ValidationError as exc:
            errors = [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()]
            return JSONResponse({"errors": errors}, status_code=422)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        reseed = switches.real_ids != self.switches.real_ids
        self.switches = switches
        if reseed:
            self._seed()
        return JSONResponse(self.switches.model_dump())

    async def _reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse(self.switches.model_dump())

    async def _get_counts(self, request: Request) -> Response:
        return JSONResponse(asdict(self.counts))

    async def _list_requests(self, request: Request) -> Response:
        return JSONResponse({"requests": [asdict(r) for r in self._requests]})

    async def _list_keys(self, request: Request) -> Response:
        # Sample keys are public test data (printed by the CLI too); a real key never reaches the sandbox.
        rows = [
            {"name": k.name, "key": k.key, "region": k.region, "scopes": list(k.scopes), "description": k.description}
            for k in self._keys.values()
        ]
        return JSONResponse({"keys": rows})


def _bearer(header: str) -> str:
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _unauthorized(description: str) -> Response:
    challenge = f'Bearer realm="{_REALM}", error="invalid_token", error_description="{description}"'
    return JSONResponse(
        {"error": "invalid_token", "error_description": description},
        status_code=401,
        headers={"WWW-Authenticate": challenge},
    )


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


async def _wrapped_body(request: Request, resource: str) -> dict[str, Any] | None:
    """The resource's object in the body, or None when it is missing or empty (what strong parameters refuse)."""
    try:
        body = await request.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get(resource), dict) or not body[resource]:
        return None
    return dict(body[resource])


def _not_found() -> Response:
    # The same answer for a missing record, an unrouted path and (in that mode) a missing scope, as Rails gives.
    return JSONResponse({"error": "Not found"}, status_code=404)


def _param_missing(resource: str) -> Response:
    return JSONResponse({"error": f"param is missing or the value is empty: {resource}"}, status_code=400)


def _validate(fields: Mapping[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    start = _parse_time(str(fields.get("start_time") or ""))
    finish = _parse_time(str(fields.get("finish_time") or ""))
    if start is None:
        errors["start_time"] = ["can't be blank or is not a time"]
    if finish is None:
        errors["finish_time"] = ["can't be blank or is not a time"]
    if start is not None and finish is not None and finish <= start:
        errors["finish_time"] = ["must be after the start time"]
    if not fields.get("practitioner_id"):
        errors["practitioner_id"] = ["can't be blank"]
    return errors


def _public(appointment: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in appointment.items() if k != "practice_id"}
