"""Adaptive Card checks: Microsoft's official 1.5 schema first, and the Teams SDK's card models as a second opinion.

The official schema (``schemas/adaptive-card.schema.1.5.0.json``) is what a card must satisfy; it forbids any field
it does not name. Teams adds one documented host extension that our cards use, an Image's
``"msTeams": {"allowExpand": true}`` (the stage view); it is checked for exactly that form and then set aside
before the schema sees the card.

The SDK's models accept unknown fields (``extra="allow"``) and type ``body`` as a list of the base element, so a
plain ``model_validate`` proves little. The second check walks a card: every element and action is validated as the
concrete SDK class its ``type`` names, and any field that class does not declare is an error.
"""

from __future__ import annotations

import copy
import inspect
import json
from functools import cache
from pathlib import Path
from typing import Any, get_args

import jsonschema
from microsoft_teams.cards import core
from pydantic import BaseModel, ValidationError

SCHEMA_VERSION = "1.5"
SCHEMA_FILE = Path(__file__).with_name("schemas") / "adaptive-card.schema.1.5.0.json"
# Teams' host extension on an Image, as Microsoft documents it (cards-format: "Image stage view").
TEAMS_IMAGE_EXTENSION = "msTeams"
# Fields whose content is free data sent back to the bot, not card schema.
_FREE_DATA = {"data"}
_NESTED_LISTS = ("body", "actions", "items", "columns", "choices", "facts", "inlines")
_NESTED_OBJECTS = ("selectAction", "card", "fallback", "inlineAction")


@cache
def official_validator() -> jsonschema.protocols.Validator:
    """A validator for the official Adaptive Card 1.5 schema (draft-06; it has no references to other files)."""
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    # The root only wraps the AdaptiveCard definition in anyOf/allOf; validating against the definition itself
    # reports each wrong field on its own instead of one "not valid under any of the given schemas".
    return cls(_card_schema(schema))


def _card_schema(schema: dict[str, Any]) -> dict[str, Any]:
    wrapper = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**wrapper, "allOf": [{"$ref": "#/definitions/AdaptiveCard"}]}


def problems(card: dict[str, Any]) -> list[str]:
    """Everything wrong with ``card``: against the official schema, then against the SDK's models."""
    return official_problems(card) + sdk_problems(card)


def official_problems(card: dict[str, Any]) -> list[str]:
    """What the official Adaptive Card 1.5 schema (plus Teams' documented Image extension) refuses in ``card``."""
    found: list[str] = []
    if card.get("version") != SCHEMA_VERSION:
        found.append(f"version is {card.get('version')!r}, not {SCHEMA_VERSION}")
    bare = copy.deepcopy(card)
    _set_aside_teams_extensions(bare, "card", found)
    for error in official_validator().iter_errors(bare):
        for leaf in _faults(error):
            where = "/".join(str(part) for part in leaf.absolute_path) or "card"
            found.append(f"{where}: {leaf.message[:300]}")
    return found


def _faults(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """The errors that name the real fault under an ``anyOf`` of element or action kinds.

    Each branch of such an ``anyOf`` is one kind; a branch whose ``type`` does not match is not the element's kind
    and says nothing useful, so only the branches of the element's own kind are followed down.
    """
    if not error.context:
        return [error]
    branches: dict[object, list[jsonschema.ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    own = [subs for subs in branches.values() if not any(list(sub.path) == ["type"] for sub in subs)]
    if not own:
        return [error]
    return [leaf for subs in own for sub in subs for leaf in _faults(sub)]


def _set_aside_teams_extensions(node: Any, where: str, found: list[str]) -> None:
    if isinstance(node, list):
        for index, item in enumerate(node):
            _set_aside_teams_extensions(item, f"{where}[{index}]", found)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "Image" and TEAMS_IMAGE_EXTENSION in node:
        extension = node.pop(TEAMS_IMAGE_EXTENSION)
        if not isinstance(extension, dict) or set(extension) != {"allowExpand"} or extension["allowExpand"] is not True:
            found.append(f"{where}: Teams' Image extension must be {{'allowExpand': true}}, not {extension!r}")
    for name, value in node.items():
        if name not in _FREE_DATA:
            _set_aside_teams_extensions(value, f"{where}.{name}", found)


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


def sdk_problems(card: dict[str, Any]) -> list[str]:
    """Everything wrong with ``card`` as the SDK's models (1.5) see it; Teams' Image extension is allowed."""
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
    unknown = set(model.model_extra or {})
    if kind == "Image":
        unknown.discard(TEAMS_IMAGE_EXTENSION)
    if unknown:
        found.append(f"{where} ({kind or cls.__name__}): fields the schema does not have: {sorted(unknown)}")
    for name in _NESTED_LISTS:
        for index, child in enumerate(node.get(name) or []):
            if isinstance(child, dict) and name not in _FREE_DATA:
                _check(child, f"{where}.{name}[{index}]", found, UNTYPED.get(name))
    for name in _NESTED_OBJECTS:
        child = node.get(name)
        if isinstance(child, dict):
            _check(child, f"{where}.{name}", found, None)
