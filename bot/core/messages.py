"""What the bot says to clinics, as platform-neutral descriptions; each platform renders them its own way.

The core decides *what* to say (a step, a reminder, "this guide is not yours"); a platform's renderer decides how
it looks there (Block Kit on Slack, an Adaptive Card on Teams), so every behaviour is written once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from conversations.connection import Connection, Decision
from conversations.events import ClosedAs
from dentally.scopes import CheckResult


@dataclass(frozen=True, slots=True)
class Kickoff:
    """The kick-off in a clinic's channel: what will happen, how long, and a Start button."""

    welcome_user: str | None = None
    welcome_name: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadOpener:
    """The short top-level message under which a user's steps are posted; ``connected`` once their key connected
    the clinic."""

    user: str
    connected: bool = False


@dataclass(frozen=True, slots=True)
class StepMessage:
    """One step with its buttons; ``picture`` is False when the platform could not fetch the picture."""

    index: int
    user: str
    again: bool = False
    picture: bool = True

    def without_picture(self) -> StepMessage:
        """The same step with the picture's description instead of the picture."""
        return replace(self, picture=False)


@dataclass(frozen=True, slots=True)
class ClosedStep:
    """A step message closed in place: a compact line, no buttons."""

    index: int
    how: ClosedAs


@dataclass(frozen=True, slots=True)
class HelpComing:
    """The reply in the user's thread after "I'm stuck"; ``promise`` says when a human is likely to answer."""

    index: int
    promise: str | None = None


@dataclass(frozen=True, slots=True)
class TroubleOffer:
    """Shown privately after I'm stuck: the common problems of step ``index`` as buttons, and "Still stuck"."""

    index: int
    owner: str


@dataclass(frozen=True, slots=True)
class TroubleAnswer:
    """Shown privately: the answer to trouble ``trouble_id`` of step ``index``; ``moved_to`` when it jumped there.

    A trouble that offers the hand-over carries its button; every answer keeps "Still stuck — ask Aldense".
    """

    index: int
    trouble_id: str
    owner: str
    moved_to: int | None = None


@dataclass(frozen=True, slots=True)
class Reminder:
    """A polite nudge for a quiet guide, with a Resume button."""

    index: int
    user: str
    count: int


@dataclass(frozen=True, slots=True)
class ResetNotice:
    """Told in the thread when Aldense staff reset a guide; ``disconnected`` when the connection was reset too.

    ``connection`` is the clinic's connection that stays in place (None when there is none, or it was reset).
    """

    disconnected: bool = False
    connection: Connection | None = None


@dataclass(frozen=True, slots=True)
class KeyCheckLost:
    """Told when the check of a key was cut short (the key was only in memory), with a button to enter it again."""

    user: str


@dataclass(frozen=True, slots=True)
class Standing:
    """What a verified key did to the clinic's connection, as the person who entered it is told."""

    decision: Decision
    connection: Connection
    """The connection after the key: for ``HOLD`` the one still in use, with the key held as ``pending``."""

    @property
    def held(self) -> bool:
        """Whether the key waits for Aldense staff (another practice or user than the connected one)."""
        return self.decision is Decision.HOLD


@dataclass(frozen=True, slots=True)
class KeyResult:
    """A key check's result in the user's thread: each permission, and what to do next.

    ``standing`` says what a verified key did to the clinic's connection (None for any other verdict).
    """

    result: CheckResult
    user: str
    standing: Standing | None = None


@dataclass(frozen=True, slots=True)
class AlreadyConnected:
    """Told privately on Start in a clinic whose Dentally is connected: who connected it, when; a Replace button."""

    user: str
    connection: Connection


@dataclass(frozen=True, slots=True)
class AlreadyDone:
    """Told privately for a late click on a button whose moment passed: this is done, and where things stand."""

    user: str
    connection: Connection | None


@dataclass(frozen=True, slots=True)
class ClosedResult:
    """An earlier key result whose buttons retired once the clinic was connected: a closed line."""

    fingerprint: str | None


@dataclass(frozen=True, slots=True)
class ClosedReminder:
    """A reminder whose moment passed (a newer one, a verified key, a reset): a closed line."""


@dataclass(frozen=True, slots=True)
class ReplacementDecided:
    """Told in the clinic's channel when Aldense staff accepted or rejected a held replacement key."""

    accepted: bool
    fingerprint: str
    connection: Connection
    """The connection after the decision."""


@dataclass(frozen=True, slots=True)
class NewKeyNeeded:
    """Dentally no longer accepts the stored key: set up a new one."""

    fingerprint: str


@dataclass(frozen=True, slots=True)
class KeyExposed:
    """Posted under a chat message that shows a Dentally key: revoke it, then make a new one privately.

    ``stored`` when it is the key that connects the clinic (which is then marked compromised).
    """

    fingerprint: str
    stored: bool


@dataclass(frozen=True, slots=True)
class QuestionForwarded:
    """Told privately to someone who typed in a guide's thread: their words went to the Aldense team."""


@dataclass(frozen=True, slots=True)
class GuideHandedOver:
    """Posted in the guide's thread: ``receiver`` carries on from step ``index``; ``taken`` when they took it."""

    giver: str
    receiver: str
    index: int
    taken: bool


@dataclass(frozen=True, slots=True)
class NotYourGuide:
    """Told privately to someone who clicks a guide that belongs to another person: take it over, or start one."""

    owner: str


@dataclass(frozen=True, slots=True)
class StaleClick:
    """Told privately for a button of a step that is no longer current."""

    current_index: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Refused:
    """Told privately for a move the guide does not allow right now."""

    reason: str


@dataclass(frozen=True, slots=True)
class AlreadyGoing:
    """Told privately on Start when the person's guide is already under way (the current step is shown again)."""


@dataclass(frozen=True, slots=True)
class NothingToResume:
    """Told privately on Resume when the person has no guide in progress."""


@dataclass(frozen=True, slots=True)
class TemporarilyUnavailable:
    """Told privately when the state store is unreachable: the move will be applied once it is back."""


@dataclass(frozen=True, slots=True)
class GaveUp:
    """Told privately when the state store stayed unreachable for minutes and a move was not applied."""


@dataclass(frozen=True, slots=True)
class NotAccepted:
    """Told privately when the platform refused one of the bot's messages; nothing the user did was lost."""

    detail: str


@dataclass(frozen=True, slots=True)
class HelpText:
    """What the bot does and which words it knows."""


@dataclass(frozen=True, slots=True)
class Forgotten:
    """Told in a clinic's channel, when staff ask for it, after the bot erased what it kept about the clinic."""


Outgoing = (
    Kickoff
    | ThreadOpener
    | StepMessage
    | ClosedStep
    | HelpComing
    | TroubleOffer
    | TroubleAnswer
    | Reminder
    | ResetNotice
    | KeyCheckLost
    | KeyResult
    | AlreadyConnected
    | AlreadyDone
    | ClosedResult
    | ClosedReminder
    | ReplacementDecided
    | NewKeyNeeded
    | KeyExposed
    | GuideHandedOver
    | QuestionForwarded
    | NotYourGuide
    | StaleClick
    | Refused
    | AlreadyGoing
    | NothingToResume
    | TemporarilyUnavailable
    | GaveUp
    | NotAccepted
    | HelpText
    | Forgotten
)
