"""Store implementations, chosen by URL scheme: ``sqlite:///path`` (embedded default) or Redis (``redis_urls``)."""

from __future__ import annotations

from collections.abc import Callable

from conversations.store import Store

# The Redis forms, named here so choosing a store does not import redis-py for SQLite (see redis_urls.SCHEMES).
REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster", "redis+sentinel")


def open_store(url: str, clock: Callable[[], float] | None = None) -> Store:
    """Open the store a URL names.

    Args:
        url: ``sqlite:///relative.db``, ``sqlite:////absolute.db``, or a Redis URL: ``redis://host:port/db``,
            ``rediss://…``, ``redis+cluster://…``, ``redis+sentinel://…`` (see ``conversations.stores.redis_urls``).
        clock: Source of the current time for TTLs the backend does not keep itself.

    Raises:
        ValueError: The scheme is not supported.
    """
    if url.startswith("sqlite:///"):
        from conversations.stores.sqlite import SqliteStore

        return SqliteStore(url.removeprefix("sqlite:///"), clock=clock)
    if url.startswith(tuple(scheme + "://" for scheme in REDIS_SCHEMES)):
        from conversations.stores.redis import RedisStore

        return RedisStore.from_url(url)
    scheme = url.split(":", 1)[0] if ":" in url else url
    raise ValueError(
        f"unsupported store scheme {scheme!r}: use sqlite:///path or redis://host:port/db (or a form in the README)"
    )
