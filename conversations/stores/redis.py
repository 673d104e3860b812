"""The shared store for many replicas: Redis through ``redis.asyncio``, every compare-and-set a Lua script in one slot.

Keys follow ``redis_layout`` (shards with hash tags), so the store runs unchanged on one server, behind Sentinel or on
a Redis Cluster; ``redis_urls`` turns ``STATE_URL`` into the right client.
"""

from __future__ import annotations

import asyncio
import heapq
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
import redis.exceptions

from conversations.store import DueChange, Purged, Record, StoreUnavailable, VersionConflict, due_beside
from conversations.stores import redis_layout as layout
from conversations.stores.redis_urls import RedisClient, connect

_T = TypeVar("_T")

# KEYS[1] record hash, KEYS[2] its shard's index, KEYS[3..] its shard's parts of due queues; ARGV[1] expected
# version (0: absent), ARGV[2] data, ARGV[3] the record's address, ARGV[4] this save's token, then per queue an item
# and its due time ('' removes it). Returns the new version or -1; the index and the queues change only with the
# record. redis-py re-sends a command whose answer was lost (a timeout, a dropped connection); the token lets such a
# second run see that its own first run already saved, instead of reporting a conflict that would make the caller
# apply the same move twice.
_PUT = """
local held = redis.call('HMGET', KEYS[1], 'v', 't')
local current, expected = held[1], tonumber(ARGV[1])
if current ~= false and tonumber(current) == expected + 1 and held[2] == ARGV[4] then
  return expected + 1
end
if (current == false and expected ~= 0) or (current ~= false and tonumber(current) ~= expected) then
  return -1
end
redis.call('HSET', KEYS[1], 'v', expected + 1, 'd', ARGV[2], 't', ARGV[4])
if current == false then
  redis.call('ZADD', KEYS[2], 0, ARGV[3])
end
for i = 3, #KEYS do
  local item, due = ARGV[2 * i - 1], ARGV[2 * i]
  if due == '' then
    redis.call('ZREM', KEYS[i], item)
  else
    redis.call('ZADD', KEYS[i], due, item)
  end
end
return expected + 1
"""

# KEYS[1] the mark; ARGV[1] this call's token, ARGV[2] time to live (ms). 1 when this call set it (a re-sent run
# finds its own token), else 0.
_MARK = """
local held = redis.call('GET', KEYS[1])
if held == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if held == ARGV[1] then
  return 1
end
return 0
"""

# KEYS[1] a pause (a mark holding its end); ARGV[1] its end in Unix seconds ('0': only read), ARGV[2] time to keep
# it (ms). Returns the end of the latest pause kept, as a string (Redis would cut a Lua number to an integer).
_PAUSE = """
local held = redis.call('GET', KEYS[1])
if tonumber(ARGV[1]) > tonumber(held or '0') then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
return held or '0'
"""

# KEYS[1] record hash, KEYS[2] its shard's index; ARGV[1] the record's address. Returns 1 when there was one.
_DELETE = """
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])
"""

# KEYS[1] a shard's part of a queue; ARGV[1] now, ARGV[2] lease end, ARGV[3] limit. Claimed items move to the lease
# end, so another replica's claim skips them until it passes. Returns item, due time, item, due time, ... (A claim
# re-sent after its answer was lost finds its items leased: they wait for the lease to end, never run twice.)
_CLAIM = """
local found = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
for i = 1, #found, 2 do
  redis.call('ZADD', KEYS[1], ARGV[2], found[i])
end
return found
"""

# What a Redis that cannot serve right now raises: a lost connection, a timeout, a cluster that is resharding or has
# lost a node, a Sentinel that knows no master. Other errors are bugs and surface as they are.
_UNAVAILABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
    redis.exceptions.RedisClusterException,
)


