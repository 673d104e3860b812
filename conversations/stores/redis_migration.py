"""The one-off move of Redis data from layout v1 (every key at its address, one global index) to v2 (``redis_layout``).

Layout v1 kept a record's hash ``{v, d}`` at its address (``aldense:v1:conv:…``), listed every record in the sorted
set ``aldense:v1:index``, kept each due queue at its address (``aldense:v1:due:nudge``: items scored by due time) and
each mark as a string with a time to live. The move copies each into v2 and only then removes the v1 key, so it can
stop anywhere and be run again; a record already in v2 with other contents is left in v1 and reported, never
overwritten. Run it while no replica of the older release writes (they would write v1 keys again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conversations.addresses import NAMESPACE
from conversations.stores import redis_layout as layout
from conversations.stores.redis_urls import RedisClient

# KEYS[1] v2 record, KEYS[2] its shard's index; ARGV address, version, data. 1: copied, 0: v2 already holds exactly
# this, -1: v2 holds something else (left for a person to look at).
_COPY_RECORD = """
local held = redis.call('HMGET', KEYS[1], 'v', 'd')
if held[1] == false then
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3])
  redis.call('ZADD', KEYS[2], 0, ARGV[1])
  return 1
end
if held[1] == ARGV[2] and held[2] == ARGV[3] then
  return 0
end
return -1
"""


@dataclass
class MigrationReport:
    """What one run moved, found already moved, and left alone (and why)."""

    records: int = 0
    already_moved: int = 0
    queue_entries: int = 0
    marks: int = 0
    conflicts: list[str] = field(default_factory=list)
    left_alone: list[str] = field(default_factory=list)

    @property
    def nothing_to_do(self) -> bool:
        """Whether the store held no v1 data at all."""
        return not (self.records or self.already_moved or self.queue_entries or self.marks or self.conflicts)

    def lines(self) -> list[str]:
        """The report for a person, one fact per line."""
        lines = [
            f"records moved: {self.records}",
            f"records already moved by an earlier run: {self.already_moved}",
            f"due-queue entries moved: {self.queue_entries}",
            f"marks moved: {self.marks}",
        ]
        if self.conflicts:
            lines.append(f"records left in v1 because v2 already holds different contents: {len(self.conflicts)}")
            lines += [f"  {address}" for address in self.conflicts[:20]]
        if self.left_alone:
            lines.append(f"v1 keys of a kind this release never wrote, left alone: {len(self.left_alone)}")
            lines += [f"  {key}" for key in self.left_alone[:20]]
        return lines


async def migrate_v1(client: RedisClient) -> MigrationReport:
    """Move every v1 key of ``client``'s Redis to layout v2; safe to run again, and to stop midway.

    Raises:
        redis.exceptions.RedisError: Redis failed midway; what was moved stays moved, run again.
    """
    report = MigrationReport()
    keys = sorted([str(key) async for key in client.scan_iter(match=f"{NAMESPACE}:*", count=500)])
    for key in keys:
        if key == layout.V1_INDEX:
            continue
        kind = str(await client.type(key))
        if kind == "hash":
            await _move_record(client, key, report)
        elif kind == "zset":
            await _move_queue(client, key, report)
        elif kind == "string":
            await _move_mark(client, key, report)
        elif kind != "none":  # "none": it expired or went while we looked
            report.left_alone.append(key)
    # What is left in the v1 index are records that were never there (or are conflicts, which stay listed).
    moved: list[Any] = await client.zrange(layout.V1_INDEX, 0, -1)
    for address in moved:
        if str(address) not in report.conflicts and not await client.exists(str(address)):
            await client.zrem(layout.V1_INDEX, address)
    return report


async def _move_record(client: RedisClient, address: str, report: MigrationReport) -> None:
    version, data = await client.hmget(address, ["v", "d"])
    if version is None or data is None:
        report.left_alone.append(address)
        return
    keys = [layout.record_key(address), layout.index_key(layout.shard_of(address))]
    copied = int(await client.eval(_COPY_RECORD, 2, *keys, address, str(version), str(data)))
    if copied < 0:
        report.conflicts.append(address)
        return
    await client.delete(address)
    await client.zrem(layout.V1_INDEX, address)
    if copied:
        report.records += 1
    else:
        report.already_moved += 1


async def _move_queue(client: RedisClient, queue: str, report: MigrationReport) -> None:
    entries: list[Any] = await client.zrange(queue, 0, -1, withscores=True)
    for item, due_at in entries:
        # NX: an entry already in v2 (an earlier run, or the new release) knows better when it is due.
        await client.zadd(layout.queue_key(queue, layout.shard_of(str(item))), {str(item): due_at}, nx=True)
        await client.zrem(queue, item)
        report.queue_entries += 1


async def _move_mark(client: RedisClient, mark: str, report: MigrationReport) -> None:
    left_ms = int(await client.pttl(mark))
    if left_ms == -2:  # expired while we looked
        return
    value = await client.get(mark)
    if value is not None:
        await client.set(layout.mark_key(mark), value, nx=True, px=left_ms if left_ms > 0 else None)
    await client.delete(mark)
    report.marks += 1
