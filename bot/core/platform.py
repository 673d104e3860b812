"""The chat platforms clinics use (Slack is one, Teams another): what the core needs of each, and their registry.

Every platform is a peer. The effect runner, the guide moves, key intake and follow-up talk to a platform only
through ``ChatPlatform``: post, edit, tell privately, look for what was posted, classify a failure, and a few facts
support's reports need (names, links, time zones). Adding a platform means one class that satisfies it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import tzinfo
from enum import Enum
from typing import Protocol

from bot.core.messages import Outgoing, Reminder, StepMessage, ThreadOpener
from conversations.conversation import Conversation


class Failure(Enum):
    """How a platform call failed, as the runner needs to know it."""

    UNREACHABLE = "unreachable"  # may well work later: leave the work in the outbox
    REFUSED = "refused"  # the platform said no: retrying would be refused again


class CannotLook(Exception):
    """The platform cannot look up what the bot posted earlier (the runner then posts, and says so in a log)."""


class ChatPlatform(Protocol):
    """One chat platform, as the platform-neutral core uses it."""

    @property
    def name(self) -> str:
        """The platform id in conversation keys (``slack``, ``teams``)."""
        ...

    @property
    def label(self) -> str:
        """How support reads the platform's name (``Slack``, ``Microsoft Teams``)."""
        ...

    async def post(self, channel: str, message: Outgoing, thread: str | None = None) -> str:
        """Post ``message`` (under ``thread`` when given); returns the posted message's reference.

        A message that carries a picture the platform cannot fetch is posted without it.
        """
        ...

    async def edit(self, channel: str, ref: str, message: Outgoing, thread: str | None = None) -> None:
        """Replace a message the bot posted."""
        ...

    async def tell(self, channel: str, user: str, message: Outgoing, thread: str | None = None) -> None:
        """Tell only ``user``; a courtesy, so failures are logged, never raised."""
        ...

    async def find_posted(self, state: Conversation, message: ThreadOpener | StepMessage | Reminder) -> str | None:
        """The reference of ``message`` if the bot already posted it for ``state`` (recovery looks before posting).

        Raises:
            CannotLook: The platform offers no way to look.
        """
        ...

    def failure(self, exc: BaseException) -> tuple[Failure, str] | None:
        """How ``exc`` from a call of this platform failed, with a short detail; None for anything else."""
        ...

    async def person(self, user: str) -> str:
        """How support sees ``user`` in Slack text (a mention on Slack, a bold name elsewhere)."""
        ...

    async def channel_name(self, channel: str) -> str | None:
        """The clinic channel's name, if known."""
        ...

    async def thread_link(self, conversation: Conversation) -> str | None:
        """A link that opens the user's guide on the platform, if one can be made."""
        ...

    async def time_zone(self, user: str) -> tzinfo | None:
        """The user's time zone for reminders, if known."""
        ...


class Platforms:
    """The platforms this process serves, by name."""

    def __init__(self) -> None:
        self._by_name: dict[str, ChatPlatform] = {}

    def add(self, platform: ChatPlatform) -> None:
        """Serve ``platform``'s clinics too."""
        self._by_name[platform.name] = platform

    def get(self, name: str) -> ChatPlatform | None:
        """The platform called ``name``, or None when this process does not serve it."""
        return self._by_name.get(name)

    def __getitem__(self, name: str) -> ChatPlatform:
        return self._by_name[name]

    def __iter__(self) -> Iterator[ChatPlatform]:
        return iter(self._by_name.values())

    @property
    def names(self) -> tuple[str, ...]:
        """Every platform's name, in the order they were added."""
        return tuple(self._by_name)


_LABELS = {"slack": "Slack", "teams": "Microsoft Teams"}


def label(name: str) -> str:
    """How support reads a platform's name, also for one this process does not serve."""
    return _LABELS.get(name, name.title())
