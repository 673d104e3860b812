"""The chat platforms clinics use, as Aldense's support tools and timed work see them.

Support lives in Slack whatever the clinic uses; a clinic on another platform (Microsoft Teams) registers a
``ClinicPlatform`` so the status card names its people and channel, links to its thread, and so reminders, resets and
dead-key notices reach it. Slack itself is the built-in default and needs no entry.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Protocol

from conversations.conversation import Conversation
from conversations.outbox import OutboxBatch
from conversations.service import Outcome

SLACK = "slack"
LABELS = {SLACK: "Slack", "teams": "Microsoft Teams"}


def label(platform: str) -> str:
    """How support reads a platform's name."""
    return LABELS.get(platform, platform.title())


class ClinicPlatform(Protocol):
    """A platform other than Slack where clinics run the guide."""

    @property
    def name(self) -> str:
        """The platform id used in conversation keys (``teams``)."""
        ...

    async def person(self, user: str) -> str:
        """How support sees ``user`` in Slack text (a name, since Slack cannot mention them)."""
        ...

    async def channel_name(self, channel: str) -> str | None:
        """The clinic channel's name, if known."""
        ...

    async def thread_link(self, conversation: Conversation) -> str | None:
        """A link that opens the user's guide on that platform, if one can be made."""
        ...

    async def carry_out(self, outcome: Outcome) -> None:
        """Carry out a guide's effects there (reminders, resets)."""
        ...

    async def recover(self, state: Conversation, batch: OutboxBatch) -> None:
        """Carry out a batch a dead process (or an outage) left unfinished in the outbox."""
        ...

    async def time_zone(self, user: str) -> tzinfo | None:
        """The user's time zone for reminders, if known."""
        ...

    async def tell_new_key_needed(self, channel: str, fingerprint: str) -> None:
        """Tell the clinic that Dentally no longer accepts its stored key."""
        ...
