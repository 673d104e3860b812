"""The stored state of one user's run of one guide, as versioned JSON (never pickle)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationInfo, model_validator

from conversations.addresses import ConversationKey
from conversations.guide import Guide
from conversations.legacy import step_ids_from_indexes
from conversations.outbox import OutboxBatch
from conversations.schema import readable

SCHEMA_MAJOR = 2
"""The highest ``schema_version`` major of a conversation this release reads (see ``conversations.schema``).

Major 2: the place is a step id (major 1 named it by index; such records are still read, see ``_step_id_from_index``).
"""


class Status(StrEnum):
    """Where a conversation stands."""

    ACTIVE = "active"
    AWAITING_KEY = "awaiting_key"
    CHECKING = "checking"
    VERIFIED = "verified"
    NEEDS_NEW_KEY = "needs_new_key"
    ABANDONED = "abandoned"


class StepTimes(BaseModel):
    """When a step was first reached and last finished (Unix seconds), and the help sought on it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    reached: float
    done: float | None = None
    # What the person did about problems on this step (the funnel of App Home counts them).
    offered_at: float | None = None
    """When "I'm stuck" last showed this step's troubles."""
    troubles: dict[str, float] = {}
    """The troubles chosen here, by id, with when each was last chosen."""
    asked_help: int = 0
    """How many times a person from Aldense was asked for help on this step."""


class Conversation(BaseModel):
    """One user's run of one guide in one channel.

    The place is a step id, never an index, so an edited guide cannot move anyone; ``steps`` keeps the steps
    reached in the order they were first reached, which is how an edit that removes the current step finds the
    nearest earlier one.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    # What this release writes; a record of any readable version is relabelled on reading (see ``_readable``).
    schema_version: Literal[2] = 2
    platform: str
    team: str
    channel: str
    user: str
    guide_id: str
    guide_version: int
    status: Status = Status.ACTIVE
    step_id: str
    thread_ref: str | None = None
    step_message_ref: str | None = None
    started_at: float
    updated_at: float
    steps: dict[str, StepTimes] = {}
    stuck_at: float | None = None
    nudges: int = 0
    last_nudge_at: float | None = None
    key_fingerprint: str | None = None
    last_verdict: str | None = None
    # Hand-over: whom this run was handed to (it then ends as abandoned), and whose run this one continues.
    handed_to: str | None = None
    taken_from: str | None = None
    outbox: tuple[OutboxBatch, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _readable(cls, data: Any) -> Any:
        return readable("conversation", data, major=SCHEMA_MAJOR, writes=2)

    @property
    def key(self) -> ConversationKey:
        """The ids that identify this conversation."""
        return ConversationKey(self.platform, self.team, self.channel, self.user)

    @property
    def quiet_since(self) -> float:
        """When the user last did something or was last reminded, whichever is later."""
        return max(self.updated_at, self.last_nudge_at or 0.0)

    @property
    def in_progress(self) -> bool:
        """Whether the user is still walking the steps or entering a key."""
        return self.status in (Status.ACTIVE, Status.AWAITING_KEY, Status.NEEDS_NEW_KEY)

    @model_validator(mode="before")
    @classmethod
    def _step_id_from_index(cls, data: Any, info: ValidationInfo) -> Any:
        """Records written before step ids named their place by index: read it in the guide they were written with."""
        if isinstance(data, dict) and "step_id" not in data:
            guides: Sequence[Guide] = (info.context or {}).get("guides", ())
            return step_ids_from_indexes(data, guides)
        return data

    def to_json(self) -> str:
        """Serialise for a store."""
        return self.model_dump_json(exclude_defaults=False)

    @classmethod
    def from_json(cls, text: str | bytes, guides: Sequence[Guide] = ()) -> Conversation:
        """Read what ``to_json`` wrote.

        Args:
            text: The stored JSON.
            guides: The current guide first, then earlier versions still known: a record that names its step by
                index (written before step ids) is read with the version it was written with, else the current one.
        """
        return cls.model_validate_json(text, context={"guides": tuple(guides)})
