"""Shared fixtures: a real Redis (from REDIS_URL, the local default, or a redis-server started on a free port).

Every test also runs behind a network guard: a connection to anything but loopback fails the test at once.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

_LOCAL_REDIS = "redis://127.0.0.1:6379"
# Tests use their own database number and flush it, so they never touch data in database 0.
_TEST_DB = 11


class NetworkGuardError(AssertionError):
    """A test tried to reach an address that is not on this machine."""


def is_loopback(address: object) -> bool:
    """Whether a socket address is on this machine (a loopback IP, ``localhost``, or a Unix socket path)."""
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths and abstract sockets never leave the machine
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not is_loopback(address):
        raise NetworkGuardError(f"a test tried to reach {address!r}: tests talk to loopback only")
    _real_connect(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not is_loopback(address):
        raise NetworkGuardError(f"a test tried to reach {address!r}: tests talk to loopback only")
    return _real_connect_ex(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True, scope="session")
def loopback_only() -> Iterator[None]:
    """Fail any test that connects to a non-loopback address (asyncio, httpx, aiohttp and redis all connect here)."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.exceptions.RedisError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    """Base URL of a Redis server the tests may use; skips (fails under CI=true) when there is none."""
    configured = os.environ.get("REDIS_URL")
    if configured and _answers(configured):
        yield configured.rsplit("/", 1)[0] if configured.count("/") > 2 else configured
        return
    binary = shutil.which("redis-server")
    # A private server per test session: runs on one machine (several checkouts, CI) never flush each other's data.
    if binary is None and _answers(_LOCAL_REDIS):
        yield _LOCAL_REDIS
        return
    if binary is None:
        reason = "no Redis: REDIS_URL unset or not answering, nothing on 127.0.0.1:6379, no redis-server on PATH"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while not _answers(url):
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"redis-server on port {port} did not start")
        time.sleep(0.05)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def redis_url(redis_server_url: str) -> Iterator[str]:
    """URL of an empty Redis database for one test."""
    url = f"{redis_server_url}/{_TEST_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()
