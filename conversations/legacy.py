"""Reads conversation records written before conversations remembered their place by step id instead of index."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conversations.guide import Guide

# Effects that used to name their step by ``index`` (Report's could be None).
_INDEXED_EFFECTS = frozenset({"PostStep", "CloseStep", "ConfirmHelpComing", "Report", "Remind"})


def step_ids_from_indexes(raw: dict[str, Any], guides: Sequence[Guide]) -> dict[str, Any]:
    """Turn an old record's ``step_index`` (and its outbox effects' ``index``) into step ids.

    An index only means something in the guide version it was written with, so that version is used when it is
    among ``guides``; otherwise the first of ``guides`` (the current guide) is the best answer there is.

    Args:
        raw: The record as parsed JSON, with ``step_index`` (absent meant 0) and no ``step_id``.
        guides: The current guide first, then any earlier versions still known.

    Returns:
        A copy of ``raw`` with ``step_id`` in place of ``step_index``.

    Raises:
        ValueError: No guide was given, so an index cannot be read.
    """
    if not guides:
        raise ValueError("this record names its step by index; reading it needs the guide it was written with")
    written_with = (raw.get("guide_id"), raw.get("guide_version"))
    guide = next((g for g in guides if (g.id, g.version) == written_with), guides[0])
    upgraded = {name: value for name, value in raw.items() if name != "step_index"}
    upgraded["step_id"] = _step_id(guide, raw.get("step_index", 0))
    if isinstance(raw.get("outbox"), list):
        upgraded["outbox"] = [_upgrade_batch(batch, guide) for batch in raw["outbox"]]
    return upgraded


def _upgrade_batch(batch: Any, guide: Guide) -> Any:
    if not isinstance(batch, dict) or not isinstance(batch.get("effects"), list):
        return batch  # not ours to judge: validation of the record reports it
    return {**batch, "effects": [_upgrade_effect(effect, guide) for effect in batch["effects"]]}


def _upgrade_effect(effect: Any, guide: Guide) -> Any:
    if not isinstance(effect, dict) or effect.get("type") not in _INDEXED_EFFECTS or "index" not in effect:
        return effect
    upgraded = {name: value for name, value in effect.items() if name != "index"}
    upgraded["step_id"] = None if effect["index"] is None else _step_id(guide, effect["index"])
    return upgraded


def _step_id(guide: Guide, index: Any) -> str:
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ValueError(f"step_index must be a whole number of 0 or more, not {index!r}")
    # Past the end happens only when the written-with guide is unknown and the current one is shorter.
    return guide.steps[min(index, guide.step_count - 1)].id
