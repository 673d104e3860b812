"""The scope checker: proves which of the scopes Aldense needs a Dentally key holds, without changing clinic data.

How it decides (see DESIGN.md section 4 and reference/dentally-api.md):

* ``GET /v1/user`` proves the key and ``user:read``. Four probes prove the appointment scopes: a one-minute
  ``GET /v1/appointments`` window (read), a ``POST`` whose body cannot validate (create), and ``PATCH``/``DELETE``
  of appointment 0, which cannot exist (update, delete). Dentally is believed to check scopes before looking
  records up or validating bodies, so a granted scope shows as 400/404/422 and a missing one as 403.
* 2xx/400/422 (and 404 on a write probe) mean granted; a 403 naming ``insufficient_scope`` means missing; a 403
  saying "Rate limit exceeded" means wait (never longer than ``max_rate_limit_wait``) and retry once, never
  missing; 401 means the key is invalid, expired or revoked; 5xx, timeouts and anything else mean "could not
  check". A 403 that names neither cause counts as missing only when another probe of the same check was
  granted (so the key itself is accepted); otherwise it is "could not check".
* A 2xx on a write probe is an *incident*: something was written. A created appointment is deleted at once,
  the result carries the incident, the verdict is "could not check", and this checker stops sending the
  create probe (``create_probe_enabled``) until it is rebuilt.
* With the region known, the five probes and ``GET /v1/practice`` (for the clinic name) run concurrently, so a
  check takes about one round trip. "Detect" first asks ``GET /v1/user`` of each allowed region in turn.
* No check sends more than ``max_requests`` (8) requests; one is always held back while a create probe is in
  flight so that an accidental appointment can be deleted. Retries and the clinic name use what is left.
* ``X-OAuth-Scopes``, when Dentally sends it, is recorded as corroboration and never changes the verdict.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum, StrEnum
from types import MappingProxyType
from typing import Any, Final, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from dentally.client import ApiResponse, ClientFactory, DentallyClient, DentallyUser, format_timestamp
from dentally.errors import MalformedKey, Timeout, TransportError
from dentally.regions import DETECT, RegionChoice, RegionId, region_label

__all__ = [
    "MAX_REQUESTS",
    "REQUIRED_SCOPES",
    "SCOPE_LABELS",
    "CheckResult",
    "Incident",
    "Problem",
    "Scope",
    "ScopeCheck",
    "ScopeChecker",
    "ScopeStatus",
    "Verdict",
]

logger = logging.getLogger(__name__)

Scope: TypeAlias = Literal[
    "user:read", "appointment:read", "appointment:create", "appointment:update", "appointment:delete"
]

REQUIRED_SCOPES: Final[tuple[Scope, ...]] = (
    "user:read",
    "appointment:read",
    "appointment:create",
    "appointment:update",
    "appointment:delete",
)

SCOPE_LABELS: Final[Mapping[Scope, str]] = MappingProxyType(
    {
        "user:read": "User Read",
        "appointment:read": "Appointment Read",
        "appointment:create": "Appointment Create",
        "appointment:update": "Appointment Update",
        "appointment:delete": "Appointment Delete",
    }
)
"""The tick-box labels Dentally shows when a key is made."""

MAX_REQUESTS: Final = 8
DEFAULT_MAX_RATE_LIMIT_WAIT: Final = 2.0
FAILURE_PAUSE: Final = 0.5
"""Seconds to wait before retrying probes that met a server error, a timeout or a network failure."""

# A body that fails validation three ways (finish before start, long past, no practitioner); the reason names us
# so that, should Dentally ever save it, the clinic can see what it is.
_UNSAVABLE_APPOINTMENT: Final = {
    "appointment": {
        "start_time": "2000-01-01T10:00:00Z",
        "finish_time": "2000-01-01T09:00:00Z",
        "reason": "Aldense Guide permission check - safe to delete",
    }
}
# Rails ids start at 1, so 0 names no record.
_NO_SUCH_APPOINTMENT: Final = "/v1/appointments/0"


class Verdict(StrEnum):
    """The overall answer of a check."""

    VERIFIED = "verified"
    MISSING_SCOPES = "missing_scopes"
    INVALID_KEY = "invalid_key"
    COULD_NOT_CHECK = "could_not_check"


class ScopeStatus(StrEnum):
    """What a check learned about one scope."""

    GRANTED = "granted"
    MISSING = "missing"
    UNKNOWN = "unknown"


class Problem(StrEnum):
    """Why a check did not verify the key, when the cause was not a missing scope."""

    KEY_REJECTED = "key_rejected"
    MALFORMED_KEY = "malformed_key"
    INCIDENT = "incident"
    PROBE_DISABLED = "probe_disabled"
    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    SERVER_ERROR = "server_error"
    NETWORK = "network"
    FORBIDDEN_UNEXPLAINED = "forbidden_unexplained"
    UNEXPECTED_STATUS = "unexpected_status"
    BUDGET_EXHAUSTED = "budget_exhausted"


# When several probes failed differently, the first of these found becomes the result's problem.
_PROBLEM_ORDER: Final = (
    Problem.INCIDENT,
    Problem.PROBE_DISABLED,
    Problem.RATE_LIMITED,
    Problem.TIMEOUT,
    Problem.SERVER_ERROR,
    Problem.NETWORK,
    Problem.FORBIDDEN_UNEXPLAINED,
    Problem.UNEXPECTED_STATUS,
    Problem.BUDGET_EXHAUSTED,
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScopeCheck(_Frozen):
    """The outcome for one required scope."""

    scope: Scope
    status: ScopeStatus
    http_status: int | None = Field(None, description="Status of the probe's last answer; None if none arrived.")

    @property
    def label(self) -> str:
        """Dentally's tick-box label, e.g. ``"Appointment Read"``."""
        return SCOPE_LABELS[self.scope]


