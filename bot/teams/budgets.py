"""What a Bot Connector call spends (its conversation's windows, its tenant's) and which answers are retried."""

from __future__ import annotations

import contextlib

import httpx

from bot.core.metrics import Metrics
from bot.core.outbound import Budget, Outbound, Pauses, Retry, jittered
from bot.teams.activities import Place
from bot.teams.limits import PER_CONVERSATION, PER_TENANT, RETRY_STATUSES


def teams_budgets(place: Place) -> list[tuple[str, Budget]]:
    """A call's budgets: its conversation's three windows (the first is what a 429 pauses), then its tenant's."""
    budgets: list[tuple[str, Budget]] = [
        (f"conversation:{place.channel}:{i}", w) for i, w in enumerate(PER_CONVERSATION)
    ]
    budgets.append((f"tenant:{place.tenant or 'unknown'}", PER_TENANT))
    return budgets


def teams_retry(exc: BaseException, attempt: int) -> Retry | None:
    """412, 429, 502 and 504 are retried with jittered back-off; a 429's ``Retry-After`` is honoured when longer."""
    if not isinstance(exc, httpx.HTTPStatusError):
        return None
    status = exc.response.status_code
    if status not in RETRY_STATUSES:
        return None
    seconds = jittered(attempt)
    if status == 429:
        with contextlib.suppress(ValueError):  # no header, or a date: the back-off alone
            seconds = max(seconds, float(exc.response.headers.get("Retry-After", "")))
    return Retry(seconds, rate_limited=status == 429)


def teams_outbound(
    metrics: Metrics, pauses: Pauses | None = None, share: float = 1.0, enabled: bool = True
) -> Outbound:
    """The scheduler of every Bot Connector call this process makes."""
    return Outbound("teams", metrics, teams_retry, pauses, share=share, enabled=enabled)
