"""Fixtures for the Dentally tests: the sandbox served on loopback, a fake clock, and checkers wired to both."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.serving import serve
from dentally.client import ClientFactory
from dentally.regions import Endpoints
from dentally.sandbox import Sandbox, SandboxKey, sample_keys
from dentally.scopes import ScopeChecker
from tests.quick_stop import QUICK_STOP

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class FakeClock:
    """Time that moves only when told to; its ``sleep`` advances it instead of waiting."""

    def __init__(self, start: datetime) -> None:
        self.current = start
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.current

    def set(self, moment: datetime) -> None:
        self.current = moment

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.current += timedelta(seconds=seconds)
        # Still yield, as a real sleep would, so concurrent tasks get their turn.
        await asyncio.sleep(0)


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any attempt to resolve a host other than loopback, so no test can reach real Dentally."""
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in _LOOPBACK:
            raise OSError(f"tests may not reach the network (tried to resolve {name!r})")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 2, 10, 30, tzinfo=UTC))


@pytest.fixture
def keys() -> dict[str, SandboxKey]:
    return sample_keys()


@pytest.fixture
def sandbox(clock: FakeClock) -> Sandbox:
    return Sandbox(clock=clock.now)


@pytest.fixture
async def sandbox_url(sandbox: Sandbox) -> AsyncIterator[str]:
    async with serve(sandbox, poll_seconds=QUICK_STOP) as url:
        yield url


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def endpoints(sandbox_url: str) -> Endpoints:
    return Endpoints(f"{sandbox_url}/{{region}}")


@pytest.fixture
def make_checker(http: httpx.AsyncClient, endpoints: Endpoints, clock: FakeClock) -> Callable[..., ScopeChecker]:
    """Builds a checker against the sandbox; keyword arguments go to ScopeChecker, ``timeout`` to the clients."""

    def make(*, timeout: float = 15.0, **options: Any) -> ScopeChecker:
        factory = ClientFactory(http, endpoints, timeout=timeout)
        return ScopeChecker(factory, clock=clock.now, sleep=clock.sleep, **options)

    return make


def secret(key: SandboxKey) -> SecretStr:
    return SecretStr(key.key)
