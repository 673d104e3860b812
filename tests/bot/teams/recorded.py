"""Microsoft's recorded Teams activities (``recorded/``), with their ids re-pointed to a test world."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).with_name("recorded")


def load(name: str) -> dict[str, Any]:
    """The recorded activity ``recorded/<name>.json``, as recorded."""
    activity = json.loads((FOLDER / f"{name}.json").read_text(encoding="utf-8"))
    assert isinstance(activity, dict)
    return activity


def repoint(activity: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    """``activity`` with every string that holds one of ``ids``' keys rewritten to its value (longest first).

    Only ids change: the shape, every field present or absent, stays as Microsoft recorded it. A recorded id
    left over would be a real tenant's or person's, so each key must occur somewhere.
    """
    text = json.dumps(activity)
    for old in sorted(ids, key=len, reverse=True):
        assert old in text, f"{old!r} is not in the recorded activity"
        text = text.replace(json.dumps(old)[1:-1], json.dumps(ids[old])[1:-1])
    repointed = json.loads(text)
    assert isinstance(repointed, dict)
    return repointed
