"""Store implementations, chosen by URL scheme: ``sqlite:///path`` (embedded default) or ``redis://…``."""

from __future__ import annotations

from collections.abc import Callable

from conversations.store import Store


def open_store(url: str, clock: Callable[[], float] | None = None) -> Store:
    """Open the store a URL names.

    Args:
        url: ``sqlite:///relative.db``, ``sqlite:////absolute.db``, ``redis://host:port/db`` or ``rediss://…``.
        clock: Source of the current time for TTLs the backend does not keep itself.

    Raises:
        ValueError: The scheme is not supported.
    """
    if url.startswith("sqlite:///"):
        from conversations.stores.sqlite import SqliteStore

        return SqliteStore(url.removeprefix("sqlite:///"), clock=clock)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from conversations.stores.redis import RedisStore

        return RedisStore.from_url(url)
    scheme = url.split(":", 1)[0] if ":" in url else url
    raise ValueError(f"unsupported store scheme {scheme!r}: use sqlite:///path or redis://host:port/db")
