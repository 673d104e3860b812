"""The state store protocol: versioned JSON records with compare-and-set, one-time marks and a due-work queue.

Errors::

    StoreError
     ├── VersionConflict   - a compare-and-set lost a race; reload and re-apply
     └── StoreUnavailable  - the backend cannot be reached; nothing was written
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class StoreError(Exception):
    """Base of every store error."""


class VersionConflict(StoreError):
    """The record changed since it was read."""


class StoreUnavailable(StoreError):
    """The store's backend did not answer."""


@dataclass(frozen=True, slots=True)
class DueChange:
    """A change to a due queue that is saved together with a record: ``item`` due at ``due_at``, or removed."""

    queue: str
    item: str
    due_at: float | None


@dataclass(frozen=True, slots=True)
class Record:
    """A stored JSON document and its version (1 for the first save)."""

    data: str
    version: int


class Store(Protocol):
    """Where conversations, clinics, de-duplication marks and timed work live."""

    async def get(self, key: str) -> Record | None:
        """The record at ``key``, or None."""
        ...

    async def put(self, key: str, data: str, expected_version: int, due: Sequence[DueChange] = ()) -> int:
        """Save ``data`` if the record is still at ``expected_version`` (0: must not exist yet).

        The ``due`` changes are made in the same atomic step, and only when the save succeeds, so work a record
        promises (its outbox, a reminder) is never saved without being queued, nor queued without being saved.

        Returns:
            The new version.

        Raises:
            VersionConflict: Someone saved first.
        """
        ...

    async def delete(self, key: str) -> None:
        """Remove the record at ``key`` if there is one."""
        ...

    async def scan(self, prefix: str) -> list[tuple[str, Record]]:
        """Every record whose key starts with ``prefix``, in key order."""
        ...

    async def mark_once(self, key: str, ttl_seconds: float) -> bool:
        """Set a mark that expires after ``ttl_seconds``; True only for the first caller while it lives."""
        ...

    async def marked(self, key: str) -> bool:
        """Whether a mark set by ``mark_once`` is still alive (reading never sets it)."""
        ...

    async def unmark(self, key: str) -> None:
        """Remove a mark early (work that claimed it gave up, so a retry may claim it again)."""
        ...

    async def schedule(self, queue: str, item: str, due_at: float) -> None:
        """Put ``item`` on ``queue`` to become due at ``due_at`` (Unix seconds); re-scheduling moves it."""
        ...

    async def claim_due(self, queue: str, now: float, lease_seconds: float, limit: int) -> list[str]:
        """Atomically take up to ``limit`` due items; each is hidden for ``lease_seconds`` unless done first."""
        ...

    async def unschedule(self, queue: str, item: str) -> None:
        """Remove ``item`` from ``queue`` (work done, or no longer wanted)."""
        ...

    async def ping(self) -> None:
        """Return when the backend answers; raise ``StoreUnavailable`` otherwise."""
        ...

    async def aclose(self) -> None:
        """Release connections and files."""
        ...
