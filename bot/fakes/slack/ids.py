"""The ids Slack fills in when it saves blocks (block_id, action_id), made of short hashes that are stable per seed."""

from __future__ import annotations

import copy
import hashlib

from bot.fakes.slack.records import JSON

_INTERACTIVE_BLOCK_KEYS = ("accessory", "element")


def stable_id(seed: str) -> str:
    """Five hex digits derived from ``seed``: the same seed always gives the same id."""
    return hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()[:5]


def with_ids(blocks: list[JSON], seed: str) -> list[JSON]:
    """Give every block a ``block_id`` and every interactive element an ``action_id``, as Slack does on save."""
    filled = copy.deepcopy(blocks)
    for index, block in enumerate(filled):
        block.setdefault("block_id", stable_id(f"{seed}:{index}"))
        elements = [block[k] for k in _INTERACTIVE_BLOCK_KEYS if isinstance(block.get(k), dict)]
        if block.get("type") == "actions":
            elements += [e for e in block.get("elements", []) if isinstance(e, dict)]
        for position, element in enumerate(elements):
            element.setdefault("action_id", stable_id(f"{seed}:{index}:{position}"))
    return filled
