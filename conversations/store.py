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

from conversations.addresses import placement


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
class Purged:
    """What ``purge`` removed: records, marks and due-queue entries (each counted once)."""

    records: int = 0
    marks: int = 0
    due: int = 0

    def __add__(self, other: Purged) -> Purged:
        return Purged(self.records + other.records, self.marks + other.marks, self.due + other.due)

    @property
    def total(self) -> int:
        """Everything removed."""
        return self.records + self.marks + self.due


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
        Each change's item is the record's own address, or one with the same placement (see ``due_beside``).

        Returns:
            The new version.

        Raises:
            VersionConflict: Someone saved first.
            ValueError: A due change is about an item placed elsewhere.
        """
        ...

    async def delete(self, key: str) -> None:
        """Remove the record at ``key`` if there is one."""
        ...

    async def scan(self, prefix: str) -> list[tuple[str, Record]]:
        """Every record whose key starts with ``prefix``, in key order."""
        ...

    async def purge(self, address: str, prefix: bool = False) -> Purged:
        """Remove the record, the mark and every due-queue entry (in any queue) at ``address``.

        With ``prefix`` every record, mark and entry whose address starts with ``address`` goes; end such a prefix
        with ``:`` (as ``conversation_prefix`` does) so that ``…:C1`` does not also take ``…:C10``. Used to forget
        a clinic; idempotent.

        Returns:
            How many records, marks and entries were removed.
        """
        ...

    async def mark_once(self, key: str, ttl_seconds: float) -> bool:
        """Set a mark that expires after ``ttl_seconds``; True only for the first caller while it lives."""
        ...

    async def marked(self, key: str) -> bool:
        """Whether a mark set by ``mark_once`` is still alive (reading never sets it)."""
        ...

    async def renew_mark(self, key: str, ttl_seconds: float) -> bool:
        """Make a live mark expire ``ttl_seconds`` from now, in one step; False when it had already lapsed."""
        ...

    async def unmark(self, key: str) -> None:
        """Remove a mark early (work that claimed it gave up, so a retry may claim it again)."""
        ...

    async def pause_until(self, key: str, until: float) -> float:
        """Keep a pause of ``key`` until ``until`` (Unix seconds) unless a later one is kept; ``until=0`` only reads.

        Replicas share the 429 windows a platform told one of them about this way. A pause is forgotten some time
        after it ends (at the latest when the store is purged of it).

        Returns:
            The end of the latest pause kept (0.0 when there is none); it may already have passed.
        """
        ...

    async def schedule(self, queue: str, item: str, due_at: float) -> None:
        """Put ``item`` on ``queue`` to become due at ``due_at`` (Unix seconds); re-scheduling moves it."""
        ...

    async def schedule_by(self, queue: str, item: str, due_at: float) -> None:
        """Put ``item`` on ``queue`` due at ``due_at``, unless it is already due sooner (then it stays as it is).

        Bursts of requests for the same item fold into one entry due at the earliest time any of them asked for,
        so a steady stream of requests never keeps pushing the work back.
        """
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


def due_beside(key: str, due: Sequence[DueChange]) -> None:
    """Refuse due changes that cannot be saved in one step with the record at ``key``.

    A store spread over shards keeps a queue entry on its item's shard, so one atomic save can only change entries
    whose item is placed with the record. Every store checks this, so code that works on one works on all.

    Raises:
        ValueError: A change's item is placed elsewhere.
    """
    home = placement(key)
    for change in due:
        if change.item != key and placement(change.item) != home:
            raise ValueError(f"due item {change.item[:80]!r} is not placed with the record it is saved with")
