"""A clinic's onboarding record, keyed by the channel shared with it: its name, support thread and credential."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from conversations.schema import readable

SCHEMA_MAJOR = 1
"""The highest ``schema_version`` major of a clinic record this release reads (see ``conversations.schema``)."""


class StoredCredential(BaseModel):
    """A verified Dentally key, encrypted at rest, with what was proven about it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    ciphertext: str
    fingerprint: str
    region: str
    scopes: tuple[str, ...]
    verified_at: float
    verified_by: str
    last_keepalive: float | None = None
    keepalive_result: str | None = None
    # When the bot first found that no configured encryption key opens ``ciphertext`` (None: it opens, or untried).
    undecryptable_at: float | None = None
    # The hand-off of this key to Aldense: None (no hand-off configured), "pending", "delivered" or "failed".
    handoff: str | None = None
    handoff_rounds: int = 0
    handoff_detail: str | None = None

    def __repr__(self) -> str:
        return f"StoredCredential(fingerprint={self.fingerprint!r}, region={self.region!r})"


class Clinic(BaseModel):
    """One clinic's onboarding, keyed by the shared channel.

    ``unverified_keys`` maps a user to the Fernet ciphertext of the key they last entered that could not be
    checked yet, so "Check again" needs no re-typing; it is dropped once the key is verified or rejected.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    # What this release writes; a record of any readable version is relabelled on reading (see ``_readable``).
    schema_version: Literal[1] = 1
    platform: str
    channel: str
    name: str | None = None
    channel_name: str | None = None
    team: str | None = None
    support_ref: str | None = None
    credential: StoredCredential | None = None
    unverified_keys: dict[str, str] = {}
    last_check: dict[str, object] | None = None
    created_at: float
    updated_at: float

    @model_validator(mode="before")
    @classmethod
    def _readable(cls, data: Any) -> Any:
        return readable("clinic", data, major=SCHEMA_MAJOR, writes=1)

    @property
    def display_name(self) -> str:
        """The clinic's name when known, else its channel."""
        if self.name:
            return self.name
        return f"#{self.channel_name}" if self.channel_name else self.channel
