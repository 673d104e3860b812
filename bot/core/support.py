"""What the core tells Aldense's support team (support itself lives in Slack: ``bot.slack.support``)."""

from __future__ import annotations

from typing import Protocol

from bot.core.messages import Standing
from conversations.conversation import Conversation
from conversations.events import Milestone


class SupportReports(Protocol):
    """Where milestones and notes about a clinic go."""

    async def milestone(self, conversation: Conversation, milestone: Milestone, step_id: str | None) -> None:
        """Report ``milestone`` of ``conversation`` (and refresh the clinic's status card)."""
        ...

    async def note(self, conversation: Conversation, text: str, broadcast: bool = False) -> None:
        """Post ``text`` (Slack mrkdwn) in the clinic's support thread."""
        ...

    async def clinic_note(self, platform: str, channel: str, text: str, broadcast: bool = False) -> None:
        """Like ``note`` for a clinic as a whole."""
        ...

    async def connection_changed(self, platform: str, channel: str, standing: Standing) -> None:
        """Tell support what a verified key did to the clinic's connection; a held key asks staff to decide."""

    async def clinic_said(self, conversation: Conversation, speaker: str, text: str) -> None:
        """Forward ``text``, typed by ``speaker`` in ``conversation``'s thread, to support (shown as typed, escaped)."""
        ...

    async def refresh_card(self, platform: str, channel: str, urgent: bool = True) -> None:
        """Re-render the clinic's status card soon; ``urgent`` (a person waits on it) before progress-only ones."""
        ...

    async def close_page(self, conversation: Conversation, asked_at: float, line: str) -> None:
        """Replace the **Resolved** button of the page for the request made at ``asked_at`` with ``line``."""
        ...

    async def retire_card(self, support_ref: str, text: str) -> bool:
        """Replace the status card at ``support_ref`` with ``text`` alone (the clinic was forgotten).

        Returns:
            Whether the card now says ``text`` (False when support is not configured or the platform refused).
        """
        ...
