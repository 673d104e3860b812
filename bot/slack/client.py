"""The Slack Web API client: one keep-alive session, retries for dropped connections, 429 and 5xx, failures counted."""

from __future__ import annotations

from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.core.metrics import Metrics
from bot.logs import library_logger


class CountingWebClient(AsyncWebClient):
    """An ``AsyncWebClient`` that counts failed calls by method and error code."""

    def __init__(self, *args: Any, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._metrics = metrics

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        try:
            return await super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            data = getattr(getattr(exc, "response", None), "data", None)
            error = str(data.get("error")) if isinstance(data, dict) else "unknown_error"
            self._metrics.slack_errors.labels(api_method, error).inc()
            raise


def slack_client(token: str, api_url: str, metrics: Metrics) -> AsyncWebClient:
    """A Web API client with retries for dropped connections, 429 (honouring Retry-After) and 5xx.

    Call it inside the event loop; the caller closes ``client.session``. One keep-alive session serves every call:
    without it slack_sdk opens (and closes) a session and a connection per call, about a sixth of a click's CPU.
    """
    return CountingWebClient(
        metrics=metrics,
        token=token,
        logger=library_logger("slack_sdk"),
        base_url=api_url if api_url.endswith("/") else api_url + "/",
        timeout=10,
        session=aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)),
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )
