"""The requests a scope check may send: read-only introspection and reads, write probes and their controls.

None of them can change or reveal clinic data, whatever Dentally's callback order or validation:

* Writes carry an empty JSON object, never an ``appointment`` (or ``patient``) object. Rails' strong parameters
  refuse that with 400 inside the action, after every ``before_action``, so nothing can be saved.
* Update and delete target id 0 (Rails ids start at 1), never an id an answer returned.
* The appointment read asks for one minute in the year 2000, a window certain to be empty; the controls use
  patient 0, never a collection that could list patients; ``/v1/users`` is read for its status only.
* Controls have the same shape as the appointment probes on patients, a resource the guide tells admins not to
  grant: when a control is refused, this Dentally checks scopes before it looks records up or reads the body on
  that route shape, and only then does a non-refusal of the matching probe prove a scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from dentally.client import TOKEN_INFO_PATH

__all__ = [
    "CONTROL_OF",
    "EMPTY_WINDOW",
    "PROBES",
    "READS",
    "WRITES",
    "Probe",
    "Role",
]

EMPTY_WINDOW: Final[Mapping[str, str | int]] = MappingProxyType(
    {"after": "2000-01-01T00:00:00Z", "before": "2000-01-01T00:01:00Z", "per_page": 1}
)
"""A minute long before any clinic used Dentally: the index answers with no rows, whatever happens today."""


class Role(StrEnum):
    """What a request is for."""

    INTROSPECTION = "introspection"
    PROBE = "probe"
    CONTROL = "control"
    CONTEXT = "context"
    """Identity and clinic name; never part of the verdict."""


@dataclass(frozen=True, slots=True)
class Probe:
    """One request of a check."""

    name: str
    role: Role
    method: str
    path: str
    params: Mapping[str, str | int] | None = None
    body: Any = None

    @property
    def writes(self) -> bool:
        """Whether the method could change data if Dentally carried it out."""
        return self.method != "GET"

    @property
    def shown(self) -> str:
        """``METHOD /path`` plus ``{}`` for a body, as support reads it."""
        return f"{self.method} {self.path}" + (" {}" if self.body is not None else "")


_ZERO_APPOINTMENT: Final = "/v1/appointments/0"
_ZERO_PATIENT: Final = "/v1/patients/0"

PROBES: Final[Mapping[str, Probe]] = MappingProxyType(
    {
        probe.name: probe
        for probe in (
            Probe("user", Role.CONTEXT, "GET", "/v1/user"),
            Probe("token_info", Role.INTROSPECTION, "GET", TOKEN_INFO_PATH),
            Probe("users", Role.PROBE, "GET", "/v1/users", params={"per_page": 1}),
            Probe("read", Role.PROBE, "GET", "/v1/appointments", params=EMPTY_WINDOW),
            Probe("practice", Role.CONTEXT, "GET", "/v1/practice"),
            Probe("sites", Role.CONTEXT, "GET", "/v1/sites", params={"per_page": 100}),
            Probe("create", Role.PROBE, "POST", "/v1/appointments", body={}),
            Probe("update_patch", Role.PROBE, "PATCH", _ZERO_APPOINTMENT, body={}),
            Probe("update_put", Role.PROBE, "PUT", _ZERO_APPOINTMENT, body={}),
            Probe("delete", Role.PROBE, "DELETE", _ZERO_APPOINTMENT),
            Probe("control_create", Role.CONTROL, "POST", "/v1/patients", body={}),
            Probe("control_patch", Role.CONTROL, "PATCH", _ZERO_PATIENT, body={}),
            Probe("control_put", Role.CONTROL, "PUT", _ZERO_PATIENT, body={}),
            Probe("control_delete", Role.CONTROL, "DELETE", _ZERO_PATIENT),
            Probe("control_read", Role.CONTROL, "GET", _ZERO_PATIENT),
        )
    }
)

READS: Final = ("user", "token_info", "users", "read", "practice")
"""The first round: introspection, the read probes and the clinic name; all read-only."""

WRITES: Final = (
    "create",
    "update_patch",
    "update_put",
    "delete",
    "control_create",
    "control_patch",
    "control_put",
    "control_delete",
    "control_read",
)
"""The second round, sent only when introspection did not settle every scope."""

CONTROL_OF: Final[Mapping[str, str]] = MappingProxyType(
    {
        "create": "control_create",
        "update_patch": "control_patch",
        "update_put": "control_put",
        "delete": "control_delete",
    }
)
"""The control of the same route shape as each write probe."""
