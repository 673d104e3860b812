"""The Slack Web API client: one keep-alive session, every call through the outbound scheduler, failures counted.

The scheduler spends each method's budget (``bot.slack.limits``) in priority order and retries 429s after their
``Retry-After``; slack_sdk retries dropped connections and 5xx itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.core.metrics import Metrics
from bot.core.outbound import Budget, Outbound, Pauses, Retry
from bot.logs import library_logger
from bot.slack.limits import POST_MESSAGE, POST_PER_CHANNEL, slack_limit

T = TypeVar("T")

# Set while work the scheduler already admitted makes its call: that call spends nothing more.
_admitted: ContextVar[bool] = ContextVar("slack_call_admitted", default=False)


class CountingWebClient(AsyncWebClient):
    """An ``AsyncWebClient`` whose calls wait for their budget and whose failures are counted by method and error."""

    def __init__(self, *args: Any, metrics: Metrics, outbound: Outbound, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._metrics = metrics
        self.outbound = outbound

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        if _admitted.get():
            return await self._counted(api_method, **kwargs)
        budgets = slack_budgets(api_method, _channel(kwargs))
        return await self.outbound.send(api_method, budgets, lambda: self._counted(api_method, **kwargs))

    async def when_admitted(self, api_method: str, channel: str | None, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` (which makes one ``api_method`` call) once the scheduler admits it, not before.

        What ``work`` sends is decided when it runs, so a call that waited its turn (a status card behind clinics)
        sends the state of that moment, never the state of when it was queued; a retried 429 runs it again.
        """

        async def admitted() -> T:
            token = _admitted.set(True)
            try:
                return await work()
            finally:
                _admitted.reset(token)

        return await self.outbound.send(api_method, slack_budgets(api_method, channel), admitted)

    async def _counted(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        try:
            return await super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            data = getattr(getattr(exc, "response", None), "data", None)
            error = str(data.get("error")) if isinstance(data, dict) else "unknown_error"
            self._metrics.slack_errors.labels(api_method, error).inc()
            raise


def slack_budgets(method: str, channel: str | None) -> list[tuple[str, Budget]]:
    """The budgets a call spends: its method's per workspace, and for a post its channel's first (what a 429 pauses)."""
    if method == POST_MESSAGE and channel:
        return [(f"{method}:{channel}", POST_PER_CHANNEL), (method, slack_limit(method))]
    return [(method, slack_limit(method))]


def _channel(kwargs: dict[str, Any]) -> str | None:
    for part in ("json", "data", "params"):
        given = kwargs.get(part)
        if isinstance(given, dict) and isinstance(given.get("channel"), str):
            return str(given["channel"])
    return None


def slack_retry(exc: BaseException, attempt: int) -> Retry | None:
    """A 429 waits its ``Retry-After`` (1 s when Slack gives none); every other failure is not retried here."""
    if not isinstance(exc, SlackApiError):
        return None
    response = getattr(exc, "response", None)
    if getattr(response, "status_code", None) != 429:
        return None
    headers = getattr(response, "headers", None) or {}
    given = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
    if isinstance(given, list):
        given = given[0] if given else None
    try:
        seconds = float(given) if given is not None else 1.0
    except ValueError:
        seconds = 1.0
    return Retry(max(0.0, seconds), rate_limited=True)


def slack_outbound(
    metrics: Metrics, pauses: Pauses | None = None, share: float = 1.0, enabled: bool = True
) -> Outbound:
    """The scheduler of every Slack Web API call this process makes."""
    return Outbound("slack", metrics, slack_retry, pauses, share=share, enabled=enabled)


def slack_client(token: str, api_url: str, metrics: Metrics, outbound: Outbound | None = None) -> AsyncWebClient:
    """A Web API client whose calls go through ``outbound``, with retries for dropped connections and 5xx.

    Call it inside the event loop; the caller closes ``client.session``. One keep-alive session serves every call:
    without it slack_sdk opens (and closes) a session and a connection per call, about a sixth of a click's CPU.
    """
    return CountingWebClient(
        metrics=metrics,
        outbound=outbound or slack_outbound(metrics),
        token=token,
        logger=library_logger("slack_sdk"),
        base_url=api_url if api_url.endswith("/") else api_url + "/",
        timeout=10,
        session=aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)),
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )
