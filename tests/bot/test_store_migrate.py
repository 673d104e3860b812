"""``aldense-guide store migrate``: Redis data in the older layout (v1) moves to the cluster-safe one, safely re-run."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import redis

from conversations.addresses import NUDGE_QUEUE, OUTBOX_QUEUE, ConversationKey, clinic_key, conversation_prefix
from conversations.events import Done, Start
from conversations.reminders import ReminderPolicy
from conversations.service import OnboardingService
from conversations.stores import open_store
from tests.bot.test_cli import run_cli
from tests.conversations.test_service import GUIDE

KEY = ConversationKey("slack", "T1", "C1", "U1")
OTHER = ConversationKey("slack", "T1", "C1", "U2")

# How the release before layout v2 saved a record (conversations/stores/redis.py at eabb07d), kept verbatim so the
# test writes exactly what that code wrote: the record at its address, one global index, queues at their address.
V1_PUT = """
local current = redis.call('HGET', KEYS[1], 'v')
local expected = tonumber(ARGV[1])
if (current == false and expected ~= 0) or (current ~= false and tonumber(current) ~= expected) then
  return -1
end
redis.call('HSET', KEYS[1], 'v', expected + 1, 'd', ARGV[2])
if current == false then
  redis.call('ZADD', KEYS[2], 0, KEYS[1])
end
for i = 3, #KEYS do
  local item, due = ARGV[2 * i - 3], ARGV[2 * i - 2]
  if due == '' then
    redis.call('ZREM', KEYS[i], item)
  else
    redis.call('ZADD', KEYS[i], due, item)
  end
end
return expected + 1
"""
V1_INDEX = "aldense:v1:index"


async def history(tmp_path: Path) -> tuple[list[tuple[str, str, int]], list[tuple[str, str, float]]]:
    """Records and due entries of two guides and a clinic, as today's service makes them."""
    path = tmp_path / "made.db"
    store = open_store(f"sqlite:///{path}")
    service = OnboardingService(store, GUIDE, clock=lambda: 1_000.0, reminders=ReminderPolicy(nudge_after=3_600.0))
    await service.handle(KEY, Start(at=100.0))
    await service.handle(KEY, Done("first", at=110.0))
    await service.handle(OTHER, Start(at=120.0))
    await service.update_clinic("slack", "C1", lambda clinic: clinic.model_copy(update={"name": "Maple Dental"}))
    await store.aclose()
    with sqlite3.connect(path) as db:
        records = [(k, d, v) for k, d, v in db.execute("SELECT key, data, version FROM records ORDER BY key")]
        due = [(q, i, t) for q, i, t in db.execute("SELECT queue, item, due_at FROM due ORDER BY queue, item")]
    return records, due


def write_v1(url: str, records: list[tuple[str, str, int]], due: list[tuple[str, str, float]]) -> None:
    with redis.Redis.from_url(url, decode_responses=True) as client:
        put = client.register_script(V1_PUT)
        for key, data, version in records:
            for step in range(version):  # the same number of saves, so the version matches
                put(keys=[key, V1_INDEX], args=[step, data])
        for queue, item, due_at in due:
            client.zadd(queue, {item: due_at})
        client.set("aldense:v1:event:Ev1:done", "1", nx=True, px=600_000)


def v1_keys(url: str) -> list[str]:
    with redis.Redis.from_url(url, decode_responses=True) as client:
        return sorted(client.scan_iter(match="aldense:v1:*"))


async def test_v1_data_moves_to_the_new_layout_and_the_bot_carries_on(tmp_path: Path, redis_url: str) -> None:
    records, due = await history(tmp_path)
    assert {queue for queue, _, _ in due} == {NUDGE_QUEUE, OUTBOX_QUEUE}
    write_v1(redis_url, records, due)
    assert len(v1_keys(redis_url)) == len(records) + 4  # records, the index, two queues, one mark

    moved = await asyncio.to_thread(run_cli, "store", "migrate", env={"STATE_URL": redis_url})

    assert moved.returncode == 0, moved.stderr
    assert f"records moved: {len(records)}\n" in moved.stdout
    assert f"due-queue entries moved: {len(due)}\n" in moved.stdout
    assert "marks moved: 1\n" in moved.stdout
    assert v1_keys(redis_url) == []
    store = open_store(redis_url)
    try:
        for key, data, version in records:
            record = await store.get(key)
            assert record is not None
            assert (record.data, record.version) == (data, version)
        assert [key for key, _ in await store.scan(conversation_prefix("slack", "T1", "C1"))] == [str(KEY), str(OTHER)]
        assert [key for key, _ in await store.scan("aldense:v1:clinic:")] == [clinic_key("slack", "C1")]
        assert await store.marked("aldense:v1:event:Ev1:done")
        for queue in (NUDGE_QUEUE, OUTBOX_QUEUE):
            expected = sorted(item for q, item, _ in due if q == queue)
            assert sorted(await store.claim_due(queue, 10**12, 60.0, 100)) == expected
        service = OnboardingService(store, GUIDE, clock=lambda: 2_000.0)
        outcome = await service.handle(KEY, Done("second", at=200.0))
        assert outcome.refused is None
        assert outcome.state.step_id == GUIDE.steps[2].id
        clinic = await service.clinic("slack", "C1")
        assert clinic is not None
        assert clinic.name == "Maple Dental"
    finally:
        await store.aclose()

    again = await asyncio.to_thread(run_cli, "store", "migrate", env={"STATE_URL": redis_url})

    assert again.returncode == 0, again.stderr
    assert "nothing to migrate" in again.stdout
    assert "records moved: 0\n" in again.stdout


async def test_a_run_that_stopped_midway_finishes_and_a_differing_copy_is_left_for_a_person(
    tmp_path: Path, redis_url: str
) -> None:
    records, _ = await history(tmp_path)
    write_v1(redis_url, records, [])
    first = await asyncio.to_thread(run_cli, "store", "migrate", env={"STATE_URL": redis_url})
    assert first.returncode == 0, first.stderr
    # As if a run had copied these but stopped before removing the v1 keys; one of them was changed since in v2.
    write_v1(redis_url, records, [])
    store = open_store(redis_url)
    await store.put(str(OTHER), '{"changed": "in v2"}', 1)
    await store.aclose()

    second = await asyncio.to_thread(run_cli, "store", "migrate", env={"STATE_URL": redis_url})

    assert second.returncode == 1
    assert f"records already moved by an earlier run: {len(records) - 1}\n" in second.stdout
    assert f"records left in v1 because v2 already holds different contents: 1\n  {OTHER}\n" in second.stdout
    assert "compare each with its v2 copy" in second.stderr
    assert set(v1_keys(redis_url)) == {str(OTHER), V1_INDEX}, "the conflict stays listed where v1 had it"
    store = open_store(redis_url)
    record = await store.get(str(OTHER))
    await store.aclose()
    assert record is not None
    assert record.data == '{"changed": "in v2"}', "never overwritten"


def test_sqlite_has_nothing_to_migrate(tmp_path: Path) -> None:
    result = run_cli("store", "migrate", env={"STATE_URL": f"sqlite:///{tmp_path}/state.db"})
    assert result.returncode == 0, result.stderr
    assert "SQLite keeps every record at its address" in result.stdout
    assert "nothing to migrate" in result.stdout
