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
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

from conversations.store import Store
from conversations.stores import open_store

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


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """An empty state store: the embedded default (SQLite) and Redis, each in turn."""
    url = f"sqlite:///{tmp_path}/state.db" if request.param == "sqlite" else request.getfixturevalue("redis_url")
    opened = open_store(url)
    yield opened
    await opened.aclose()


@pytest.fixture
def redis_url(redis_server_url: str) -> Iterator[str]:
    """URL of an empty Redis database for one test."""
    url = f"{redis_server_url}/{_TEST_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


# Managed-Redis set-ups, each started once per session when a test first asks for it (see tests/redis_servers.py).
_SENTINEL_PASSWORD = "sentinel-test-password"


@pytest.fixture(scope="session")
def redis_cluster_ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    """Ports of the masters of a real three-master Redis Cluster."""
    from tests import redis_servers

    with redis_servers.cluster(tmp_path_factory.mktemp("redis-cluster")) as ports:
        yield ports


@pytest.fixture
def redis_cluster_url(redis_cluster_ports: list[int]) -> Iterator[str]:
    """``redis+cluster://`` naming one node of an empty cluster (the client finds the others)."""
    _flush_all(redis_cluster_ports)
    yield f"redis+cluster://127.0.0.1:{redis_cluster_ports[1]}"
    _flush_all(redis_cluster_ports)


def _flush_all(ports: list[int], ca: str | None = None) -> None:
    for port in ports:
        with redis.Redis(host="127.0.0.1", port=port, ssl=ca is not None, ssl_ca_certs=ca) as client:
            client.flushall()


@pytest.fixture(scope="session")
def rediss_cluster_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[int], str]]:
    """(master ports, CA file) of a real three-master Redis Cluster that speaks only TLS, bus included."""
    from tests import redis_servers

    folder = tmp_path_factory.mktemp("rediss-cluster")
    with redis_servers.cluster(folder, tls=True) as ports:
        yield ports, str(folder / "ca.pem")


@pytest.fixture
def rediss_cluster_url(rediss_cluster_server: tuple[list[int], str]) -> Iterator[str]:
    """``rediss+cluster://`` naming one node of an empty TLS cluster, trusting the test's CA."""
    ports, ca = rediss_cluster_server
    _flush_all(ports, ca)
    yield f"rediss+cluster://127.0.0.1:{ports[2]}?ssl_ca_certs={ca}"
    _flush_all(ports, ca)


@pytest.fixture(scope="session")
def redis_sentinel_ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """(master port, Sentinel port) of a real master with a password, watched by a real Sentinel."""
    from tests import redis_servers

    with redis_servers.sentinel(tmp_path_factory.mktemp("redis-sentinel"), _SENTINEL_PASSWORD) as ports:
        yield ports


@pytest.fixture
def redis_sentinel_url(redis_sentinel_ports: tuple[int, int]) -> Iterator[str]:
    """``redis+sentinel://`` for an empty test database of the Sentinel-watched master."""
    master, watcher = redis_sentinel_ports
    with redis.Redis(host="127.0.0.1", port=master, password=_SENTINEL_PASSWORD, db=_TEST_DB) as client:
        client.flushdb()
        yield f"redis+sentinel://:{_SENTINEL_PASSWORD}@127.0.0.1:{watcher}/aldense/{_TEST_DB}"
        client.flushdb()


@pytest.fixture(scope="session")
def rediss_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """(port, CA file) of a TLS-only Redis whose certificate the test made (for 127.0.0.1 only)."""
    from tests import redis_servers

    with redis_servers.tls_server(tmp_path_factory.mktemp("redis-tls")) as (port, ca):
        yield port, str(ca)


@pytest.fixture
def rediss_url(rediss_server: tuple[int, str]) -> Iterator[str]:
    """``rediss://`` for an empty test database, trusting the test's CA."""
    port, ca = rediss_server
    with redis.Redis(host="127.0.0.1", port=port, db=_TEST_DB, ssl=True, ssl_ca_certs=ca) as client:
        client.flushdb()
        yield f"rediss://127.0.0.1:{port}/{_TEST_DB}?ssl_ca_certs={ca}"
        client.flushdb()
