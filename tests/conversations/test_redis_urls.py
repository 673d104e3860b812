"""STATE_URL forms for Redis: TLS certificates are checked, malformed URLs are refused without repeating them."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
import redis
import redis.exceptions

from conversations.store import StoreUnavailable
from conversations.stores import open_store
from conversations.stores.redis_urls import connect

KEY = "aldense:v1:conv:slack:T1:C1:U1"


async def test_tls_refuses_a_server_whose_certificate_it_cannot_trust(rediss_server: tuple[int, str]) -> None:
    port, ca = rediss_server
    trusting, close = connect(f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={ca}")
    assert await trusting.ping()
    await close()
    for url, why in [
        (f"rediss://127.0.0.1:{port}/0", "certificate verify failed"),  # the system's CAs never signed it
        (f"rediss://localhost:{port}/0?ssl_ca_certs={ca}", "certificate verify failed"),  # made for 127.0.0.1 only
    ]:
        client, close = connect(url)
        with pytest.raises(redis.exceptions.ConnectionError, match=why):
            await client.ping()
        await close()
        store = open_store(url)
        with pytest.raises(StoreUnavailable):
            await store.ping()
        await store.aclose()


async def test_a_sentinel_url_reaches_the_master_it_names(
    redis_sentinel_url: str, redis_sentinel_ports: tuple[int, int]
) -> None:
    client, close = connect(redis_sentinel_url)
    try:
        await client.set("where", "here")
        assert int((await client.info("server"))["tcp_port"]) == redis_sentinel_ports[0]
    finally:
        await close()


async def test_a_sentinel_url_with_a_wrong_password_or_service_does_not_serve(
    redis_sentinel_url: str,
) -> None:
    for url in [
        redis_sentinel_url.replace(":sentinel-test-password@", ":wrong@"),
        redis_sentinel_url.replace("/aldense/", "/nobody/"),
    ]:
        store = open_store(url)
        with pytest.raises((StoreUnavailable, redis.exceptions.AuthenticationError)):
            await store.ping()
        await store.aclose()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+cluster://:hunter2@127.0.0.1:7000/3", "only database 0"),
        ("redis+sentinel://:hunter2@127.0.0.1:26379", "service_name"),
        ("redis+sentinel://:hunter2@/aldense", "service_name"),
        ("redis+sentinel://:hunter2@h1:26379,h2:x/aldense", "host:port"),
        ("redis+sentinel://:hunter2@h1:26379/aldense/zero", "database of a Sentinel"),
        ("redis+sentinel://:hunter2@h1:26379/aldense?password=hunter2", "unknown option 'password'"),
        ("rediss+sentinel://:hunter2@h1:26379/aldense", "unsupported Redis scheme 'rediss+sentinel'"),
    ],
)
def test_malformed_urls_are_refused_without_repeating_the_password(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as refused:
        connect(url)
    assert "hunter2" not in str(refused.value)


async def test_after_a_sentinel_fail_over_the_store_serves_from_the_new_master(tmp_path: Path) -> None:
    from tests import redis_servers

    with redis_servers.sentinel(tmp_path, "fail-over-pw", replica=True) as (old_master, watcher_port):
        store = open_store(f"redis+sentinel://:fail-over-pw@127.0.0.1:{watcher_port}/aldense/0")
        try:
            assert await store.put(KEY, "before", 0) == 1
            with redis.Redis(host="127.0.0.1", port=watcher_port, decode_responses=True) as watcher:
                watcher.execute_command("SENTINEL", "FAILOVER", "aldense")
                redis_servers.wait_until(
                    lambda: int(watcher.sentinel_master("aldense")["port"]) != old_master, "Sentinel's fail-over"
                )
            # Connections to the old master (now a replica) are dropped on their first refused write; a caller
            # is told the store is unavailable for that one call at most, and the next one reaches the new master.
            for _ in range(50):
                try:
                    version = await store.put(KEY, "after", 1)
                    break
                except StoreUnavailable:
                    await asyncio.sleep(0.1)
            else:
                pytest.fail("the store never reached the new master")
            assert version == 2
            record = await store.get(KEY)
            assert record is not None
            assert record.data == "after"
        finally:
            await store.aclose()
