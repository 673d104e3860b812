"""Slack's Web API rate limits, written down once: per method per workspace by tier, and chat.postMessage's own.

Slack counts each method per app per workspace; every clinic channel is in Aldense's one workspace, so every
clinic shares these budgets. The burst sizes are our reading of "short bursts allowed": Slack publishes no number.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from bot.core.limits import Limit

_RATE_LIMITS = "docs.slack.dev/apis/web-api/rate-limits (reference/slack-platform.md §6)"
_ISSUE = "issue 16"
_BURST = "burst is our assumption (Slack: 'occasional bursts')"

TIER_1 = Limit(count=1, seconds=60.0, burst=1, source=f"Tier 1: 1+ per minute; {_RATE_LIMITS}")
TIER_2 = Limit(count=20, seconds=60.0, burst=5, source=f"Tier 2: 20+ per minute; {_RATE_LIMITS}; {_BURST}")
TIER_3 = Limit(count=50, seconds=60.0, burst=10, source=f"Tier 3: 50+ per minute; {_RATE_LIMITS}; {_ISSUE}; {_BURST}")
TIER_4 = Limit(count=100, seconds=60.0, burst=20, source=f"Tier 4: 100+ per minute; {_RATE_LIMITS}; {_ISSUE}; {_BURST}")

# Each method's tier as its page on docs.slack.dev/reference/methods states it. "Special" methods with no
# published number (auth.test, chat.getPermalink) are given Tier 4, the most generous numbered tier.
SLACK_METHOD_LIMITS: Mapping[str, Limit] = MappingProxyType(
    {
        "auth.test": TIER_4,
        "chat.delete": TIER_3,
        "chat.getPermalink": TIER_4,
        "chat.postEphemeral": TIER_4,
        "chat.update": TIER_3,
        "conversations.history": TIER_3,
        "conversations.info": TIER_3,
        "conversations.join": TIER_3,
        "conversations.members": TIER_4,
        "conversations.replies": TIER_3,
        "files.completeUploadExternal": TIER_4,
        "files.getUploadURLExternal": TIER_4,
        "reactions.add": TIER_3,
        "team.info": TIER_3,
        "users.info": TIER_4,
        "views.open": TIER_4,
        "views.publish": TIER_4,
        "views.push": TIER_4,
        "views.update": TIER_4,
    }
)

# chat.postMessage is its own tier: about one message a second to one channel, and "several hundred a minute"
# to the whole workspace (we take 300), both with short bursts.
POST_PER_CHANNEL = Limit(
    count=1,
    seconds=1.0,
    burst=3,
    source=f"chat.postMessage: ~1 per second per channel; {_RATE_LIMITS}; {_ISSUE}; {_BURST}",
)
POST_PER_WORKSPACE = Limit(
    count=300,
    seconds=60.0,
    burst=30,
    source=f"chat.postMessage: several hundred per minute per workspace (300 taken); {_RATE_LIMITS}; {_BURST}",
)
POST_MESSAGE = "chat.postMessage"

# A method not listed above is treated as Tier 3: most of Slack's write and read methods are Tier 3, and guessing
# too generous a budget would let the scheduler send into 429s.
DEFAULT_LIMIT = TIER_3


def slack_limit(method: str) -> Limit:
    """The per-workspace limit of ``method`` (chat.postMessage's workspace limit; Tier 3 when unknown)."""
    if method == POST_MESSAGE:
        return POST_PER_WORKSPACE
    return SLACK_METHOD_LIMITS.get(method, DEFAULT_LIMIT)
