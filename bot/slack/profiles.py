"""Slack users' profiles (``users.info``) asked once and kept a while: a team never changes, a time zone rarely."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

# How long a profile is kept before it is asked again (a changed time zone shows within this).
PROFILE_SECONDS = 6 * 3600.0
# At most this many profiles are kept; the oldest go first.
PROFILES_KEPT = 10_000


class Profiles:
    """``users.info`` with a per-process cache, so a Tier 4 call is spent once per person per few hours."""

    def __init__(
        self, client: AsyncWebClient, ttl: float = PROFILE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._kept: dict[str, tuple[float, dict[str, Any]]] = {}

    async def get(self, user: str) -> dict[str, Any]:
        """The ``user`` object ``users.info`` answers (``{}`` when it has none).

        Raises:
            SlackApiError: Slack refused; nothing is kept, so the next call asks again.
        """
        now = self._clock()
        kept = self._kept.get(user)
        if kept is not None and now - kept[0] < self._ttl:
            return kept[1]
        profile = (await self._client.users_info(user=user)).get("user") or {}
        if len(self._kept) >= PROFILES_KEPT:
            self._kept.pop(next(iter(self._kept)))
        self._kept.pop(user, None)
        self._kept[user] = (now, dict(profile))
        return self._kept[user][1]
