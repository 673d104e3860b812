"""The parameters of one Web API call, read alike whether they came as a query string, a form or JSON."""

from __future__ import annotations

import json
from typing import Any

from bot.fakes.slack.errors import WebApiRefusal
from bot.fakes.slack.records import JSON


class Params:
    """The parameters of one call, however they were sent (query, form or JSON)."""

    def __init__(self, raw: JSON, warnings: list[str]) -> None:
        self.raw = raw
        self.warnings = warnings

    def text(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(value)

    def required(self, name: str, error: str) -> str:
        value = self.text(name)
        if value is None:
            raise WebApiRefusal(error)
        return value

    def decoded(self, name: str, error: str) -> Any:
        """A JSON-valued parameter: already structured in a JSON body, a JSON string in a form."""
        value = self.raw.get(name)
        if isinstance(value, str) and value:
            try:
                return json.loads(value)
            except ValueError:
                raise WebApiRefusal(error) from None
        return value

    def flag(self, name: str) -> bool:
        value = self.raw.get(name)
        return value is True or (isinstance(value, str) and value.lower() in ("1", "true"))