class Incident(_Frozen):
    """A write probe that Dentally carried out instead of refusing; support must hear about it."""

    method: str
    path: str
    http_status: int
    appointment_id: int | str | None = Field(None, description="Id of the appointment created, when one was.")
    cleanup_status: int | None = Field(None, description="Status of the DELETE that undid it; None if not sent.")
    cleaned_up: bool = Field(False, description="Whether the created appointment is known to be deleted again.")


class CheckResult(_Frozen):
    """Everything one check learned; immutable, JSON round-trippable, and free of the key.

    Store it with ``result.model_dump_json()`` and load it with ``CheckResult.model_validate_json(text)``.
    """

    schema_version: Literal[1] = 1
    verdict: Verdict
    scopes: tuple[ScopeCheck, ...] = Field(description="One entry per required scope, in REQUIRED_SCOPES order.")
    region: RegionId | None = Field(description="The region the key works in; None when none was found.")
    region_detected: bool = Field(description="Whether the region was found by trying each allowed one.")
    user: DentallyUser | None = Field(description="The key's Dentally user, when user:read let us read it.")
    clinic_name: str | None = Field(description="Practice name, else site names; never part of the verdict.")
    requests_made: int = Field(ge=0, description="HTTP requests this check sent (at most max_requests).")
    problem: Problem | None = Field(None, description="Cause, for invalid_key and could_not_check.")
    reason: str | None = Field(None, description="One sentence for people, for invalid_key and could_not_check.")
    retry_at: datetime | None = Field(None, description="When Dentally's rate limit resets, if that stopped us.")
    incident: Incident | None = None
    oauth_scopes: tuple[str, ...] | None = Field(None, description="X-OAuth-Scopes as Dentally sent it, if at all.")
    checked_at: datetime

    @field_validator("scopes")
    @classmethod
    def _every_required_scope_in_order(cls, value: tuple[ScopeCheck, ...]) -> tuple[ScopeCheck, ...]:
        if tuple(check.scope for check in value) != REQUIRED_SCOPES:
            raise ValueError(f"scopes must list {', '.join(REQUIRED_SCOPES)} in that order")
        return value

    @property
    def has_incident(self) -> bool:
        """Whether a write probe changed data (support must be alerted)."""
        return self.incident is not None

    @property
    def missing_scopes(self) -> tuple[Scope, ...]:
        """Scopes the key definitely lacks."""
        return tuple(c.scope for c in self.scopes if c.status is ScopeStatus.MISSING)

    @property
    def unknown_scopes(self) -> tuple[Scope, ...]:
        """Scopes the check could not settle."""
        return tuple(c.scope for c in self.scopes if c.status is ScopeStatus.UNKNOWN)

    def status_of(self, scope: Scope) -> ScopeStatus:
        """The status of one required scope."""
        return next(c.status for c in self.scopes if c.scope == scope)

    @property
    def scopes_header_agrees(self) -> bool | None:
        """Whether ``X-OAuth-Scopes`` tells the same story as the probes about every settled scope.

        None when Dentally sent no such header. A bare resource in the header (``appointment``) counts as
        granting every action on it.
        """
        if self.oauth_scopes is None:
            return None
        listed = set(self.oauth_scopes)
        for check in self.scopes:
            if check.status is ScopeStatus.UNKNOWN:
                continue
            in_header = check.scope in listed or check.scope.split(":", 1)[0] in listed
            if in_header != (check.status is ScopeStatus.GRANTED):
                return False
        return True


