"""How the sandbox refuses a Web API call: WebApiRefusal, worded the way Slack words it."""

from __future__ import annotations

from typing import Any

from bot.fakes.slack.records import JSON


class WebApiRefusal(Exception):
    """A refusal the way Slack words it: ``{"ok": false, "error": code, ...extra}``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

    def body(self) -> JSON:
        """The JSON answer."""
        return {"ok": False, "error": self.error, **self.extra}


def invalid_blocks(errors: list[str]) -> WebApiRefusal:
    """The refusal of a message whose blocks break Slack's rules, each problem listed in ``response_metadata``."""
    messages = [f"[ERROR] {e}" for e in errors]
    return WebApiRefusal("invalid_blocks", errors=errors, response_metadata={"messages": messages})


def invalid_view(errors: list[str]) -> WebApiRefusal:
    """The refusal of a bad view, each problem listed in ``response_metadata``."""
    # views.* refuse a bad view with invalid_arguments (not invalid_blocks), detailing it in response_metadata.
    messages = [f"[ERROR] {e}" for e in errors]
    return WebApiRefusal("invalid_arguments", errors=errors, response_metadata={"messages": messages})
