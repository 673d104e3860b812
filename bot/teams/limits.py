"""The Bot Framework connector's rate limits for a bot, written down once: per conversation and per tenant.

Each window is a token bucket holding its whole count (a bucket admits at most ``burst + count`` in any one
window, so the three together come close to the published sliding windows without needing a call log).
"""

from __future__ import annotations

from bot.core.limits import Limit

_SOURCE = "learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit; issue 16"

# Per bot per conversation: about seven operations a second, in three windows.
PER_CONVERSATION: tuple[Limit, ...] = (
    Limit(count=8, seconds=2.0, burst=8, source=f"per conversation: 8 per 2 s; {_SOURCE}"),
    Limit(count=60, seconds=30.0, burst=60, source=f"per conversation: 60 per 30 s; {_SOURCE}"),
    Limit(count=1800, seconds=3600.0, burst=1800, source=f"per conversation: 1,800 per hour; {_SOURCE}"),
)
# Per app per tenant: every clinic's conversation with Aldense's bot counts here.
PER_TENANT = Limit(count=50, seconds=1.0, burst=50, source=f"per app per tenant: 50 per second; {_SOURCE}")

# Statuses the connector answers that are to be retried with jittered back-off (429 carries Retry-After).
RETRY_STATUSES = frozenset({412, 429, 502, 504})
