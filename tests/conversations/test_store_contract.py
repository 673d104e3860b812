"""One contract suite for every Store: SQLite, and Redis as a server, cluster, Sentinel set-up, TLS, TLS cluster."""

from __future__ import annotations

import asyncio
import os
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conversations.store import Store, VersionConflict
from conversations.stores import open_store


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "redis", "redis-cluster", "redis-sentinel", "rediss", "rediss-cluster"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        opened = open_store(f"sqlite:///{tmp_path}/state.db")
    else:
        opened = open_store(request.getfixturevalue(request.param.replace("-", "_") + "_url"))
    yield opened
    await opened.aclose()


async def test_put_then_get_round_trips_json_and_versions(store: Store) -> None:
    assert await store.get("aldense:v1:conv:a") is None
    assert await store.put("aldense:v1:conv:a", '{"n": 1}', 0) == 1
    assert await store.put("aldense:v1:conv:a", '{"n": 2}', 1) == 2
    record = await store.get("aldense:v1:conv:a")
    assert record is not None
    assert (record.data, record.version) == ('{"n": 2}', 2)


async def test_compare_and_set_rejects_a_stale_version(store: Store) -> None:
    await store.put("k", "one", 0)
    with pytest.raises(VersionConflict):
        await store.put("k", "two", 0)
    with pytest.raises(VersionConflict):
        await store.put("missing", "x", 3)
    await store.put("k", "two", 1)
    with pytest.raises(VersionConflict):
        await store.put("k", "three", 1)
    record = await store.get("k")
    assert record is not None
    assert record.data == "two"


async def test_concurrent_writers_of_one_version_exactly_one_wins(store: Store) -> None:
    await store.put("race", "start", 0)
    results = await asyncio.gather(*(store.put("race", f"w{i}", 1) for i in range(10)), return_exceptions=True)
    winners = [result for result in results if result == 2]
    assert len(winners) == 1
    assert all(isinstance(result, VersionConflict) for result in results if result != 2)


async def test_scan_returns_only_the_prefix_in_key_order(store: Store) -> None:
    for key in ["p:b", "p:a", "q:a", "p%:x", "p_x"]:
        await store.put(key, key, 0)
    assert [key for key, _ in await store.scan("p:")] == ["p:a", "p:b"]
    assert [key for key, _ in await store.scan("p%")] == ["p%:x"]
    assert await store.scan("zzz") == []


async def test_delete_removes_a_record(store: Store) -> None:
    await store.put("gone", "x", 0)
    await store.delete("gone")
    assert await store.get("gone") is None
    await store.delete("never-there")