class _Kind(Enum):
    GRANTED = "granted"
    MISSING = "missing"
    UNMARKED_403 = "unmarked_403"
    RATE_LIMITED = "rate_limited"
    REJECTED = "rejected"
    FAILED = "failed"
    WROTE = "wrote"
    NOT_SENT = "not_sent"


@dataclass(frozen=True, slots=True)
class _Probe:
    name: str
    method: str
    path: str
    params: Mapping[str, str | int] | None = None
    body: Any = None

    @property
    def writes(self) -> bool:
        return self.method != "GET"


@dataclass(frozen=True, slots=True)
class _Observation:
    kind: _Kind
    status: int | None = None
    problem: Problem | None = None
    detail: str = ""
    response: ApiResponse | None = None


_RETRIED_FAILURES: Final = frozenset({Problem.SERVER_ERROR, Problem.TIMEOUT, Problem.NETWORK})


def _worth_retrying(seen: _Observation) -> bool:
    return seen.kind is _Kind.RATE_LIMITED or (seen.kind is _Kind.FAILED and seen.problem in _RETRIED_FAILURES)


def _classify(probe: _Probe, response: ApiResponse) -> _Observation:
    status = response.status_code

    def seen(kind: _Kind, problem: Problem | None = None, detail: str = "") -> _Observation:
        return _Observation(kind, status, problem, detail, response)

    if status == 401:
        return seen(_Kind.REJECTED, Problem.KEY_REJECTED)
    if response.is_rate_limited:
        return seen(_Kind.RATE_LIMITED, Problem.RATE_LIMITED)
    if status == 403:
        if response.is_insufficient_scope:
            return seen(_Kind.MISSING)
        return seen(
            _Kind.UNMARKED_403,
            Problem.FORBIDDEN_UNEXPLAINED,
            "Dentally refused the check's requests (403) without saying that a permission was missing.",
        )
    if response.is_success:
        return seen(_Kind.WROTE, Problem.INCIDENT) if probe.writes else seen(_Kind.GRANTED)
    # The scope check comes first, so a refused body or parameter still proves the scope. A 404 proves it only
    # on a write probe, where we asked for a record that cannot exist; on a read it means the route is gone.
    if status in (400, 422) or (status == 404 and probe.writes):
        return seen(_Kind.GRANTED)
    if status >= 500:
        return seen(_Kind.FAILED, Problem.SERVER_ERROR, f"Dentally answered with a server error ({status}).")
    return seen(
        _Kind.FAILED,
        Problem.UNEXPECTED_STATUS,
        f"Dentally answered {probe.method} {probe.path} with an unexpected {status}.",
    )


_STATUS_OF_KIND: Final = {_Kind.GRANTED: ScopeStatus.GRANTED, _Kind.MISSING: ScopeStatus.MISSING}


