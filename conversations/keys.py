"""The one place that builds store keys, so every record of the product lives under one versioned namespace."""

from __future__ import annotations

from dataclasses import dataclass

NAMESPACE = "aldense:v1"


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
        return cls(*parts[3:])


def store_key(kind: str, *parts: str) -> str:
    """Build a store key such as ``aldense:v1:conv:slack:T1:C1:U1``.

    Args:
        kind: The record kind (``conv``, ``clinic``, ``event``, ...).
        parts: Ids that identify the record; a ``:`` inside an id is rejected so keys stay unambiguous.
    """
    for part in parts:
        if not part or ":" in part:
            raise ValueError(f"store key part {part!r} is empty or contains ':'")
    return ":".join((NAMESPACE, kind, *parts))


def clinic_key(platform: str, channel: str) -> str:
    """Key of a clinic's onboarding record, which is keyed by the shared channel."""
    return store_key("clinic", platform, channel)


def parse_clinic_key(text: str) -> tuple[str, str]:
    """The (platform, channel) of a key written by ``clinic_key``; raises ``ValueError`` for anything else."""
    parts = text.split(":")
    if len(parts) != 5 or ":".join(parts[:3]) != f"{NAMESPACE}:clinic":
        raise ValueError(f"not a clinic key: {text[:80]!r}")
    return parts[3], parts[4]


def clinic_prefix(platform: str) -> str:
    """Prefix of every clinic record of a platform."""
    return store_key("clinic", platform) + ":"


def conversation_prefix(platform: str, team: str, channel: str | None = None) -> str:
    """Prefix of every conversation key of a team, or of one channel."""
    parts = [platform, team] if channel is None else [platform, team, channel]
    return store_key("conv", *parts) + ":"


NUDGE_QUEUE = store_key("due", "nudge")
KEEPALIVE_QUEUE = store_key("due", "keepalive")
