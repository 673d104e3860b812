"""What can happen to a conversation (events) and what the machine asks the outside world to do (effects)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the conversation module imports this one (through the outbox)
    from conversations.conversation import StepTimes


# Events: facts from the platform adapter, already translated from its payloads.
@dataclass(frozen=True, slots=True)
class Start:
    """The user asked to start (or resume) the guide; ``at_step`` starts a fresh run at that step."""

    at: float
    at_step: str | None = None


@dataclass(frozen=True, slots=True)
class Done:
    """The user finished ``step_id``."""

    step_id: str
    at: float


@dataclass(frozen=True, slots=True)
class Back:
    """The user wants the step before ``step_id`` again."""

    step_id: str
    at: float


@dataclass(frozen=True, slots=True)
class Stuck:
    """The user needs a person's help on ``step_id``."""

    step_id: str
    at: float


@dataclass(frozen=True, slots=True)
class TroublesAsked:
    """The user pressed "I'm stuck" on ``step_id``: show them its common problems (a step with none asks a person)."""

    step_id: str
    at: float


@dataclass(frozen=True, slots=True)
class TroubleChosen:
    """The user picked trouble ``trouble_id`` of ``step_id``: show its answer, and follow its ``go_to`` if any."""

    step_id: str
    trouble_id: str
    at: float


@dataclass(frozen=True, slots=True)
class HelpGiven:
    """Aldense staff answered the open request for help (Resolved on the page, or a reply in the person's thread).

    ``asked_at`` names the request answered (when it was made), so an old page's button cannot close a newer one;
    None answers whichever is open.
    """

    at: float
    asked_at: float | None = None


@dataclass(frozen=True, slots=True)
class Resume:
    """The user wants the current step shown again (for example from a reminder)."""

    at: float


@dataclass(frozen=True, slots=True)
class ThreadOpened:
    """The adapter opened the user's thread; ``ref`` is the platform's id for it."""

    ref: str


@dataclass(frozen=True, slots=True)
class StepPosted:
    """The adapter posted the message of ``step_id``; ``ref`` is the platform's id for it."""

    step_id: str
    ref: str


@dataclass(frozen=True, slots=True)
class KeySubmitted:
    """A key passed the format check and is about to be checked; only its fingerprint is kept."""

    fingerprint: str
    at: float


class KeyVerdict(StrEnum):
    """The outcome of checking a key, as the conversation needs to know it."""

    VERIFIED = "verified"
    MISSING_SCOPES = "missing_scopes"
    INVALID_KEY = "invalid_key"
    COULD_NOT_CHECK = "could_not_check"
    COULD_NOT_PROVE = "could_not_prove"


@dataclass(frozen=True, slots=True)
class CheckFinished:
    """The key check ended with ``verdict``."""

    verdict: KeyVerdict
    at: float


@dataclass(frozen=True, slots=True)
class Nudged:
    """A reminder is due for a guide that has been quiet."""

    at: float


@dataclass(frozen=True, slots=True)
class Abandon:
    """Support reset the guide; the user may start afresh. ``disconnected``: the clinic's connection was reset too."""

    at: float
    disconnected: bool = False


@dataclass(frozen=True, slots=True)
class HandOver:
    """The guide moves to ``to`` (a colleague with the Dentally login, or someone taking it over): this run ends."""

    to: str
    at: float
    started_at: float | None = None  # only the run that started then (None: whichever is current)


@dataclass(frozen=True, slots=True)
class TakeOver:
    """This person continues ``giver``'s guide where it stands: the same step, thread and progress."""

    giver: str
    step_id: str
    thread_ref: str | None
    steps: dict[str, StepTimes]
    started_at: float
    at: float
    taken: bool = False  # the receiver took it (rather than being handed it)


Event = (
    Start
    | Done
    | Back
    | Stuck
    | TroublesAsked
    | TroubleChosen
    | HelpGiven
    | Resume
    | ThreadOpened
    | StepPosted
    | KeySubmitted
    | CheckFinished
    | Nudged
    | Abandon
    | HandOver
    | TakeOver
)


# Effects: instructions for the adapter, carried out in order after the state is saved. They name steps by id, never
# by position: they wait in the outbox, and the guide may be edited before they are carried out.
class ClosedAs(StrEnum):
    """Why a step message is closed (``CloseStep`` keeps its field name ``outcome``: outboxes already store it)."""

    DONE = "done"
    WENT_BACK = "went_back"
    SUPERSEDED = "superseded"
    JUMPED = "jumped"
    """A trouble's answer took the guide to another step."""


class Milestone(StrEnum):
    """What support is told about."""

    STARTED = "started"
    STEP_DONE = "step_done"
    STUCK = "stuck"
    KEY_RECEIVED = "key_received"
    CHECKED = "checked"
    NUDGED = "nudged"
    RESET = "reset"


@dataclass(frozen=True, slots=True)
class OpenThread:
    """Open the user's thread (a short top-level message) before posting steps into it."""


@dataclass(frozen=True, slots=True)
class PostStep:
    """Post step ``step_id`` in the user's thread; ``again`` says it is shown a second time."""

    step_id: str
    again: bool = False


@dataclass(frozen=True, slots=True)
class CloseStep:
    """Turn the message of step ``step_id`` into its compact form without buttons."""

    step_id: str
    ref: str | None
    outcome: ClosedAs


@dataclass(frozen=True, slots=True)
class ConfirmHelpComing:
    """Tell the user a person from support has been asked to help with step ``step_id``."""

    step_id: str


@dataclass(frozen=True, slots=True)
class OfferTroubles:
    """Show the user, privately, the troubles of step ``step_id``, each a button, and "Still stuck — ask Aldense"."""

    step_id: str


@dataclass(frozen=True, slots=True)
class AnswerTrouble:
    """Tell the user, privately, the answer to trouble ``trouble_id`` of step ``step_id``."""

    step_id: str
    trouble_id: str


@dataclass(frozen=True, slots=True)
class ReportTrouble:
    """One short line in support's thread (and a count in the metrics): trouble ``trouble_id`` picked at ``step_id``."""

    step_id: str
    trouble_id: str


@dataclass(frozen=True, slots=True)
class Report:
    """Tell support about a milestone (step ``step_id`` where one applies)."""

    milestone: Milestone
    step_id: str | None = None


@dataclass(frozen=True, slots=True)
class RunKeyCheck:
    """Check the submitted key with Dentally; the adapter holds the key in memory, never the state."""


@dataclass(frozen=True, slots=True)
class Remind:
    """Post a friendly reminder about step ``step_id`` in the user's thread, with a way to resume."""

    step_id: str


@dataclass(frozen=True, slots=True)
class TellReset:
    """Tell the user, politely, that support reset their guide (and the connection, when ``disconnected``)."""

    disconnected: bool = False


@dataclass(frozen=True, slots=True)
class EndGiverRun:
    """End the run of ``giver``, whose guide this one continues (saved with the receiver's run, so never lost)."""

    giver: str
    started_at: float  # which of the giver's runs: a run they started afresh since is left alone
    at: float


@dataclass(frozen=True, slots=True)
class TellHandOver:
    """Tell the thread and support that this run continues ``giver``'s guide (``taken``: the receiver took it)."""

    giver: str
    taken: bool


Effect = (
    OpenThread
    | PostStep
    | CloseStep
    | ConfirmHelpComing
    | OfferTroubles
    | AnswerTrouble
    | ReportTrouble
    | Report
    | RunKeyCheck
    | Remind
    | TellReset
    | EndGiverRun
    | TellHandOver
)
