"""The embedded store: one SQLite file (stdlib ``sqlite3``) for a single replica that survives restarts."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from conversations.store import DueChange, Purged, Record, StoreUnavailable, VersionConflict, due_beside

_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (key TEXT PRIMARY KEY, version INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS marks (key TEXT PRIMARY KEY, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS due (queue TEXT NOT NULL, item TEXT NOT NULL, due_at REAL NOT NULL,
                                PRIMARY KEY (queue, item));
CREATE INDEX IF NOT EXISTS due_by_time ON due (queue, due_at);
"""


class SqliteStore:
    """A ``Store`` on one SQLite file; all database work runs on one worker thread, in order."""

    def __init__(self, path: str | Path, clock: Callable[[], float] | None = None) -> None:
        self._path = str(path)
        self._clock = clock or time.time
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._db: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"SqliteStore({self._path!r})"

    async def _run(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        def job() -> _T:
            if self._db is None:
                self._db = self._connect()
            return work(self._db)

        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, job)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"SQLite store {self._path}: {exc}") from None

    def _connect(self) -> sqlite3.Connection:
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            # The file holds encrypted keys and clinic details: create it owner-only before SQLite opens it. SQLite
            # gives the -wal and -shm files it creates the main file's permissions, so they are 0600 too.
            os.close(os.open(self._path, os.O_CREAT | os.O_RDWR, 0o600))
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, timeout=10)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        return db

    async def get(self, key: str) -> Record | None:
        def work(db: sqlite3.Connection) -> Record | None:
            row = db.execute("SELECT data, version FROM records WHERE key = ?", (key,)).fetchone()
            return None if row is None else Record(row[0], row[1])

        return await self._run(work)

    async def put(self, key: str, data: str, expected_version: int, due: Sequence[DueChange] = ()) -> int:
        due_beside(key, due)

        def work(db: sqlite3.Connection) -> int:
            db.execute("BEGIN IMMEDIATE")
            try:
                if expected_version == 0:
                    changed = db.execute(
                        "INSERT OR IGNORE INTO records (key, version, data) VALUES (?, 1, ?)", (key, data)
                    ).rowcount
                else:
                    changed = db.execute(
                        "UPDATE records SET data = ?, version = version + 1 WHERE key = ? AND version = ?",
                        (data, key, expected_version),
                    ).rowcount
                if changed != 1:
                    raise VersionConflict(f"{key} is no longer at version {expected_version}")
                for change in due:
                    _apply_due(db, change)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return expected_version + 1

        return await self._run(work)

    async def delete(self, key: str) -> None:
        await self._run(lambda db: db.execute("DELETE FROM records WHERE key = ?", (key,)))

    async def scan(self, prefix: str) -> list[tuple[str, Record]]:
        def work(db: sqlite3.Connection) -> list[tuple[str, Record]]:
            # A range on the primary key instead of LIKE, so '%' or '_' in ids mean nothing special.
            rows = db.execute(
                "SELECT key, data, version FROM records WHERE key >= ? AND key < ? ORDER BY key",
                (prefix, prefix + "\U0010ffff"),
            ).fetchall()
            return [(row[0], Record(row[1], row[2])) for row in rows]

        return await self._run(work)

    async def purge(self, address: str, prefix: bool = False) -> Purged:
        # A range on the primary key instead of LIKE, as in ``scan``.
        low, high = (address, address + "\U0010ffff") if prefix else (address, address + "\x00")

        def work(db: sqlite3.Connection) -> Purged:
            db.execute("BEGIN IMMEDIATE")
            try:
                records = db.execute("DELETE FROM records WHERE key >= ? AND key < ?", (low, high)).rowcount
                marks = db.execute("DELETE FROM marks WHERE key >= ? AND key < ?", (low, high)).rowcount
                due = db.execute("DELETE FROM due WHERE item >= ? AND item < ?", (low, high)).rowcount
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return Purged(records, marks, due)

        return await self._run(work)

    async def mark_once(self, key: str, ttl_seconds: float) -> bool:
        now = self._clock()

        def work(db: sqlite3.Connection) -> bool:
            db.execute("DELETE FROM marks WHERE key = ? AND expires_at <= ?", (key, now))
            inserted = db.execute(
                "INSERT OR IGNORE INTO marks (key, expires_at) VALUES (?, ?)", (key, now + ttl_seconds)
            ).rowcount
            return inserted == 1

        return await self._run(work)

    async def marked(self, key: str) -> bool:
        now = self._clock()

        def work(db: sqlite3.Connection) -> bool:
            return db.execute("SELECT 1 FROM marks WHERE key = ? AND expires_at > ?", (key, now)).fetchone() is not None

        return await self._run(work)

    async def renew_mark(self, key: str, ttl_seconds: float) -> bool:
        now = self._clock()

        def work(db: sqlite3.Connection) -> bool:
            renewed = db.execute(
                "UPDATE marks SET expires_at = ? WHERE key = ? AND expires_at > ?", (now + ttl_seconds, key, now)
            ).rowcount
            return renewed == 1

        return await self._run(work)

    async def unmark(self, key: str) -> None:
        await self._run(lambda db: db.execute("DELETE FROM marks WHERE key = ?", (key,)))

    async def pause_until(self, key: str, until: float) -> float:
        # Beside the marks: a pause is a mark whose expiry is the pause's end, read by the caller's clock.
        def work(db: sqlite3.Connection) -> float:
            if until > 0:
                db.execute(
                    "INSERT INTO marks (key, expires_at) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)",
                    (key, until),
                )
            row = db.execute("SELECT expires_at FROM marks WHERE key = ?", (key,)).fetchone()
            return float(row[0]) if row else 0.0

        return await self._run(work)

    async def schedule(self, queue: str, item: str, due_at: float) -> None:
        await self._run(lambda db: _apply_due(db, DueChange(queue, item, due_at)))

    async def schedule_by(self, queue: str, item: str, due_at: float) -> None:
        await self._run(
            lambda db: db.execute(
                "INSERT INTO due (queue, item, due_at) VALUES (?, ?, ?) "
                "ON CONFLICT (queue, item) DO UPDATE SET due_at = MIN(due_at, excluded.due_at)",
                (queue, item, due_at),
            )
        )

    async def claim_due(self, queue: str, now: float, lease_seconds: float, limit: int) -> list[str]:
        def work(db: sqlite3.Connection) -> list[str]:
            db.execute("BEGIN IMMEDIATE")
            try:
                items = [
                    row[0]
                    for row in db.execute(
                        "SELECT item FROM due WHERE queue = ? AND due_at <= ? ORDER BY due_at LIMIT ?",
                        (queue, now, limit),
                    )
                ]
                db.executemany(
                    "UPDATE due SET due_at = ? WHERE queue = ? AND item = ?",
                    [(now + lease_seconds, queue, item) for item in items],
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return items

        return await self._run(work)

    async def unschedule(self, queue: str, item: str) -> None:
        await self._run(lambda db: db.execute("DELETE FROM due WHERE queue = ? AND item = ?", (queue, item)))

    async def ping(self) -> None:
        await self._run(lambda db: db.execute("SELECT 1").fetchone())

    async def aclose(self) -> None:
        def work() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        await asyncio.get_running_loop().run_in_executor(self._executor, work)
        self._executor.shutdown(wait=True)


def _apply_due(db: sqlite3.Connection, change: DueChange) -> None:
    if change.due_at is None:
        db.execute("DELETE FROM due WHERE queue = ? AND item = ?", (change.queue, change.item))
    else:
        db.execute(
            "INSERT INTO due (queue, item, due_at) VALUES (?, ?, ?) "
            "ON CONFLICT (queue, item) DO UPDATE SET due_at = excluded.due_at",
            (change.queue, change.item, change.due_at),
        )