async def test_mark_once_is_true_only_for_the_first_caller(store: Store) -> None:
    results = await asyncio.gather(*(store.mark_once("event:Ev1", 60) for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    assert await store.mark_once("event:Ev2", 60) is True


async def test_renew_mark_extends_a_live_mark_and_refuses_a_lapsed_one(tmp_path: Path, redis_url: str) -> None:
    clock = Clock()
    sqlite = open_store(f"sqlite:///{tmp_path}/renew.db", clock=clock)
    assert await sqlite.mark_once("m", 10)
    clock.now += 8
    assert await sqlite.renew_mark("m", 10)
    clock.now += 8  # 16 s after it was set: alive only because it was renewed
    assert await sqlite.marked("m")
    assert not await sqlite.mark_once("m", 10)
    clock.now += 3
    assert not await sqlite.renew_mark("m", 10), "a lapsed mark is not revived"
    assert not await sqlite.renew_mark("never-set", 10)
    await sqlite.aclose()
    redis_store = open_store(redis_url)
    assert await redis_store.mark_once("renew", 0.2)
    await asyncio.sleep(0.1)
    assert await redis_store.renew_mark("renew", 0.2)
    await asyncio.sleep(0.15)
    assert await redis_store.marked("renew")
    await asyncio.sleep(0.15)
    assert not await redis_store.renew_mark("renew", 0.2)
    assert not await redis_store.marked("renew"), "a lapsed mark is not revived"
    await redis_store.aclose()


async def test_mark_once_expires_after_its_ttl(tmp_path: Path, redis_url: str) -> None:
    clock = Clock()
    sqlite = open_store(f"sqlite:///{tmp_path}/ttl.db", clock=clock)
    assert await sqlite.mark_once("m", 10)
    clock.now += 11
    assert await sqlite.mark_once("m", 10)
    await sqlite.aclose()
    redis_store = open_store(redis_url)
    assert await redis_store.mark_once("m", 0.05)
    await asyncio.sleep(0.1)
    assert await redis_store.mark_once("m", 0.05)
    await redis_store.aclose()


async def test_due_queue_claims_each_due_item_once_until_its_lease_ends(store: Store) -> None:
    await store.schedule("nudges", "a", 100.0)
    await store.schedule("nudges", "b", 200.0)
    await store.schedule("nudges", "later", 5_000.0)
    await store.schedule("other", "a", 100.0)
    claims = await asyncio.gather(*(store.claim_due("nudges", 300.0, 60.0, 10) for _ in range(4)))
    claimed = sorted(item for claim in claims for item in claim)
    assert claimed == ["a", "b"]
    assert await store.claim_due("nudges", 330.0, 60.0, 10) == []
    assert sorted(await store.claim_due("nudges", 361.0, 60.0, 10)) == ["a", "b"]
    await store.unschedule("nudges", "a")
    assert await store.claim_due("nudges", 1_000.0, 60.0, 10) == ["b"]
    assert await store.claim_due("other", 1_000.0, 60.0, 10) == ["a"]


async def test_schedule_again_moves_the_due_time(store: Store) -> None:
    await store.schedule("q", "x", 100.0)
    await store.schedule("q", "x", 900.0)
    assert await store.claim_due("q", 500.0, 10.0, 5) == []
    assert await store.claim_due("q", 900.0, 10.0, 5) == ["x"]


async def test_schedule_by_keeps_the_soonest_due_time(store: Store) -> None:
    await store.schedule_by("q", "x", 500.0)
    await store.schedule_by("q", "x", 900.0)  # a later request folds into the one already waiting
    assert await store.claim_due("q", 499.0, 10.0, 5) == []
    assert await store.claim_due("q", 500.0, 100.0, 5) == ["x"]
    await store.schedule_by("q", "x", 550.0)  # sooner than the claim's lease (600): moves it forward
    assert await store.claim_due("q", 550.0, 10.0, 5) == ["x"]
    await store.unschedule("q", "x")
    await store.schedule_by("q", "new", 700.0)  # an item not yet waiting is added
    assert await store.claim_due("q", 700.0, 10.0, 5) == ["new"]


async def test_claim_respects_the_limit(store: Store) -> None:
    for index in range(5):
        await store.schedule("q", f"i{index}", float(index))
    first = await store.claim_due("q", 10.0, 100.0, 2)
    assert first == ["i0", "i1"]


async def test_ping_answers(store: Store) -> None:
    await store.ping()


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported store scheme 'postgres'"):
        open_store("postgres://localhost/db")


async def test_sqlite_state_survives_reopening(tmp_path: Path) -> None:
    first = open_store(f"sqlite:///{tmp_path}/keep.db")
    await first.put("k", "kept", 0)
    await first.aclose()
    second = open_store(f"sqlite:///{tmp_path}/keep.db")
    record = await second.get("k")
    await second.aclose()
    assert record is not None
    assert record.data == "kept"


async def test_marked_reads_without_setting_and_unmark_frees_the_mark(store: Store) -> None:
    assert await store.marked("event:E1:done") is False
    assert await store.marked("event:E1:done") is False
    assert await store.mark_once("event:E1:done", 60) is True
    assert await store.marked("event:E1:done") is True
    await store.unmark("event:E1:done")
    assert await store.marked("event:E1:done") is False
    assert await store.mark_once("event:E1:done", 60) is True


async def test_due_changes_are_saved_with_the_record_and_only_with_it(store: Store) -> None:
    from conversations.store import DueChange

    await store.put("rec", "v1", 0, [DueChange("q", "rec", 100.0), DueChange("other", "rec", 50.0)])
    assert await store.claim_due("q", 100.0, 10.0, 5) == ["rec"]
    with pytest.raises(VersionConflict):
        await store.put("rec", "v2", 0, [DueChange("lost", "rec", 1.0)])
    assert await store.claim_due("lost", 1_000.0, 10.0, 5) == []  # the lost write queued nothing
    await store.put("rec", "v2", 1, [DueChange("other", "rec", None)])
    assert await store.claim_due("other", 1_000.0, 10.0, 5) == []


async def test_sqlite_file_and_its_journal_are_owner_only(tmp_path: Path) -> None:
    previous = os.umask(0o022)  # the usual umask, which would leave a plain create world-readable
    try:
        store = open_store(f"sqlite:///{tmp_path}/private/state.db")
        await store.put("k", "secret-ish", 0)
        files = sorted(tmp_path.joinpath("private").iterdir())
        assert [path.name for path in files] == ["state.db", "state.db-shm", "state.db-wal"]
        assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in files} == {
            "state.db": 0o600,
            "state.db-shm": 0o600,
            "state.db-wal": 0o600,
        }
        await store.aclose()
    finally:
        os.umask(previous)


async def test_a_due_change_about_a_record_placed_elsewhere_is_refused_and_nothing_is_saved(store: Store) -> None:
    from conversations.addresses import NUDGE_QUEUE, ConversationKey, clinic_key
    from conversations.store import DueChange

    mine, theirs = ConversationKey("slack", "T1", "C1", "U1"), ConversationKey("slack", "T1", "C2", "U1")
    with pytest.raises(ValueError, match="not placed with the record"):
        await store.put(str(mine), "x", 0, [DueChange(NUDGE_QUEUE, str(theirs), 5.0)])
    assert await store.get(str(mine)) is None
    assert await store.claim_due(NUDGE_QUEUE, 10.0, 1.0, 10) == []
    # The clinic of the same channel is placed with its conversations.
    await store.put(str(mine), "x", 0, [DueChange(NUDGE_QUEUE, clinic_key("slack", "C1"), 5.0)])
    assert await store.claim_due(NUDGE_QUEUE, 10.0, 1.0, 10) == [clinic_key("slack", "C1")]


async def test_many_channels_scan_by_prefix_and_claim_earliest_first(store: Store) -> None:
    from conversations.addresses import OUTBOX_QUEUE, ConversationKey, conversation_prefix
    from conversations.store import DueChange

    keys = [ConversationKey("slack", team, f"C{n}", user) for team in ("T1", "T2") for n in range(12) for user in "AB"]
    await asyncio.gather(
        *(store.put(str(key), f"d{i}", 0, [DueChange(OUTBOX_QUEUE, str(key), float(i))]) for i, key in enumerate(keys))
    )
    team = await store.scan(conversation_prefix("slack", "T1"))
    assert [key for key, _ in team] == sorted(str(key) for key in keys if key.team == "T1")
    channel = await store.scan(conversation_prefix("slack", "T2", "C1"))
    assert [key for key, _ in channel] == [str(ConversationKey("slack", "T2", "C1", u)) for u in "AB"]
    assert [record.data for _, record in channel] == [
        f"d{keys.index(ConversationKey('slack', 'T2', 'C1', u))}" for u in "AB"
    ]
    first = await store.claim_due(OUTBOX_QUEUE, 1_000.0, 60.0, 5)
    assert first == [str(key) for key in keys[:5]]
    rest = await store.claim_due(OUTBOX_QUEUE, 1_000.0, 60.0, 1_000)
    assert rest == [str(key) for key in keys[5:]]
    await store.delete(str(keys[0]))
    assert str(keys[0]) not in [key for key, _ in await store.scan(conversation_prefix("slack", "T1"))]


async def test_purge_removes_records_marks_and_due_entries_of_one_address_or_prefix(store: Store) -> None:
    from conversations.addresses import (
        KEEPALIVE_QUEUE,
        NUDGE_QUEUE,
        OUTBOX_QUEUE,
        ConversationKey,
        clinic_key,
        conversation_prefix,
        store_key,
    )
    from conversations.store import DueChange, Purged

    mine = [ConversationKey("teams", "T1", "19:c1@thread", user) for user in ("29:a", "29:b")]
    neighbour = ConversationKey("teams", "T1", "19:c10@thread", "29:a")  # its channel id starts like mine
    for key in (*mine, neighbour):
        await store.put(
            str(key), "x", 0, [DueChange(NUDGE_QUEUE, str(key), 5.0), DueChange(OUTBOX_QUEUE, str(key), 6.0)]
        )
    clinic, other_clinic = clinic_key("teams", "19:c1@thread"), clinic_key("teams", "19:c1@thread0")
    for key in (clinic, other_clinic):
        await store.put(key, "c", 0)
        await store.schedule(KEEPALIVE_QUEUE, key, 7.0)
    welcome = store_key("teams-welcome", "19:c1@thread") + ":"
    await store.mark_once(welcome + "29:a", 600)
    await store.mark_once(welcome + "29:[b]*", 600)  # glob characters in an id match only themselves
    await store.mark_once(store_key("teams-welcome", "19:c10@thread", "29:a"), 600)

    gone = await store.purge(conversation_prefix("teams", "T1", "19:c1@thread"), prefix=True)
    assert gone == Purged(records=2, marks=0, due=4)
    assert await store.purge(clinic) == Purged(records=1, marks=0, due=1)
    assert await store.purge(welcome, prefix=True) == Purged(records=0, marks=2, due=0)
    # Idempotent, and the neighbours are untouched.
    assert (await store.purge(conversation_prefix("teams", "T1", "19:c1@thread"), prefix=True)).total == 0
    assert (await store.purge(clinic)).total == 0
    assert [key for key, _ in await store.scan(store_key("conv", "teams") + ":")] == [str(neighbour)]
    assert await store.get(other_clinic) is not None
    assert await store.marked(store_key("teams-welcome", "19:c10@thread", "29:a"))
    assert await store.claim_due(NUDGE_QUEUE, 100.0, 10.0, 10) == [str(neighbour)]
    assert await store.claim_due(OUTBOX_QUEUE, 100.0, 10.0, 10) == [str(neighbour)]
    assert await store.claim_due(KEEPALIVE_QUEUE, 100.0, 10.0, 10) == [other_clinic]


async def test_a_pause_keeps_the_latest_end_and_every_client_reads_it(store: Store) -> None:
    key = "aldense:v1:pause:slack:chat.update"
    assert await store.pause_until(key, 0.0) == 0.0
    end = time.time() + 30.25  # a fraction, which a Lua number would lose
    assert await store.pause_until(key, end) == pytest.approx(end)
    assert await store.pause_until(key, end - 10) == pytest.approx(end)  # an earlier end never shortens it
    assert await store.pause_until(key, 0.0) == pytest.approx(end)
    assert await store.pause_until(key, end + 5) == pytest.approx(end + 5)
    assert await store.pause_until("aldense:v1:pause:slack:views.open", 0.0) == 0.0  # pauses are per key
