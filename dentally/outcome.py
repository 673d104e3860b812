"""What a scope check concluded: the verdict, each scope's status and proof, and the evidence behind them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dentally.client import DentallyUser
from dentally.regions import RegionId

__all__ = [
    "REQUIRED_SCOPES",
    "SCOPE_LABELS",
    "CheckResult",
    "Evidence",
    "Incident",
    "Problem",
    "Scope",
    "ScopeCheck",
    "ScopeStatus",
    "Verdict",
    "listed_grants",
]

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
        "user:read": "user : read",
        "appointment:read": "appointment : read",
        "appointment:create": "appointment : create",
        "appointment:update": "appointment : update",
        "appointment:delete": "appointment : delete",
    }
)
"""The tick-box labels Dentally shows when a key is made."""


class Verdict(StrEnum):
    """The overall answer of a check."""

    VERIFIED = "verified"
    """Every required scope proven granted."""
    MISSING_SCOPES = "missing_scopes"
    """At least one required scope proven missing."""
    INVALID_KEY = "invalid_key"
    COULD_NOT_CHECK = "could_not_check"
    """Dentally or the network got in the way (down, rate limited, timed out): try again later."""
    COULD_NOT_PROVE = "could_not_prove"
    """Dentally answered everything, but its answers prove neither a grant nor a refusal of some scope."""


class ScopeStatus(StrEnum):
    """What a check proved about one scope."""

    GRANTED = "granted"
    MISSING = "missing"
    UNKNOWN = "unknown"
    """Not proven either way."""


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
    UNPROVEN = "unproven"
    """Every answer arrived but some scope is neither proven granted nor proven missing."""
    DISAGREEMENT = "disagreement"
    """Introspection and the probes (or two introspection sources) tell different stories."""


ALERTS: Final = frozenset({Problem.INCIDENT, Problem.DISAGREEMENT})
"""Problems support must hear about at once, whatever the clinic is told."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScopeCheck(_Frozen):
    """The outcome for one required scope."""

    scope: Scope
    status: ScopeStatus
    http_status: int | None = Field(None, description="Status of the probe's last answer; None if none arrived.")
    proof: str | None = Field(None, description="How the status was proven, or why it could not be; for support.")

    @property
    def label(self) -> str:
        """Dentally's tick-box label, e.g. ``"Appointment Read"``."""
        return SCOPE_LABELS[self.scope]


class Incident(_Frozen):
    """A write probe that Dentally answered with a success instead of a refusal; support must hear about it.

    Probes carry no appointment fields and target id 0, so nothing can have been saved; the checker never tries
    to "undo" anything, because that would mean touching a record. The last three fields are kept so results
    stored by earlier versions still load.
    """

    method: str
    path: str
    http_status: int
    appointment_id: int | str | None = Field(None, description="Id of an appointment an earlier version created.")
    cleanup_status: int | None = Field(None, description="Earlier versions: status of the DELETE that undid it.")
    cleaned_up: bool = Field(False, description="Earlier versions: whether that appointment was deleted again.")


class Evidence(_Frozen):
    """One request of a check as support needs to see it: never the key, never a clinic record."""

    name: str = Field(description="The probe's name, e.g. ``update_patch`` or ``control_delete``.")
    role: str = Field(description="introspection, probe, control or context.")
    method: str
    path: str
    region: RegionId | None = None
    status: int | None = Field(None, description="HTTP status; None when no answer arrived.")
    www_authenticate: str = ""
    content_type: str = ""
    excerpt: str = Field("", description="The first ~300 characters of an error answer's body; empty for 2xx.")
    note: str = Field("", description="Why no answer arrived (timeout, network), or that it was not sent.")


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
    token_info_scopes: tuple[str, ...] | None = Field(
        None, description="The scope list GET /oauth/token/info gave, if it answered with one."
    )
    evidence: tuple[Evidence, ...] = Field((), description="Every request sent, with what came back (no key).")
    checked_at: datetime

    @field_validator("scopes")
    @classmethod
    def _every_required_scope_in_order(cls, value: tuple[ScopeCheck, ...]) -> tuple[ScopeCheck, ...]:
        if tuple(check.scope for check in value) != REQUIRED_SCOPES:
            raise ValueError(f"scopes must list {', '.join(REQUIRED_SCOPES)} in that order")
        return value

    @property
    def alerts_support(self) -> bool:
        """Whether support must be alerted at once (a probe was carried out, or the sources disagree)."""
        return self.problem in ALERTS

    @property
    def has_incident(self) -> bool:
        """Whether Dentally carried out a write probe instead of refusing it (support must be alerted)."""
        return self.incident is not None

    @property
    def missing_scopes(self) -> tuple[Scope, ...]:
        """Scopes the key definitely lacks."""
        return tuple(c.scope for c in self.scopes if c.status is ScopeStatus.MISSING)

    @property
    def unknown_scopes(self) -> tuple[Scope, ...]:
        """Scopes the check could not prove either way."""
        return tuple(c.scope for c in self.scopes if c.status is ScopeStatus.UNKNOWN)

    def status_of(self, scope: Scope) -> ScopeStatus:
        """The status of one required scope."""
        return next(c.status for c in self.scopes if c.scope == scope)


def listed_grants(listed: tuple[str, ...] | frozenset[str], scope: Scope) -> bool:
    """Whether a scope list (introspection) grants ``scope``; a bare resource (``appointment``) grants every action."""
    return scope in listed or scope.split(":", 1)[0] in listed
