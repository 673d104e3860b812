"""Slack's rate limits as the stand-in enforces them: per method per workspace, and chat.postMessage per channel.

Every clinic channel is in Aldense's one workspace, so the workspace is a single key here. A call over a limit is
answered the way Slack answers it: HTTP 429, ``Retry-After`` in whole seconds, ``{"ok": false, "error":
"ratelimited"}``. A refused call spends no tokens.
"""

from __future__ import annotations

from collections.abc import Hashable

from bot.core.limits import Buckets, Limit, retry_after
from bot.fakes.slack.records import JSON
from bot.slack.limits import POST_MESSAGE, POST_PER_CHANNEL, slack_limit


class SlackRateLimits:
    """Token buckets for one workspace; :meth:`check` takes a call's tokens or says how long to wait."""

    def __init__(self, *, enabled: bool = False) -> None:
        self.enabled = enabled
        self._buckets = Buckets()

    def reset(self) -> None:
        """Refill every bucket (as if nothing had been called for a long while)."""
        self._buckets.clear()

    def check(self, method: str, channel: str | None, now: float) -> float:
        """Take the tokens a call of ``method`` (to ``channel``) needs at ``now``: 0.0, or seconds until allowed."""
        if not self.enabled:
            return 0.0
        keyed: list[tuple[Hashable, Limit]] = [(("method", method), slack_limit(method))]
        if method == POST_MESSAGE and channel:
            keyed.append((("channel", channel), POST_PER_CHANNEL))
        return self._buckets.take_all(keyed, now)


def ratelimited(wait: float) -> tuple[int, JSON, dict[str, str]]:
    """Slack's answer to a call over its limit: status, body and headers."""
    return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after(wait))}
