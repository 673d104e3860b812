"""Store addresses (not "keys": in this product a key is a Dentally key): where every record lives in a store."""

from __future__ import annotations

import re
from dataclasses import dataclass

NAMESPACE = "aldense:v1"

# Platform ids may contain the separator (Teams: ``19:abc@thread.tacv2``, ``29:1xyz``), so a part's ``%`` and ``:``
# are percent-encoded. Ids without either (every Slack id) are written as they are, so existing keys are unchanged.
_ESCAPES = (("%", "%25"), (":", "%3A"))
_RAW = {escaped: raw for raw, escaped in _ESCAPES}
_ESCAPED = re.compile("|".join(re.escape(escaped) for _, escaped in _ESCAPES))


def _escape(part: str) -> str:
    for raw, escaped in _ESCAPES:
        part = part.replace(raw, escaped)
    return part


def _unescape(part: str) -> str:
    return _ESCAPED.sub(lambda match: _RAW[match.group(0)], part)


@dataclass(frozen=True, slots=True)
class ConversationKey:
    """Identifies one user's run of a guide in one channel, by platform ids only (never names)."""

    platform: str
    team: str
    channel: str
    user: str

    def __str__(self) -> str:
        return store_key("conv", self.platform, self.team, self.channel, self.user)

    @classmethod
    def parse(cls, text: str) -> ConversationKey:
        """Read a key written by ``str()``; raises ``ValueError`` for anything else."""
        parts = text.split(":")
        if len(parts) != 7 or ":".join(parts[:3]) != f"{NAMESPACE}:conv":
            raise ValueError(f"not a conversation key: {text[:80]!r}")
        return cls(*(_unescape(part) for part in parts[3:]))


def store_key(kind: str, *parts: str) -> str:
    """Build a store key such as ``aldense:v1:conv:slack:T1:C1:U1``.

    Args:
        kind: The record kind (``conv``, ``clinic``, ``event``, ...).
        parts: Ids that identify the record; a ``:`` or ``%`` inside an id is percent-encoded so keys stay
            unambiguous (and an empty id is rejected).
    """
    if not kind or ":" in kind:
        raise ValueError(f"store key kind {kind!r} is empty or contains ':'")
    for part in parts:
        if not part:
            raise ValueError("store key part is empty")
    return ":".join((NAMESPACE, kind, *(_escape(part) for part in parts)))


def clinic_key(platform: str, channel: str) -> str:
    """Key of a clinic's onboarding record, which is keyed by the shared channel."""
    return store_key("clinic", platform, channel)


def parse_clinic_key(text: str) -> tuple[str, str]:
    """The (platform, channel) of a key written by ``clinic_key``; raises ``ValueError`` for anything else."""
    parts = text.split(":")
    if len(parts) != 5 or ":".join(parts[:3]) != f"{NAMESPACE}:clinic":
        raise ValueError(f"not a clinic key: {text[:80]!r}")
    return _unescape(parts[3]), _unescape(parts[4])


def clinic_prefix(platform: str) -> str:
    """Prefix of every clinic record of a platform."""
    return store_key("clinic", platform) + ":"


def every_clinic_prefix() -> str:
    """Prefix of every clinic record of every platform."""
    return store_key("clinic") + ":"


def conversation_prefix(platform: str, team: str, channel: str | None = None) -> str:
    """Prefix of every conversation key of a team, or of one channel."""
    parts = [platform, team] if channel is None else [platform, team, channel]
    return store_key("conv", *parts) + ":"


NUDGE_QUEUE = store_key("due", "nudge")
KEEPALIVE_QUEUE = store_key("due", "keepalive")
OUTBOX_QUEUE = store_key("due", "outbox")
HANDOFF_QUEUE = store_key("due", "handoff")
CARD_QUEUE = store_key("due", "card")  # support's status cards that only show progress out of date
URGENT_CARD_QUEUE = store_key("due", "card-urgent")  # ... and those where a person waits on what the card says


# Stores that spread records over shards (Redis Cluster) keep records of one *placement* together. A clinic's
# record and every conversation in its channel share one, so a channel's guides are listed from one shard and work
# on a clinic and its people can be done in one atomic step. Any other record is placed by its whole address.
_NAMESPACE_PARTS = NAMESPACE.split(":")
_GROUPED = {"conv": (3, 5, 7), "clinic": (3, 4, 6)}  # kind: (platform part, channel part, parts of a pinned prefix)


def placement(address: str) -> str:
    """What decides which shard ``address`` lives on: its platform and channel for clinics and conversations.

    Addresses with the same placement always land on the same shard.
    """
    parts = address.split(":")
    platform_at, channel_at, _ = _GROUPED.get(parts[2], (0, 0, 0)) if len(parts) > 2 else (0, 0, 0)
    if platform_at and parts[:2] == _NAMESPACE_PARTS and len(parts) > channel_at:
        return f"{parts[platform_at]}:{parts[channel_at]}"
    return address


def prefix_placement(prefix: str) -> str | None:
    """The placement every address that starts with ``prefix`` has, or None when such addresses may differ.

    ``conversation_prefix(platform, team, channel)`` pins one (a channel's guides live on one shard); a team's or
    a platform's prefix does not.
    """
    parts = prefix.split(":")
    platform_at, channel_at, pinned = _GROUPED.get(parts[2], (0, 0, 0)) if len(parts) > 2 else (0, 0, 0)
    # The channel part must be followed by ':' in the prefix, else "…:C1" would also match channel "C10".
    if platform_at and parts[:2] == _NAMESPACE_PARTS and len(parts) >= pinned:
        return f"{parts[platform_at]}:{parts[channel_at]}"
    return None
