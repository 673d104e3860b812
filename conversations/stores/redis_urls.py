"""Redis clients from ``STATE_URL``: one server, a Redis Cluster (any node) or a Sentinel-watched master; TLS checked.

Forms::

    redis://[[user]:password@]host:port[/db]           one server (also unix:///path.sock)
    rediss://…[?ssl_ca_certs=/path/ca.pem]             TLS; the certificate and host name are always checked
    redis+cluster://[[user]:password@]host:port        any node of a Redis Cluster; it finds the others
    rediss+cluster://…[?ssl_ca_certs=/path/ca.pem]     the same over TLS
    redis+sentinel://[[user]:password@]host1:port1,host2:port2/service_name[/db][?sentinel_password=…]

The password authenticates to the Redis servers; Sentinels are asked without one unless ``sentinel_password`` is
given. Errors never repeat the URL, which may hold a password.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel

from conversations.stores import REDIS_SCHEMES

RedisClient = aioredis.Redis | aioredis.RedisCluster
"""What the store talks to: a server's (or Sentinel's current master's) client, or a cluster's."""

SCHEMES = REDIS_SCHEMES

# A replica that cannot reach Redis should say so within seconds, not hang a click.
_TIMEOUTS: dict[str, Any] = {"socket_timeout": 5, "socket_connect_timeout": 3}
# A burst of clicks shares a few connections instead of opening one each: a TLS handshake per request costs CPU the
# replica needs, and dozens of them at once on a busy machine outlast the connect timeout. A request waits at most
# this long for a free connection.
_POOL_SIZE = 16
_POOL_WAIT_SECONDS = 10
_SENTINEL_PORT = 26379


def connect(url: str) -> tuple[RedisClient, Callable[[], Awaitable[None]]]:
    """A client for ``url`` (connecting lazily) and what closes everything it opened.

    Raises:
        ValueError: The URL is not one of the forms above.
    """
    scheme, separator, rest = url.partition("://")
    if not separator or scheme not in SCHEMES:
        raise ValueError(f"unsupported Redis scheme {scheme!r}: use one of {', '.join(s + '://' for s in SCHEMES)}")
    if scheme in ("redis", "rediss", "unix"):
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=_POOL_SIZE, timeout=_POOL_WAIT_SECONDS, decode_responses=True, **_TIMEOUTS
        )
        client = aioredis.Redis.from_pool(pool)
        return client, client.aclose
    if scheme.endswith("+cluster"):
        plain = scheme.removesuffix("+cluster") + "://" + rest
        if urlsplit(plain).path not in ("", "/", "/0"):
            raise ValueError("a Redis Cluster has only database 0: leave the database out of a +cluster STATE_URL")
        cluster = aioredis.RedisCluster.from_url(plain, decode_responses=True, **_TIMEOUTS)
        return cluster, cluster.aclose
    return _sentinel_master(rest)


def _sentinel_master(rest: str) -> tuple[RedisClient, Callable[[], Awaitable[None]]]:
    location, _, query = rest.partition("?")
    netloc, _, path = location.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    username, _, password = userinfo.partition(":") if at else ("", "", "")
    service, _, db = path.partition("/")
    if not hosts or not service:
        raise ValueError("a Sentinel STATE_URL is redis+sentinel://host1:port1,host2:port2/service_name[/db]")
    if not db.strip("/").isdigit() and db.strip("/"):
        raise ValueError("the database of a Sentinel STATE_URL is a number: …/service_name/0")
    options = parse_qs(query)
    unknown = sorted(set(options) - {"sentinel_password"})
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r} in a Sentinel STATE_URL (known: sentinel_password)")
    sentinel_kwargs: dict[str, Any] = dict(_TIMEOUTS)
    if "sentinel_password" in options:
        sentinel_kwargs["password"] = options["sentinel_password"][-1]
    nodes = [_host_port(host) for host in hosts.split(",")]
    sentinel = Sentinel(nodes, sentinel_kwargs=sentinel_kwargs)  # type: ignore[no-untyped-call]
    master = sentinel.master_for(
        unquote(service),
        db=int(db.strip("/") or 0),
        username=unquote(username) or None,
        password=unquote(password) or None,
        decode_responses=True,
        **_TIMEOUTS,
    )

    async def close() -> None:
        await master.aclose()
        for watcher in sentinel.sentinels:
            await watcher.aclose()

    return master, close


def _host_port(text: str) -> tuple[str, int]:
    host, colon, port = text.strip().rpartition(":")
    if not colon:
        host, port = text.strip(), str(_SENTINEL_PORT)
    if not host or not port.isdigit():
        raise ValueError("each Sentinel in STATE_URL is host:port")
    return host.strip("[]"), int(port)
