"""From Dentally's answers to a proof per scope: proven granted, proven missing, or not proven (pure, no I/O).

The rules (DESIGN.md section 4, reference/dentally-api.md "Corrections"):

* Introspection is believed: ``X-OAuth-Scopes`` on any answer, or ``GET /oauth/token/info``'s ``scope`` array.
  Two introspection sources that differ, or a probe that contradicts them, make the whole check unproven.
* ``GET /v1/users`` answering 200 proves User Read; ``/v1/user`` may be ungated, so its 200 proves nothing.
  The empty-window index answering 200 proves Appointment Read.
* A write probe's non-refusal (400/422 for create, 404/400/422 for update and delete) proves its scope only when
  the control of the same route shape was *refused* (a 403 that is not a rate limit): that shows scopes are
  checked before lookup and validation there. A 404 is never taken as a refusal: it may be a missing record, an
  unrouted method or Doorkeeper's 404-for-forbidden, and they cannot be told apart.
* A probe's 403 proves the scope missing when it names ``insufficient_scope`` or looks exactly like a refused
  control (status, body or none, content type, ``WWW-Authenticate`` or none).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final

from dentally.client import ApiResponse
from dentally.outcome import REQUIRED_SCOPES, SCOPE_LABELS, Problem, Scope, ScopeStatus, listed_grants
from dentally.probes import CONTROL_OF, Probe, Role

__all__ = ["Kind", "Proof", "ScopeProof", "Seen", "prove"]


class Kind(Enum):
    """What one request met."""

    OK = "ok"
    """2xx."""
    REFUSED = "refused"
    """403 that is not a rate limit."""
    REJECTED = "rejected"
    """401: the key is not accepted here."""
    RATE_LIMITED = "rate_limited"
    TROUBLE = "trouble"
    """5xx, a timeout or a network failure."""
    OTHER = "other"
    """Any other status (400, 404, 422...)."""
    NOT_SENT = "not_sent"
    """The request budget ran out first."""


@dataclass(frozen=True, slots=True)
class Seen:
    """One request and what came back."""

    probe: Probe
    kind: Kind
    status: int | None = None
    response: ApiResponse | None = None
    problem: Problem | None = None
    detail: str = ""

    @property
    def shown(self) -> str:
        """``POST /v1/appointments {} → 400`` for support."""
        return f"{self.probe.shown} → {self.status if self.status is not None else self.kind.value}"

    @property
    def names_insufficient_scope(self) -> bool:
        """A 403 that says in words that a scope is missing."""
        return self.response is not None and self.response.is_insufficient_scope

    @property
    def shape(self) -> tuple[Any, ...] | None:
        """What a refusal looks like, to compare a probe's 403 with a refused control's."""
        if self.kind is not Kind.REFUSED or self.response is None:
            return None
        r = self.response
        return (r.status_code, bool(r.text.strip()), r.content_type, bool(r.www_authenticate))


def classify(probe: Probe, response: ApiResponse) -> Seen:
    """Sort one answer into a :class:`Kind`."""
    status = response.status_code
    if status == 401:
        return Seen(probe, Kind.REJECTED, status, response, Problem.KEY_REJECTED)
    if response.is_rate_limited:
        return Seen(probe, Kind.RATE_LIMITED, status, response, Problem.RATE_LIMITED)
    if status == 403:
        return Seen(probe, Kind.REFUSED, status, response)
    if response.is_success:
        return Seen(probe, Kind.OK, status, response)
    if status >= 500:
        return Seen(probe, Kind.TROUBLE, status, response, Problem.SERVER_ERROR, f"Dentally answered {status}.")
    return Seen(probe, Kind.OTHER, status, response)


@dataclass(frozen=True, slots=True)
class ScopeProof:
    """The outcome for one scope and the sentence that justifies it."""

    status: ScopeStatus
    proof: str
    http_status: int | None = None


@dataclass(frozen=True, slots=True)
class Proof:
    """Everything the answers prove."""

    scopes: dict[Scope, ScopeProof]
    oauth_scopes: tuple[str, ...] | None
    token_info_scopes: tuple[str, ...] | None
    disagreements: list[str] = field(default_factory=list)
    incidents: list[Seen] = field(default_factory=list)
    troubled: list[Seen] = field(default_factory=list)
    """Requests that met a rate limit, a server error, a timeout or the budget, with no proof instead."""

    @property
    def introspected(self) -> bool:
        """Whether Dentally told the scopes itself (and both sources, if two, agree)."""
        return self.introspection is not None

    @property
    def introspection(self) -> frozenset[str] | None:
        """The scopes introspection lists, when at least one source answered and no two sources differ."""
        sources = [set(s) for s in (self.oauth_scopes, self.token_info_scopes) if s is not None]
        if not sources or any(s != sources[0] for s in sources):
            return None
        return frozenset(sources[0])


_GRANTING: Final[Mapping[str, frozenset[int]]] = {
    # After authorization an empty body fails strong parameters (400; 422 from a stricter validator), and id 0
    # fails the lookup (404) before the body is read.
    "create": frozenset({400, 422}),
    "update_patch": frozenset({400, 404, 422}),
    "update_put": frozenset({400, 404, 422}),
    "delete": frozenset({404}),
}
_PROBES_OF: Final[Mapping[Scope, tuple[str, ...]]] = {
    "user:read": ("users", "user"),
    "appointment:read": ("read",),
    "appointment:create": ("create",),
    "appointment:update": ("update_patch", "update_put"),
    "appointment:delete": ("delete",),
}


def prove(seen: Mapping[str, Seen]) -> Proof:
    """Decide every required scope from what a check's requests met.

    Args:
        seen: The last answer of each request sent, by probe name (see :data:`dentally.probes.PROBES`).

    Returns:
        The per-scope proofs, introspection as read, and whatever stands in the way of a verdict.
    """
    header = _header_scopes(seen.values())
    info = _token_info_scopes(seen.get("token_info"))
    proof = Proof({}, header.scopes, info, disagreements=list(header.conflicts))
    if header.scopes is not None and info is not None and set(header.scopes) != set(info):
        proof.disagreements.append(
            f"X-OAuth-Scopes ({' '.join(header.scopes)}) and token info ({' '.join(info)}) list different scopes"
        )
    # A refusal shape is only evidence once the key was accepted somewhere: a Dentally that refuses every request
    # alike (a blocked client, say) says nothing about scopes.
    accepted = any(s.kind is Kind.OK for s in seen.values())
    shapes = {s.shape for s in seen.values() if s.probe.role is Role.CONTROL and s.kind is Kind.REFUSED}
    if not accepted:
        shapes = set()
    listed = proof.introspection
    for scope in REQUIRED_SCOPES:
        by_probe = _probe_proof(scope, seen, shapes)
        if listed is not None:
            granted = listed_grants(listed, scope)
            source = "X-OAuth-Scopes" if header.scopes is not None else "token info"
            if info is not None and header.scopes is not None:
                source = "X-OAuth-Scopes and token info"
            status = ScopeStatus.GRANTED if granted else ScopeStatus.MISSING
            clash = _contradiction(scope, seen, granted, by_probe)
            if clash:
                proof.disagreements.append(clash)
                proof.scopes[scope] = ScopeProof(ScopeStatus.UNKNOWN, clash, by_probe.http_status)
                continue
            sentence = f"{source} {'lists' if granted else 'does not list'} it"
            if by_probe.status is status:
                sentence += f"; {by_probe.proof}"
            proof.scopes[scope] = ScopeProof(status, sentence, by_probe.http_status)
        else:
            proof.scopes[scope] = by_probe
    for s in seen.values():
        if s.probe.writes and s.kind is Kind.OK:
            proof.incidents.append(s)
        if s.kind in (Kind.RATE_LIMITED, Kind.TROUBLE, Kind.NOT_SENT) and s.probe.role is not Role.CONTEXT:
            proof.troubled.append(s)
    return proof


@dataclass(frozen=True, slots=True)
class _Header:
    scopes: tuple[str, ...] | None
    conflicts: tuple[str, ...] = ()


def _header_scopes(seen: Iterable[Seen]) -> _Header:
    values: dict[frozenset[str], tuple[str, ...]] = {}
    for s in seen:
        listed = s.response.oauth_scopes if s.response is not None and s.kind is not Kind.REJECTED else None
        if listed is not None:
            values.setdefault(frozenset(listed), listed)
    if not values:
        return _Header(None)
    if len(values) > 1:
        shown = " / ".join(" ".join(v) or "(empty)" for v in values.values())
        return _Header(None, (f"X-OAuth-Scopes differed between answers ({shown})",))
    return _Header(next(iter(values.values())))


def _token_info_scopes(seen: Seen | None) -> tuple[str, ...] | None:
    if seen is None or seen.kind is not Kind.OK or seen.response is None:
        return None
    body = seen.response.body
    scope = body.get("scope") if isinstance(body, Mapping) else None
    # Doorkeeper sends an array; a space-separated string is the OAuth wire format, so accept that too.
    if isinstance(scope, str):
        return tuple(dict.fromkeys(scope.split()))
    if isinstance(scope, list) and all(isinstance(item, str) for item in scope):
        return tuple(dict.fromkeys(scope))
    return None


def _probe_proof(scope: Scope, seen: Mapping[str, Seen], shapes: set[tuple[Any, ...] | None]) -> ScopeProof:
    granted: list[str] = []
    missing: list[str] = []
    unproven: list[str] = []
    last_status: int | None = None
    for name in _PROBES_OF[scope]:
        s = seen.get(name)
        if s is None:
            continue
        last_status = s.status if s.status is not None else last_status
        if s.kind is Kind.REFUSED:
            if s.names_insufficient_scope or s.shape in shapes:
                missing.append(f"{s.shown} refused it" + ("" if s.names_insufficient_scope else " like the controls"))
            else:
                unproven.append(f"{s.shown}, a refusal unlike any control's")
            continue
        if name == "user":
            continue  # GET /v1/user may be ungated: its 200 proves nothing about User Read
        if s.probe.writes:
            verdict = _write_proof(name, s, seen)
            (granted if verdict[0] else unproven).append(verdict[1])
        elif s.kind is Kind.OK:
            granted.append(f"{s.shown}")
        elif s.kind is not Kind.NOT_SENT:
            unproven.append(s.shown)
    label = SCOPE_LABELS[scope]
    if granted and missing:
        return ScopeProof(ScopeStatus.UNKNOWN, f"answers contradict each other: {'; '.join(granted + missing)}")
    if missing:
        return ScopeProof(ScopeStatus.MISSING, "; ".join(missing), last_status)
    if granted:
        return ScopeProof(ScopeStatus.GRANTED, "; ".join(granted), last_status)
    why = "; ".join(unproven) or "no answer"
    return ScopeProof(ScopeStatus.UNKNOWN, f"{label} not proven: {why}", last_status)


def _write_proof(name: str, probe: Seen, seen: Mapping[str, Seen]) -> tuple[bool, str]:
    if probe.kind is Kind.OK:
        return False, f"{probe.shown}: Dentally carried out a probe it should have refused (alert)"
    if probe.status not in _GRANTING[name]:
        return False, probe.shown
    control = seen.get(CONTROL_OF[name])
    if control is None:
        return False, f"{probe.shown}, control not sent"
    if control.kind is not Kind.REFUSED:
        return False, f"{probe.shown}, but control {control.shown} was not refused"
    return True, f"{probe.shown} after control {control.shown}"


def _contradiction(scope: Scope, seen: Mapping[str, Seen], granted: bool, by_probe: ScopeProof) -> str | None:
    """A probe that tells a different story from introspection; any plain 403 counts against a listed scope."""
    label = SCOPE_LABELS[scope]
    if by_probe.status is ScopeStatus.GRANTED and not granted:
        return f"introspection omits {label} but {by_probe.proof}"
    if by_probe.status is ScopeStatus.MISSING and granted:
        return f"introspection lists {label} but {by_probe.proof}"
    if granted:
        refused = [seen[n] for n in _PROBES_OF[scope] if n in seen and seen[n].kind is Kind.REFUSED]
        if refused:
            return f"introspection lists {label} but {refused[0].shown}"
    return None
