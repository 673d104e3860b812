"""Optional hand-off of each verified key to Aldense's own service: a signed POST, retried with backoff."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

SIGNATURE_HEADER = "X-Aldense-Signature"
TIMESTAMP_HEADER = "X-Aldense-Timestamp"
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class HandoffResult:
    """Whether the receiver took the key, after how many attempts, and why not."""

    delivered: bool
    attempts: int
    detail: str


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``v1=<hex>``: HMAC-SHA256 over ``v1:{timestamp}:{body}`` (the receiver recomputes and compares)."""
    digest = hmac.new(secret.encode(), f"v1:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


class Handoff:
    """POSTs verified keys to ``ALDENSE_HANDOFF_URL``; the key travels only in the request body."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        secret: SecretStr,
        attempts: int = 4,
        first_delay: float = 0.5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._http = http
        self._url = url
        self._secret = secret
        self._attempts = attempts
        self._first_delay = first_delay
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"Handoff(url={self._url!r})"

    async def deliver(self, facts: dict[str, Any], key: SecretStr) -> HandoffResult:
        """Send ``facts`` plus the key; retry connection failures, 429 and 5xx with exponential backoff."""
        body = json.dumps({**facts, "key": key.get_secret_value()}, separators=(",", ":")).encode()
        detail = "not attempted"
        for attempt in range(1, self._attempts + 1):
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(self._secret.get_secret_value(), timestamp, body),
            }
            try:
                response = await self._http.post(self._url, content=body, headers=headers, timeout=10)
            except httpx.HTTPError as exc:
                detail = f"{type(exc).__name__} reaching the hand-off URL"
            else:
                if 200 <= response.status_code < 300:
                    return HandoffResult(True, attempt, f"HTTP {response.status_code}")
                detail = f"HTTP {response.status_code}"
                if response.status_code not in _RETRY_STATUSES:
                    return HandoffResult(False, attempt, detail)
            if attempt < self._attempts:
                await self._sleep(self._first_delay * 2 ** (attempt - 1))
        return HandoffResult(False, self._attempts, detail)
