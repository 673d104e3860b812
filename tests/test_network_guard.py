"""The test-wide network guard: loopback is allowed, anything else fails before a packet is sent."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from tests.conftest import NetworkGuardError, is_loopback


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        (("127.0.0.1", 80), True),
        (("127.8.9.10", 80), True),
        (("::1", 80, 0, 0), True),
        (("localhost", 80), True),
        ("/tmp/redis.sock", True),
        (("192.0.2.1", 443), False),  # TEST-NET-1: documentation only, never routed
        (("10.0.0.1", 6379), False),
        (("169.254.169.254", 80), False),
        (("api.dentally.co", 443), False),
    ],
)
def test_only_loopback_addresses_pass(address: object, allowed: bool) -> None:
    assert is_loopback(address) is allowed


def test_a_blocking_connection_elsewhere_fails_before_it_is_made() -> None:
    with socket.socket() as sock, pytest.raises(NetworkGuardError):
        sock.connect(("192.0.2.1", 9))


def _guarded(exc: BaseException) -> bool:
    """Whether the guard stopped it, however a client wrapped the guard's error (a cause, a context, a group)."""
    seen: list[BaseException] = [exc]
    while seen:
        current = seen.pop()
        if isinstance(current, NetworkGuardError):
            return True
        if isinstance(current, BaseExceptionGroup):
            seen.extend(current.exceptions)
        seen.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return False


async def test_asyncio_and_httpx_clients_are_stopped_too() -> None:
    with pytest.raises(BaseException) as opened:  # noqa: PT011 - which wrapper depends on the client
        await asyncio.open_connection("192.0.2.1", 9)
    assert _guarded(opened.value)
    async with httpx.AsyncClient() as client:
        with pytest.raises(BaseException) as got:  # noqa: PT011
            await client.get("http://192.0.2.1:9/")
    assert _guarded(got.value)
