"""A clinic's onboarding record, keyed by the channel shared with it: its name, support thread and connection."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from conversations.connection import Connection, StoredCredential, from_credential
from conversations.schema import readable

__all__ = ["SCHEMA_MAJOR", "Clinic", "StoredCredential"]

SCHEMA_MAJOR = 1
"""The highest ``schema_version`` major of a clinic record this release reads (see ``conversations.schema``)."""


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
    connection: Connection | None = None
    unverified_keys: dict[str, str] = {}
    live_results: dict[str, list[str]] = {}
    """Per person, the key results posted with buttons ("Try another key", "Check again") not yet retired."""
    live_reminders: dict[str, list[str]] = {}
    """Per person, the reminders posted with a Resume button not yet retired."""
    regions: dict[str, str] = {}
    """The region each person chose in the key form last time, so a retry starts with it."""
    last_check: dict[str, object] | None = None
    created_at: float
    updated_at: float

    @model_validator(mode="before")
    @classmethod
    def _readable(cls, data: Any) -> Any:
        return readable("clinic", data, major=SCHEMA_MAJOR, writes=1)

    @model_validator(mode="after")
    def _connection_of_credential(self) -> Clinic:
        # Written by a release that only knew ``credential`` (or changed by one since): read its key as the
        # connection. Frozen, so the field is set once here, while the model is being built.
        credential, connection = self.credential, self.connection
        if credential is None and connection is not None:
            object.__setattr__(self, "credential", connection.key)
        elif credential is not None and (connection is None or connection.fingerprint != credential.fingerprint):
            object.__setattr__(self, "connection", from_credential(credential))
        elif credential is not None and connection is not None and connection.key != credential:
            # The same key, kept alive by an older replica: take its news, keep what it could not know.
            object.__setattr__(self, "connection", connection.with_key(credential))
        return self

    def with_connection(self, connection: Connection | None) -> Clinic:
        """This record with ``connection`` in place (and its key mirrored in ``credential``)."""
        return self.model_copy(update={"connection": connection, "credential": connection.key if connection else None})

    @property
    def display_name(self) -> str:
        """The clinic's name when known, else its channel."""
        if self.name:
            return self.name
        return f"#{self.channel_name}" if self.channel_name else self.channel
