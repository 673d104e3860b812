"""Where the Redis store keeps things (layout ``aldense:v2``): shards whose hash tag keeps each in one cluster slot.

Redis Cluster lets a Lua script touch keys of one hash slot only, and the save script touches a record, the index
that lists records for ``scan`` and the due queues the record promises work on. So nothing here is global:

- There are ``SHARDS`` shards, ``{00}`` … ``{15}``. Every key of the layout starts ``aldense:v2:{NN}:``; Redis hashes
  only the text between the braces, so everything of one shard sits in one slot (on one node), and the shards
  spread over the cluster's nodes.
- A record's shard comes from its placement (``conversations.addresses.placement``): a clinic's record and every
  conversation in its channel share one; any other record is placed by its whole address.
- Each shard has its own index (``…{NN}:_index``, the addresses of its records) and its own part of every due queue
  (``…{NN}:_queue:due:nudge``). A queue entry lives on the shard of its item, so a record and the entries it
  promises are saved by one script in one slot.
- ``scan`` reads the one shard a channel's prefix pins, or every shard for a wider prefix; ``claim_due`` looks at
  every shard's part of a queue. Marks (``…{NN}:_mark:…``) are single keys, sharded only to keep one rule.

A record's address ``aldense:v1:conv:slack:T1:C1:U1`` is kept as ``aldense:v2:{07}:conv:slack:T1:C1:U1`` (the
address namespace, which SQLite stores as it is, did not change; only this layout did). An address outside that
namespace is kept as ``=`` and the whole address, and the layout's own structures start with ``_``, so no two
things share a key. The shard count is part of the layout: changing it is a new layout with its own migration.
"""

from __future__ import annotations

import zlib

from conversations.addresses import NAMESPACE, placement, prefix_placement

LAYOUT = "aldense:v2"
"""Prefix of every key of this layout."""

SHARDS = 16
"""How many shards; enough to spread over a cluster's nodes, few enough that reading all of them stays cheap."""

V1_INDEX = f"{NAMESPACE}:index"
"""Layout v1 (until this one): records at their address, one global index of them, queues at their address."""

_ADDRESS_START = NAMESPACE + ":"


def shard_of(address: str) -> int:
    """The shard of the record (or queue item, or mark) at ``address``."""
    return zlib.crc32(placement(address).encode()) % SHARDS


def shards_for_prefix(prefix: str) -> range:
    """The shards that may hold records whose address starts with ``prefix``."""
    pinned = prefix_placement(prefix)
    if pinned is None:
        return range(SHARDS)
    shard = zlib.crc32(pinned.encode()) % SHARDS
    return range(shard, shard + 1)


def _tag(shard: int) -> str:
    return f"{LAYOUT}:{{{shard:02d}}}:"


def _name(address: str) -> str:
    rest = address[len(_ADDRESS_START) :]
    if not address.startswith(_ADDRESS_START) or rest.startswith(("=", "_")):
        return "=" + address
    return rest


def record_key(address: str) -> str:
    """The hash ``{v, d}`` that holds the record at ``address``."""
    return _tag(shard_of(address)) + _name(address)


def index_key(shard: int) -> str:
    """The sorted set (all scores 0) of the addresses of a shard's records, read by prefix."""
    return _tag(shard) + "_index"


def queue_key(queue: str, shard: int) -> str:
    """A shard's part of the due queue ``queue``: the sorted set of its items by due time."""
    return _tag(shard) + "_queue:" + _name(queue)


def glob(text: str) -> str:
    """``text`` as a Redis ``MATCH`` pattern that matches only itself."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


def queues_pattern(shard: int) -> str:
    """A ``MATCH`` pattern for a shard's part of every due queue."""
    return glob(_tag(shard)) + "_queue:*"


def mark_pattern(prefix: str) -> str:
    """A ``MATCH`` pattern for the marks of every address that starts with ``prefix``, on any shard."""
    return f"{LAYOUT}:{{??}}:_mark:" + glob(_name(prefix)) + "*"


def mark_key(address: str) -> str:
    """The string that holds the mark ``address`` until it expires."""
    return _tag(shard_of(address)) + "_mark:" + _name(address)
