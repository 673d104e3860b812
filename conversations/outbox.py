"""The outbox: effects saved with the state change that caused them, until the adapter has carried them out.

A process that dies after saving but before (or while) posting leaves its batch here; whichever replica claims the
conversation from the due queue later carries it out instead.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel, ConfigDict

from conversations import events
from conversations.events import Effect

_EFFECT_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        events.OpenThread,
        events.PostStep,
        events.CloseStep,
        events.ConfirmHelpComing,
        events.OfferTroubles,
        events.AnswerTrouble,
        events.ReportTrouble,
        events.Report,
        events.RunKeyCheck,
        events.Remind,
        events.TellReset,
        events.EndGiverRun,
        events.TellHandOver,
    )
}
_ENUM_FIELDS = {"outcome": events.ClosedAs, "milestone": events.Milestone}


class OutboxBatch(BaseModel):
    """The effects of one transition, waiting to be carried out."""

    # Unknown fields are ignored: a newer release may add some (see ``conversations.schema``).
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    at: float
    # Kept as written (fields this release does not know included) until carried out; see ``load_effect``.
    effects: tuple[dict[str, Any], ...]

    @classmethod
    def of(cls, batch_id: str, at: float, effects: tuple[Effect, ...]) -> OutboxBatch:
        """Pack ``effects`` for storage."""
        return cls(id=batch_id, at=at, effects=tuple(dump_effect(effect) for effect in effects))

    def unpack(self) -> tuple[Effect, ...]:
        """The effects, as the machine made them."""
        return tuple(load_effect(data) for data in self.effects)


def dump_effect(effect: Effect) -> dict[str, Any]:
    """An effect as plain JSON data: its type name and fields."""
    return {"type": type(effect).__name__, **dataclasses.asdict(effect)}


def load_effect(data: dict[str, Any]) -> Effect:
    """Rebuild an effect written by ``dump_effect``, ignoring fields this release does not know.

    Raises:
        ValueError: The type is unknown or a field this release needs is missing.
    """
    kind = _EFFECT_TYPES.get(str(data.get("type", "")))
    if kind is None:
        raise ValueError(f"unknown effect type {data.get('type')!r}")
    # A newer release may have added fields (with defaults, see conversations.schema); an older one drops them.
    known = {field.name for field in dataclasses.fields(kind)}
    fields = {name: value for name, value in data.items() if name in known}
    for name, enum in _ENUM_FIELDS.items():
        if name in fields and fields[name] is not None:
            fields[name] = enum(fields[name])
    try:
        effect: Effect = kind(**fields)
    except TypeError:
        raise ValueError(f"effect {kind.__name__} lacks a field this release needs") from None
    return effect
