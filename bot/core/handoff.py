"""Optional hand-off of each verified key to Aldense's own service: a signed POST, retried with backoff.

The receiver must be a public https address. The name is resolved at every send and every address it resolves to
must be public; the request then goes to the address that was checked (the TLS name stays the host's), so a
name that later resolves elsewhere (DNS rebinding) cannot turn the hand-off towards an internal service.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

SIGNATURE_HEADER = "X-Aldense-Signature"
TIMESTAMP_HEADER = "X-Aldense-Timestamp"
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
MIN_HANDOFF_SECRET_BYTES = 32


def private_address(host: str) -> str | None:
    """What kind of non-public address ``host`` is (``loopback``, ``private``, ``link-local``, ...), else None.

    A name other than ``localhost`` is None here: it is checked after resolution, at each send.
    """
    if host.strip("[]").lower() in {"localhost", "localhost.localdomain"}:
        return "loopback"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    for kind, flagged in (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("private", address.is_private),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
    ):
        if flagged:
            return kind
    return None


class RefusedDestination(Exception):
    """The hand-off host resolved to an address keys must never be sent to."""


@dataclass(frozen=True, slots=True)
class HandoffResult:
    """Whether the receiver took the key, after how many attempts, and why not."""

    delivered: bool
    attempts: int
    detail: str
    retryable: bool = False
    """Whether a later try may succeed (the receiver was unreachable or answered 429/5xx every time)."""


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
        allow_private: bool = False,
    ) -> None:
        self._http = http
        self._url = url
        self._allow_private = allow_private
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
                response = await self._post(body, headers)
            except RefusedDestination as exc:
                return HandoffResult(False, attempt, str(exc))
            except (httpx.HTTPError, OSError) as exc:
                detail = f"{type(exc).__name__} reaching the hand-off URL"
            else:
                if 200 <= response.status_code < 300:
                    return HandoffResult(True, attempt, f"HTTP {response.status_code}")
                detail = f"HTTP {response.status_code}"
                if response.status_code not in _RETRY_STATUSES:
                    return HandoffResult(False, attempt, detail)
            if attempt < self._attempts:
                await self._sleep(self._first_delay * 2 ** (attempt - 1))
        return HandoffResult(False, self._attempts, detail, retryable=True)

    async def _post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        if self._allow_private:
            return await self._http.post(self._url, content=body, headers=headers, timeout=10)
        url = httpx.URL(self._url)
        address = await _public_address(url.host, url.port or 443)
        pinned = url.copy_with(host=address)
        return await self._http.post(
            pinned,
            content=body,
            headers={**headers, "Host": url.netloc.decode()},
            timeout=10,
            extensions={"sni_hostname": url.host},
        )


async def _public_address(host: str, port: int) -> str:
    """The first address ``host`` resolves to, once every address it resolves to is known to be public.

    Raises:
        RefusedDestination: Any resolved address is loopback, private, link-local or otherwise not public.
        OSError: The name does not resolve.
    """
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        if kind := private_address(address):
            raise RefusedDestination(f"the hand-off host resolves to a {kind} address; nothing was sent")
    if not addresses:
        raise OSError(f"{host} does not resolve")
    return addresses[0]
