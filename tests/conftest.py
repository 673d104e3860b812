"""Shared fixtures: a real Redis (from REDIS_URL, the local default, or a redis-server started on a free port)."""

from __future__ import annotations

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
