"""The shared store for many replicas: Redis through ``redis.asyncio``, every compare-and-set a Lua script."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
import redis.exceptions

from conversations.store import DueChange, Record, StoreUnavailable, VersionConflict

_T = TypeVar("_T")

# KEYS[1] record hash, KEYS[2] the key index, KEYS[3..] due queues; ARGV[1] expected version (0: absent),
# ARGV[2] data, then per queue an item and its due time ('' removes it). Returns the new version or -1; the index
# and the queues change only with the record.
_PUT = """
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

# KEYS[1] sorted set; ARGV[1] now, ARGV[2] lease end, ARGV[3] limit. Claimed items move to the lease end.
_CLAIM = """
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, item in ipairs(items) do
  redis.call('ZADD', KEYS[1], ARGV[2], item)
end
return items
"""


KEY_INDEX = "aldense:v1:index"
"""A sorted set of every record key, kept by the save script, that ``scan`` reads by prefix."""


class RedisStore:
    """A ``Store`` on Redis: records are hashes ``{v, d}``, marks are ``SET NX PX``, queues are sorted sets."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client
        self._put = client.register_script(_PUT)
        self._claim = client.register_script(_CLAIM)

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        """Connect lazily to the Redis at ``url``."""
        return cls(aioredis.Redis.from_url(url, decode_responses=True, socket_timeout=5, socket_connect_timeout=3))

    def __repr__(self) -> str:
        return "RedisStore()"

    async def _call(self, call: Callable[[], Awaitable[_T]]) -> _T:
        try:
            return await call()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise StoreUnavailable(f"Redis store: {type(exc).__name__}") from None

    async def get(self, key: str) -> Record | None:
        version, data = await self._call(lambda: self._redis.hmget(key, ["v", "d"]))
        return None if version is None or data is None else Record(str(data), int(version))

    async def put(self, key: str, data: str, expected_version: int, due: Sequence[DueChange] = ()) -> int:
        keys = [key, KEY_INDEX, *(change.queue for change in due)]
        args: list[str | int | float] = [expected_version, data]
        for change in due:
            args += [change.item, "" if change.due_at is None else repr(change.due_at)]
        result = await self._call(lambda: self._put(keys=keys, args=args))
        if int(result) < 0:
            raise VersionConflict(f"{key} is no longer at version {expected_version}")
        return int(result)

    async def delete(self, key: str) -> None:
        async def work() -> None:
            pipe = self._redis.pipeline(transaction=True)
            pipe.delete(key)
            pipe.zrem(KEY_INDEX, key)
            await pipe.execute()

        await self._call(work)

    async def scan(self, prefix: str) -> list[tuple[str, Record]]:
        async def work() -> list[tuple[str, Record]]:
            # Records are listed in a sorted set of their keys (all scored 0), so a prefix is a lexical range
            # instead of a SCAN over the whole keyspace. Keys are ASCII, so "\x7f" sorts after any of them.
            keys = [str(k) for k in await self._redis.zrangebylex(KEY_INDEX, f"[{prefix}", f"[{prefix}\x7f")]
            if not keys:
                return []
            pipe = self._redis.pipeline(transaction=False)
            for key in keys:
                pipe.hmget(key, ["v", "d"])
            rows: list[Any] = await pipe.execute()
            return [(key, Record(d, int(v))) for key, (v, d) in zip(keys, rows, strict=True) if v is not None]

        return await self._call(work)

    async def mark_once(self, key: str, ttl_seconds: float) -> bool:
        created = await self._call(lambda: self._redis.set(key, "1", nx=True, px=max(1, int(ttl_seconds * 1000))))
        return bool(created)

    async def marked(self, key: str) -> bool:
        return bool(await self._call(lambda: self._redis.exists(key)))

    async def unmark(self, key: str) -> None:
        await self._call(lambda: self._redis.delete(key))

    async def schedule(self, queue: str, item: str, due_at: float) -> None:
        await self._call(lambda: self._redis.zadd(queue, {item: due_at}))

    async def claim_due(self, queue: str, now: float, lease_seconds: float, limit: int) -> list[str]:
        items = await self._call(lambda: self._claim(keys=[queue], args=[now, now + lease_seconds, limit]))
        return [str(item) for item in items]

    async def unschedule(self, queue: str, item: str) -> None:
        await self._call(lambda: self._redis.zrem(queue, item))

    async def ping(self) -> None:
        await self._call(self._redis.ping)

    async def aclose(self) -> None:
        await self._redis.aclose()
