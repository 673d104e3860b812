"""The lines the bot's own log handler writes (what a platform ships), captured in one ``LOG_FORMAT``."""

from __future__ import annotations

import io
import json
from typing import Any

from bot.logs import LogFormat, build_handler


class ShippedLogs:
    """What the bot's own log handler writes (the lines a platform ships), in one format."""

    def __init__(self, log_format: LogFormat) -> None:
        self.format = log_format
        self._stream = io.StringIO()
        self.handler = build_handler(log_format, self._stream)

    def text(self) -> str:
        """Everything written so far."""
        return self._stream.getvalue()

    def records(self) -> list[dict[str, Any]]:
        """JSON format: every line, parsed (a line that is not one JSON object fails the test)."""
        assert self.format == "json"
        parsed = [json.loads(line) for line in self.text().splitlines()]
        for line in parsed:
            assert isinstance(line, dict), line
            assert {"time", "level", "logger", "message"} <= line.keys(), line
        return parsed