class _Run:
    """One check's request budget and what its requests have shown so far."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.oauth_scopes: tuple[str, ...] | None = None

    def room(self, reserve: int = 0) -> int:
        return max(0, self.limit - self.used - reserve)

    async def send(self, client: DentallyClient, probe: _Probe) -> _Observation:
        if self.used >= self.limit:
            return _Observation(_Kind.NOT_SENT, problem=Problem.BUDGET_EXHAUSTED)
        self.used += 1
        try:
            response = await client.request(probe.method, probe.path, params=probe.params, json=probe.body)
        except Timeout as exc:
            return _Observation(
                _Kind.FAILED, problem=Problem.TIMEOUT, detail=f"Dentally did not answer in time ({exc})."
            )
        except TransportError as exc:
            return _Observation(_Kind.FAILED, problem=Problem.NETWORK, detail=f"Could not reach Dentally ({exc}).")
        if self.oauth_scopes is None:
            self.oauth_scopes = response.oauth_scopes
        return _classify(probe, response)


Clock: TypeAlias = Callable[[], datetime]
Sleep: TypeAlias = Callable[[float], Awaitable[None]]


def _system_clock() -> datetime:
    return datetime.now(UTC)


class ScopeChecker:
    """Runs scope checks for the bot; one instance serves every check of a deployment."""

    def __init__(
        self,
        clients: ClientFactory,
        *,
        max_requests: int = MAX_REQUESTS,
        max_rate_limit_wait: float = DEFAULT_MAX_RATE_LIMIT_WAIT,
        create_probe_enabled: bool = True,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        """Configure the checker.

        Args:
            clients: Builds region clients; its endpoints decide hosts and the detect order.
            max_requests: Most HTTP requests one check may send (at least 6: five probes and a cleanup).
            max_rate_limit_wait: Longest pause, in seconds, before retrying a rate-limited probe.
            create_probe_enabled: False skips the create probe (appointment:create then stays unknown), e.g.
                after an incident recorded elsewhere.
            clock: Returns the current aware time; the system clock by default.
            sleep: Waits a number of seconds; ``asyncio.sleep`` by default (tests pass a fake).
        """
        if max_requests < 6:
            raise ValueError("a check needs at least 6 requests: five probes and one to undo an accident")
        if max_rate_limit_wait < 0:
            raise ValueError("max_rate_limit_wait cannot be negative")
        self._clients = clients
        self._max_requests = max_requests
        self._max_wait = max_rate_limit_wait
        self._create_probe_enabled = create_probe_enabled
        self._clock = clock or _system_clock
        self._sleep = sleep or asyncio.sleep

    @property
    def create_probe_enabled(self) -> bool:
        """False once a create probe has created something (or when built so)."""
        return self._create_probe_enabled

    def __repr__(self) -> str:
        return f"ScopeChecker(clients={self._clients!r}, max_requests={self._max_requests})"

    async def check(self, token: SecretStr, region: RegionChoice) -> CheckResult:
        """Check which required scopes ``token`` holds.

        Args:
            token: The pasted Dentally key.
            region: A region id, or ``"detect"`` to try the deployment's allowed regions in turn.

        Returns:
            The result; Dentally or network trouble gives ``could_not_check`` rather than an exception.
        """
        started = self._clock()
        run = _Run(self._max_requests)
        detect = region == DETECT
        candidates: Sequence[RegionId] = self._clients.endpoints.detect_order if region == DETECT else (region,)
        try:
            clients = {r: self._clients.for_region(r, token) for r in candidates}
        except MalformedKey as exc:
            return _result(started, run, Verdict.INVALID_KEY, {}, problem=Problem.MALFORMED_KEY, reason=str(exc))
        probes = _probes(started)
        observed: dict[str, _Observation] = {}
        if detect:
            found = await self._detect(run, clients, probes["user:read"], observed)
            if found is None:
                return self._unfound(started, run, candidates, observed)
        else:
            found = candidates[0]
        client = clients[found]
        result = await self._probe_region(started, run, client, probes, observed)
        name = (
            await self._clinic_name(run, client, probes, observed)
            if result.verdict is not Verdict.INVALID_KEY
            else None
        )
        result = result.model_copy(
            update={
                "region": found,
                "region_detected": detect,
                "clinic_name": name,
                "requests_made": run.used,
                "oauth_scopes": run.oauth_scopes,
            }
        )
        logger.info(
            "Dentally key check: %s in %s after %d requests%s",
            result.verdict,
            found,
            run.used,
            " (INCIDENT)" if result.incident else "",
        )
        return result

    async def _detect(
        self,
        run: _Run,
        clients: Mapping[RegionId, DentallyClient],
        user_probe: _Probe,
        observed: dict[str, _Observation],
    ) -> RegionId | None:
        # Keep room for the four appointment probes and the cleanup request that follow.
        allowance = self._max_requests - 4 - (1 if self._create_probe_enabled else 0)
        for region_id, client in clients.items():
            if run.used >= allowance:
                observed["detect:budget"] = _Observation(_Kind.NOT_SENT, problem=Problem.BUDGET_EXHAUSTED)
                return None
            seen = await run.send(client, user_probe)
            if seen.kind is _Kind.RATE_LIMITED and run.used < allowance:
                await self._wait_for_reset([seen])
                seen = await run.send(client, user_probe)
            if seen.kind in (_Kind.GRANTED, _Kind.MISSING, _Kind.UNMARKED_403):
                observed["user:read"] = seen
                return region_id
            observed[f"detect:{region_id}"] = seen
        return None

    def _unfound(
        self,
        started: datetime,
        run: _Run,
        tried: Sequence[RegionId],
        observed: Mapping[str, _Observation],
    ) -> CheckResult:
        failures = [o for o in observed.values() if o.kind is not _Kind.REJECTED]
        if not failures:
            labels = ", ".join(region_label(r) for r in tried)
            reason = f"No Dentally region accepted this key (tried {labels}); it may be mistyped, expired or revoked."
            return _result(
                started, run, Verdict.INVALID_KEY, {}, problem=Problem.KEY_REJECTED, reason=reason, detected=True
            )
        problem, reason, retry_at = _explain(failures, self._clock())
        return _result(
            started,
            run,
            Verdict.COULD_NOT_CHECK,
            {},
            problem=problem,
            reason=f"Could not find this key's region: {reason}",
            retry_at=retry_at,
            detected=True,
        )

    async def _probe_region(
        self,
        started: datetime,
        run: _Run,
        client: DentallyClient,
        probes: Mapping[str, _Probe],
        observed: dict[str, _Observation],
    ) -> CheckResult:
        pending = [s for s in REQUIRED_SCOPES if s not in observed]
        if not self._create_probe_enabled:
            pending.remove("appointment:create")
            observed["appointment:create"] = _Observation(
                _Kind.NOT_SENT,
                problem=Problem.PROBE_DISABLED,
                detail="The create-permission probe is switched off after an earlier incident, "
                "so Appointment Create cannot be checked until support switches it back on.",
            )
        # The practice name rides along with the probes when the budget allows, so it costs no extra round trip.
        with_practice = run.room(_reserve(pending)) > len(pending)
        names = [*pending, "practice"] if with_practice else pending
        await self._send_round(run, client, probes, names, observed)
        incident = await self._undo_writes(run, client, observed)

        # Every rate-limited or failed (5xx, timeout, network) request gets one retry after one shared wait:
        # scopes first, in order, and the practice name only with whatever budget is left.
        retryable = [n for n in (*REQUIRED_SCOPES, "practice") if n in observed and _worth_retrying(observed[n])]
        if retryable and not _rejected(observed):
            limited = [observed[n] for n in retryable if observed[n].kind is _Kind.RATE_LIMITED]
            if limited:
                await self._wait_for_reset(limited)
            else:
                await self._sleep(FAILURE_PAUSE)
            retry: list[str] = []
            for name in retryable:
                if run.room(_reserve([*retry, name])) >= len(retry) + 1:
                    retry.append(name)
            await self._send_round(run, client, probes, retry, observed)
            # Always undo, even when the first round already produced an incident.
            later = await self._undo_writes(run, client, observed)
            incident = incident or later
        return self._decide(started, run, observed, incident)

    async def _send_round(
        self,
        run: _Run,
        client: DentallyClient,
        probes: Mapping[str, _Probe],
        names: Sequence[str],
        observed: dict[str, _Observation],
    ) -> None:
        seen = await asyncio.gather(*(run.send(client, probes[name]) for name in names))
        observed.update(zip(names, seen, strict=True))

    async def _undo_writes(
        self, run: _Run, client: DentallyClient, observed: dict[str, _Observation]
    ) -> Incident | None:
        incident: Incident | None = None
        for scope in ("appointment:create", "appointment:update", "appointment:delete"):
            seen = observed.get(scope)
            if seen is None or seen.kind is not _Kind.WROTE or seen.response is None:
                continue
            response = seen.response
            found = Incident(method=response.method, path=response.path, http_status=response.status_code)
            if scope == "appointment:create":
                self._create_probe_enabled = False
                found = await self._delete_created(run, client, found, response)
            logger.warning(
                "Dentally carried out the %s probe (%s %s -> %s); cleaned up: %s",
                scope,
                response.method,
                response.path,
                response.status_code,
                found.cleaned_up,
            )
            # Mark it handled so a later round does not undo it twice; the scope itself was evidently granted.
            observed[scope] = _Observation(_Kind.GRANTED, seen.status, None, "", None)
            incident = incident or found
        return incident

    async def _delete_created(
        self, run: _Run, client: DentallyClient, incident: Incident, response: ApiResponse
    ) -> Incident:
        created = response.body.get("appointment") if isinstance(response.body, Mapping) else None
        appointment_id = created.get("id") if isinstance(created, Mapping) else None
        if not isinstance(appointment_id, int | str) or not str(appointment_id).isalnum():
            return incident
        incident = incident.model_copy(update={"appointment_id": appointment_id})
        if run.used >= run.limit:
            return incident
        run.used += 1
        try:
            answer = await client.request("DELETE", f"/v1/appointments/{appointment_id}")
        except TransportError:
            return incident
        return incident.model_copy(update={"cleanup_status": answer.status_code, "cleaned_up": answer.is_success})

    async def _wait_for_reset(self, limited: Iterable[_Observation]) -> None:
        now = self._clock()
        waits = [o.response.rate_limit.seconds_until_reset(now) if o.response is not None else None for o in limited]
        known = [w for w in waits if w is not None]
        # Without a reset time, wait the cap: Dentally has been seen to refuse briefly with budget left.
        wait = min(self._max_wait, max(known) if known else self._max_wait)
        if wait > 0:
            await self._sleep(wait)

    def _decide(
        self, started: datetime, run: _Run, observed: dict[str, _Observation], incident: Incident | None
    ) -> CheckResult:
        if any(observed[s].kind is _Kind.GRANTED for s in REQUIRED_SCOPES):
            # The key is accepted, so a bare 403 on one endpoint can only be about that endpoint's scope.
            for scope in REQUIRED_SCOPES:
                if observed[scope].kind is _Kind.UNMARKED_403:
                    observed[scope] = _Observation(_Kind.MISSING, observed[scope].status)
        user = _user_from(observed["user:read"])
        scopes: dict[str, _Observation] = {s: observed[s] for s in REQUIRED_SCOPES}
        if _rejected(observed):
            reason = "Dentally rejected this key part-way through the check; it may have been revoked or expired."
            if all(o.kind is _Kind.REJECTED for o in scopes.values()):
                reason = (
                    "Dentally does not accept this key here; it may be mistyped, expired, revoked "
                    "or made in another region."
                )
            return _result(started, run, Verdict.INVALID_KEY, scopes, problem=Problem.KEY_REJECTED, reason=reason)
        if incident is not None:
            undone = (
                f"appointment {incident.appointment_id} was deleted again"
                if incident.cleaned_up
                else "it could NOT be undone automatically"
            )
            reason = (
                f"Dentally carried out a permission probe ({incident.method} {incident.path}) instead of refusing "
                f"it; {undone}. The create probe is now off; support must look into it."
            )
            return _result(
                started,
                run,
                Verdict.COULD_NOT_CHECK,
                scopes,
                problem=Problem.INCIDENT,
                reason=reason,
                incident=incident,
                user=user,
            )
        if any(o.kind is _Kind.MISSING for o in scopes.values()):
            return _result(started, run, Verdict.MISSING_SCOPES, scopes, user=user)
        unsettled = [o for o in scopes.values() if o.kind is not _Kind.GRANTED]
        if unsettled:
            problem, reason, retry_at = _explain(unsettled, self._clock())
            return _result(
                started,
                run,
                Verdict.COULD_NOT_CHECK,
                scopes,
                problem=problem,
                reason=reason,
                retry_at=retry_at,
                user=user,
            )
        return _result(started, run, Verdict.VERIFIED, scopes, user=user)

    async def _clinic_name(
        self, run: _Run, client: DentallyClient, probes: Mapping[str, _Probe], observed: dict[str, _Observation]
    ) -> str | None:
        practice = observed.get("practice")
        if practice is None or practice.kind is _Kind.NOT_SENT:
            if run.room() == 0:
                return None
            practice = await run.send(client, probes["practice"])
        name = _practice_name(practice)
        if name is not None or run.room() == 0:
            return name
        if practice.kind is _Kind.RATE_LIMITED or practice.problem in _DENTALLY_TROUBLE:
            # Sites would fare no better while Dentally itself is struggling or refusing to serve this key.
            return None
        return _site_names(await run.send(client, probes["sites"]))


_DENTALLY_TROUBLE: Final = frozenset({Problem.TIMEOUT, Problem.SERVER_ERROR, Problem.NETWORK})


def _reserve(names: Iterable[str]) -> int:
    return 1 if "appointment:create" in names else 0


def _rejected(observed: Mapping[str, _Observation]) -> bool:
    return any(observed[s].kind is _Kind.REJECTED for s in REQUIRED_SCOPES if s in observed)


def _probes(now: datetime) -> dict[str, _Probe]:
    window_start = now.replace(microsecond=0)
    window: dict[str, str | int] = {
        "after": format_timestamp(window_start),
        "before": format_timestamp(window_start + timedelta(minutes=1)),
        "per_page": 1,
    }
    return {
        "user:read": _Probe("user:read", "GET", "/v1/user"),
        "appointment:read": _Probe("appointment:read", "GET", "/v1/appointments", params=window),
        "appointment:create": _Probe("appointment:create", "POST", "/v1/appointments", body=_UNSAVABLE_APPOINTMENT),
        # An empty change: even if appointment 0 somehow existed, nothing about it would change.
        "appointment:update": _Probe("appointment:update", "PATCH", _NO_SUCH_APPOINTMENT, body={"appointment": {}}),
        "appointment:delete": _Probe("appointment:delete", "DELETE", _NO_SUCH_APPOINTMENT),
        "practice": _Probe("practice", "GET", "/v1/practice"),
        "sites": _Probe("sites", "GET", "/v1/sites", params={"per_page": 100}),
    }


def _explain(failures: Sequence[_Observation], now: datetime) -> tuple[Problem, str, datetime | None]:
    problems = {o.problem for o in failures}
    problem = next((p for p in _PROBLEM_ORDER if p in problems), Problem.UNEXPECTED_STATUS)
    first = next((o for o in failures if o.problem is problem), failures[0])
    retry_at: datetime | None = None
    if problem is Problem.RATE_LIMITED:
        resets = [
            t for o in failures if o.response is not None and (t := o.response.rate_limit.reset_time(now)) is not None
        ]
        retry_at = max(resets) if resets else None
        when = f" after {retry_at:%H:%M} UTC" if retry_at else " later"
        return problem, f"Dentally is rate-limiting this key just now; try again{when}.", retry_at
    if problem is Problem.BUDGET_EXHAUSTED:
        return problem, "The check used up its request budget before it could finish.", None
    return problem, first.detail or "Dentally gave an answer the check could not use.", None


def _user_from(seen: _Observation) -> DentallyUser | None:
    if seen.kind is not _Kind.GRANTED or seen.response is None or not isinstance(seen.response.body, Mapping):
        return None
    data = seen.response.body.get("user")
    if not isinstance(data, Mapping):
        return None
    try:
        return DentallyUser.model_validate(data)
    except ValueError:
        return None


def _practice_name(seen: _Observation) -> str | None:
    body = seen.response.body if seen.response is not None and seen.status == 200 else None
    practice = body.get("practice") if isinstance(body, Mapping) else None
    name = practice.get("name") if isinstance(practice, Mapping) else None
    return name.strip() or None if isinstance(name, str) else None


def _site_names(seen: _Observation) -> str | None:
    body = seen.response.body if seen.response is not None and seen.status == 200 else None
    sites = body.get("sites") if isinstance(body, Mapping) else None
    if not isinstance(sites, list):
        return None
    names = list(
        dict.fromkeys(s["name"].strip() for s in sites if isinstance(s, Mapping) and isinstance(s.get("name"), str))
    )
    names = [n for n in names if n]
    if not names:
        return None
    shown = ", ".join(names[:3])
    return f"{shown} and {len(names) - 3} more" if len(names) > 3 else shown


def _result(
    checked_at: datetime,
    run: _Run,
    verdict: Verdict,
    scopes: Mapping[str, _Observation],
    *,
    problem: Problem | None = None,
    reason: str | None = None,
    retry_at: datetime | None = None,
    incident: Incident | None = None,
    user: DentallyUser | None = None,
    detected: bool = False,
) -> CheckResult:
    checks = []
    for scope in REQUIRED_SCOPES:
        seen = scopes.get(scope)
        status = _STATUS_OF_KIND.get(seen.kind, ScopeStatus.UNKNOWN) if seen else ScopeStatus.UNKNOWN
        checks.append(ScopeCheck(scope=scope, status=status, http_status=seen.status if seen else None))
    return CheckResult(
        verdict=verdict,
        scopes=tuple(checks),
        region=None,
        region_detected=detected,
        user=user,
        clinic_name=None,
        requests_made=run.used,
        problem=problem,
        reason=reason,
        retry_at=retry_at,
        incident=incident,
        oauth_scopes=run.oauth_scopes,
        checked_at=checked_at,
    )