class RedisStore:
    """A ``Store`` on Redis: records are hashes ``{v, d, t}`` (version, data, token of the last save), marks are
    strings with a time to live, queues are sorted sets; every key as ``redis_layout`` places it."""

    def __init__(self, client: RedisClient, close: Callable[[], Awaitable[None]] | None = None) -> None:
        self._redis = client
        self._close = close or client.aclose
        # redis-py's async cluster client, first used by many tasks at once, reported first saves of fresh keys as
        # conflicts and wrote to closed connections (48 concurrent saves on a new client, redis-py 8.1); so it
        # learns the cluster's layout once, before any other call.
        self._unstarted = isinstance(client, aioredis.RedisCluster)
        self._starting: asyncio.Lock | None = None
        self._put = client.register_script(_PUT)
        self._delete = client.register_script(_DELETE)
        self._mark = client.register_script(_MARK)
        self._claim = client.register_script(_CLAIM)
        self._pause = client.register_script(_PAUSE)

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        """Connect lazily to the Redis, Redis Cluster or Sentinel-watched Redis at ``url`` (see ``redis_urls``)."""
        return cls(*connect(url))

    def __repr__(self) -> str:
        return "RedisStore()"

    async def _start(self) -> None:
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._unstarted:
                assert isinstance(self._redis, aioredis.RedisCluster)
                await self._redis.initialize()
                self._unstarted = False

    async def _call(self, call: Callable[[], Awaitable[_T]]) -> _T:
        try:
            if self._unstarted:
                await self._start()
            return await call()
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"Redis store: {type(exc).__name__}") from None

    async def get(self, key: str) -> Record | None:
        version, data = await self._call(lambda: self._redis.hmget(layout.record_key(key), ["v", "d"]))
        return None if version is None or data is None else Record(str(data), int(version))

    async def put(self, key: str, data: str, expected_version: int, due: Sequence[DueChange] = ()) -> int:
        due_beside(key, due)
        shard = layout.shard_of(key)
        keys = [layout.record_key(key), layout.index_key(shard)]
        keys += [layout.queue_key(change.queue, shard) for change in due]
        args: list[str | int | float] = [expected_version, data, key, secrets.token_hex(8)]
        for change in due:
            args += [change.item, "" if change.due_at is None else repr(change.due_at)]
        result = await self._call(lambda: self._put(keys=keys, args=args))
        if int(result) < 0:
            raise VersionConflict(f"{key} is no longer at version {expected_version}")
        return int(result)

    async def delete(self, key: str) -> None:
        keys = [layout.record_key(key), layout.index_key(layout.shard_of(key))]
        await self._call(lambda: self._delete(keys=keys, args=[key]))

    async def scan(self, prefix: str) -> list[tuple[str, Record]]:
        async def work() -> list[tuple[str, Record]]:
            # Each shard lists its records' addresses in a sorted set (all scored 0), so a prefix is a lexical range
            # instead of a SCAN over the keyspace. Addresses are ASCII, so "\x7f" sorts after any of them.
            listing = self._redis.pipeline(transaction=False)
            for shard in layout.shards_for_prefix(prefix):
                listing.zrangebylex(layout.index_key(shard), f"[{prefix}", f"[{prefix}\x7f")
            found: list[list[Any]] = await listing.execute()
            keys = sorted(str(key) for keys in found for key in keys)
            if not keys:
                return []
            reading = self._redis.pipeline(transaction=False)
            for key in keys:
                reading.hmget(layout.record_key(key), ["v", "d"])
            rows: list[Any] = await reading.execute()
            return [(key, Record(d, int(v))) for key, (v, d) in zip(keys, rows, strict=True) if v is not None]

        return await self._call(work)

    async def purge(self, address: str, prefix: bool = False) -> Purged:
        async def work() -> Purged:
            shards = layout.shards_for_prefix(address) if prefix else [layout.shard_of(address)]
            if prefix:
                listing = self._redis.pipeline(transaction=False)
                for shard in shards:
                    listing.zrangebylex(layout.index_key(shard), f"[{address}", f"[{address}\x7f")
                found: list[list[Any]] = await listing.execute()
                addresses = [str(key) for keys in found for key in keys]
            else:
                addresses = [address]
            records = 0
            for each in addresses:
                keys = [layout.record_key(each), layout.index_key(layout.shard_of(each))]
                records += int(await self._delete(keys=keys, args=[each]))
            # Queue entries live on their item's shard, in that shard's part of each queue; the store does not
            # list its queues, so it looks for them (a rare, deliberate walk: forgetting a clinic).
            due = 0
            for shard in shards:
                async for queue in self._redis.scan_iter(match=layout.queues_pattern(shard)):
                    if prefix:
                        pattern = layout.glob(address) + "*"
                        items = [item async for item, _ in self._redis.zscan_iter(queue, match=pattern)]
                    else:
                        items = [address]
                    if items:
                        due += int(await self._redis.zrem(queue, *items))
            marks = 0
            if prefix:
                async for mark in self._redis.scan_iter(match=layout.mark_pattern(address)):
                    marks += int(await self._redis.delete(mark))
            else:
                marks += int(await self._redis.delete(layout.mark_key(address)))
            return Purged(records, marks, due)

        return await self._call(work)

    async def mark_once(self, key: str, ttl_seconds: float) -> bool:
        args: list[str | int] = [secrets.token_hex(8), max(1, int(ttl_seconds * 1000))]
        created = await self._call(lambda: self._mark(keys=[layout.mark_key(key)], args=args))
        return bool(int(created))

    async def marked(self, key: str) -> bool:
        return bool(await self._call(lambda: self._redis.exists(layout.mark_key(key))))

    async def renew_mark(self, key: str, ttl_seconds: float) -> bool:
        milliseconds = max(1, int(ttl_seconds * 1000))
        return bool(await self._call(lambda: self._redis.pexpire(layout.mark_key(key), milliseconds)))

    async def unmark(self, key: str) -> None:
        await self._call(lambda: self._redis.delete(layout.mark_key(key)))

    async def pause_until(self, key: str, until: float) -> float:
        # Kept a minute past its end (by this host's clock), so a replica whose clock lags still sees it end.
        keep = max(60_000, int((until - time.time() + 60) * 1000))
        held = await self._call(lambda: self._pause(keys=[layout.mark_key(key)], args=[repr(until), keep]))
        return float(held.decode() if isinstance(held, bytes) else held)

    async def schedule(self, queue: str, item: str, due_at: float) -> None:
        await self._call(lambda: self._redis.zadd(layout.queue_key(queue, layout.shard_of(item)), {item: due_at}))

    async def schedule_by(self, queue: str, item: str, due_at: float) -> None:
        key = layout.queue_key(queue, layout.shard_of(item))
        await self._call(lambda: self._redis.zadd(key, {item: due_at}, lt=True))  # LT: add, or only move sooner

    async def claim_due(self, queue: str, now: float, lease_seconds: float, limit: int) -> list[str]:
        async def work() -> list[str]:
            # One read of every shard's earliest due items, then an atomic claim on just the shards that hold the
            # `limit` earliest: an idle queue costs one pipelined round trip, however many shards there are.
            looking = self._redis.pipeline(transaction=False)
            for shard in range(layout.SHARDS):
                looking.zrangebyscore(layout.queue_key(queue, shard), "-inf", now, start=0, num=limit, withscores=True)
            due: list[list[tuple[Any, float]]] = await looking.execute()
            earliest = heapq.nsmallest(
                limit, ((score, shard) for shard, items in enumerate(due) for _, score in items), key=lambda x: x[0]
            )
            wanted: dict[int, int] = {}
            for _, shard in earliest:
                wanted[shard] = wanted.get(shard, 0) + 1
            claims = await asyncio.gather(
                *(
                    self._claim(keys=[layout.queue_key(queue, shard)], args=[now, now + lease_seconds, count])
                    for shard, count in wanted.items()
                )
            )
            # Earliest first across shards, as one queue would give them.
            pairs = [(float(claimed[i + 1]), str(claimed[i])) for claimed in claims for i in range(0, len(claimed), 2)]
            return [item for _, item in sorted(pairs)]

        return await self._call(work)

    async def unschedule(self, queue: str, item: str) -> None:
        await self._call(lambda: self._redis.zrem(layout.queue_key(queue, layout.shard_of(item)), item))

    async def ping(self) -> None:
        await self._call(self._redis.ping)

    async def aclose(self) -> None:
        await self._close()
