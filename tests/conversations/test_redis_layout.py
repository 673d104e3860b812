"""The Redis layout: every key a script touches shares one cluster slot, and no two things share a key."""

from __future__ import annotations

from redis.crc import key_slot

from conversations.addresses import NUDGE_QUEUE, OUTBOX_QUEUE, ConversationKey, clinic_key, conversation_prefix
from conversations.stores import redis_layout as layout


def slot(key: str) -> int:
    return int(key_slot(key.encode()))


def test_a_record_its_index_and_its_queue_entries_share_a_slot() -> None:
    for channel in [f"C{n}" for n in range(40)] + ["19:a@thread.tacv2"]:
        conversation = str(ConversationKey("teams", "T", channel, "29:1u"))
        shard = layout.shard_of(conversation)
        touched = [
            layout.record_key(conversation),
            layout.index_key(shard),
            layout.queue_key(NUDGE_QUEUE, shard),
            layout.queue_key(OUTBOX_QUEUE, shard),
            layout.record_key(clinic_key("teams", channel)),  # the clinic of that channel too
        ]
        assert len({slot(key) for key in touched}) == 1, touched
        assert layout.shards_for_prefix(conversation_prefix("teams", "T", channel)) == range(shard, shard + 1)


def test_shards_spread_over_many_slots_and_wide_prefixes_read_them_all() -> None:
    assert len({slot(layout.index_key(shard)) for shard in range(layout.SHARDS)}) == layout.SHARDS
    used = {layout.shard_of(str(ConversationKey("slack", "T", f"C{n}", "U"))) for n in range(200)}
    assert used == set(range(layout.SHARDS))
    assert layout.shards_for_prefix(conversation_prefix("slack", "T")) == range(layout.SHARDS)


def test_keys_are_readable_and_never_collide() -> None:
    address = str(ConversationKey("slack", "T1", "C1", "U1"))
    shard = layout.shard_of(address)
    assert layout.record_key(address) == f"aldense:v2:{{{shard:02d}}}:conv:slack:T1:C1:U1"
    odd = ["k", "=k", "_index", "aldense:v1:_index", "aldense:v1:=k", "aldense:v1:k", "aldense:v2:k"]
    names = [layout.record_key(a) for a in odd] + [layout.mark_key(a) for a in odd]
    names += [layout.index_key(s) for s in range(layout.SHARDS)] + [layout.queue_key(q, 0) for q in odd]
    assert len(set(names)) == len(names)
    assert all(name.startswith("aldense:v2:{") for name in names)
