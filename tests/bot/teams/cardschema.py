"""A strict Adaptive Card check built on the Teams SDK's card models (schema 1.5, the version the SDK targets).

The SDK's models accept unknown fields (``extra="allow"``) and type ``body`` as a list of the base element, so a
plain ``model_validate`` proves little. This walks a card: every element and action is validated as the concrete
SDK class its ``type`` names, and any field that class does not declare is an error.
"""

from __future__ import annotations

import inspect
from typing import Any, get_args

from microsoft_teams.cards import core
from pydantic import BaseModel, ValidationError

SCHEMA_VERSION = "1.5"
# Fields whose content is free data sent back to the bot, not card schema.
_FREE_DATA = {"data"}
_NESTED_LISTS = ("body", "actions", "items", "columns", "choices", "facts", "inlines")
_NESTED_OBJECTS = ("selectAction", "card", "fallback", "inlineAction")


def _classes_by_type() -> dict[str, type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for _, cls in inspect.getmembers(core, inspect.isclass):
        if not issubclass(cls, BaseModel) or "type" not in cls.model_fields:
            continue
        for literal in get_args(cls.model_fields["type"].annotation):
            if isinstance(literal, str):
                found.setdefault(literal, cls)
    return found


CLASSES = _classes_by_type()
UNTYPED = {"choices": core.Choice, "facts": core.Fact}


def problems(card: dict[str, Any]) -> list[str]:
    """Everything wrong with ``card``; empty when it is a valid Adaptive Card 1.5 as the SDK models it."""
    found: list[str] = []
    if card.get("type") != "AdaptiveCard":
        found.append("the root is not an AdaptiveCard")
    if card.get("version") != SCHEMA_VERSION:
        found.append(f"version is {card.get('version')!r}, not {SCHEMA_VERSION}")
    _check(card, "card", found, None)
    return found


def _check(node: dict[str, Any], where: str, found: list[str], cls: type[BaseModel] | None) -> None:
    kind = node.get("type")
    cls = cls or (CLASSES.get(kind) if isinstance(kind, str) else None)
    if cls is None:
        found.append(f"{where}: unknown element type {kind!r}")
        return
    try:
        model = cls.model_validate(node)
    except ValidationError as exc:
        found.append(f"{where} ({kind}): {exc.errors()[0]['msg']}")
        return
    unknown = sorted(set(model.model_extra or {}))
    if unknown:
        found.append(f"{where} ({kind or cls.__name__}): fields the schema does not have: {unknown}")
    for name in _NESTED_LISTS:
        for index, child in enumerate(node.get(name) or []):
            if isinstance(child, dict) and name not in _FREE_DATA:
                _check(child, f"{where}.{name}[{index}]", found, UNTYPED.get(name))
    for name in _NESTED_OBJECTS:
        child = node.get(name)
        if isinstance(child, dict):
            _check(child, f"{where}.{name}", found, None)
