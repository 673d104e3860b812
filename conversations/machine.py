"""The guide state machine: pure functions from (state, event) to (new state, effects), with no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from conversations.addresses import ConversationKey
from conversations.conversation import Conversation, Status, StepTimes
from conversations.events import (
    Abandon,
    Back,
    CheckFinished,
    CloseStep,
    ConfirmHelpComing,
    Done,
    Effect,
    Event,
    KeySubmitted,
    Milestone,
    Nudged,
    OpenThread,
    PostStep,
    Remind,
    Report,
    Resume,
    RunKeyCheck,
    Start,
    StepOutcome,
    StepPosted,
    Stuck,
    TellReset,
    ThreadOpened,
    Verdict,
)
from conversations.guide import Guide, StepAction

# Statuses in which the user is still walking the steps or entering a key.
_IN_PROGRESS = frozenset({Status.ACTIVE, Status.AWAITING_KEY, Status.NEEDS_NEW_KEY})
_FINISHED = frozenset({Status.VERIFIED, Status.ABANDONED})


class IllegalMove(Exception):
    """An event that the conversation's current state does not allow; the state is left as it was.

    Attributes:
        stale: True when the event refers to a step that is no longer the current one (an old button).
    """

    def __init__(self, reason: str, *, stale: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stale = stale


@dataclass(frozen=True, slots=True)
class Transition:
    """The result of applying an event."""

    state: Conversation
    effects: tuple[Effect, ...]


def apply(guide: Guide, key: ConversationKey, state: Conversation | None, event: Event) -> Transition:
    """Apply ``event`` to ``state`` (None when the user has no conversation yet).

    Raises:
        IllegalMove: The event is not allowed now; nothing changes.
    """
    if state is not None and state.guide_version != guide.version:
        state = _adopt_guide(guide, state)
    if isinstance(event, Start):
        return _start(guide, key, state, event)
    if state is None:
        raise IllegalMove("there is no guide in progress", stale=True)
    match event:
        case Done():
            return _done(guide, state, event)
        case Back():
            return _back(guide, state, event)
        case Stuck():
            return _stuck(guide, state, event)
        case Resume():
            return _resume(state, event)
        case ThreadOpened():
            return Transition(state.model_copy(update={"thread_ref": event.ref}), ())
        case StepPosted():
            return _step_posted(guide, state, event)
        case KeySubmitted():
            return _key_submitted(guide, state, event)
        case CheckFinished():
            return _check_finished(guide, state, event)
        case Nudged():
            return _nudged(state, event)
        case Abandon():
            return _abandon(state, event)


def _start(guide: Guide, key: ConversationKey, state: Conversation | None, event: Start) -> Transition:
    if state is not None and state.status not in _FINISHED and event.at_step is None:
        # Already under way: show the current step again at the bottom of the thread.
        return _repost_current(state, event.at)
    try:
        first = guide.index_of(event.at_step) if event.at_step else 0
    except KeyError:
        raise IllegalMove(f"the guide has no step {event.at_step!r}") from None
    fresh = Conversation(
        platform=key.platform,
        team=key.team,
        channel=key.channel,
        user=key.user,
        guide_id=guide.id,
        guide_version=guide.version,
        step_index=first,
        started_at=event.at,
        updated_at=event.at,
        steps={guide.steps[first].id: StepTimes(reached=event.at)},
    )
    fresh = _with_status_for_step(guide, fresh)
    effects: list[Effect] = []
    if state is not None and state.step_message_ref and state.status not in _FINISHED:
        effects.append(CloseStep(state.step_index, state.step_message_ref, StepOutcome.SUPERSEDED))
    effects += [OpenThread(), PostStep(first), Report(Milestone.STARTED, first)]
    return Transition(fresh, tuple(effects))


def _repost_current(state: Conversation, at: float) -> Transition:
    effects: list[Effect] = []
    if state.step_message_ref:
        effects.append(CloseStep(state.step_index, state.step_message_ref, StepOutcome.SUPERSEDED))
    effects.append(PostStep(state.step_index, again=True))
    return Transition(state.model_copy(update={"updated_at": at, "step_message_ref": None}), tuple(effects))


def _current_step_only(guide: Guide, state: Conversation, step_id: str) -> int:
    if state.status not in _IN_PROGRESS:
        raise IllegalMove(f"the guide is {state.status.value.replace('_', ' ')}", stale=True)
    index = state.step_index
    if guide.steps[index].id != step_id:
        raise IllegalMove(f"step {step_id!r} is not the current step", stale=True)
    return index


def _done(guide: Guide, state: Conversation, event: Done) -> Transition:
    index = _current_step_only(guide, state, event.step_id)
    step = guide.steps[index]
    if step.action is not StepAction.NEXT:
        raise IllegalMove(f"step {step.id!r} is finished by entering the key")
    following = guide.steps[index + 1]
    times = _finished(state.steps, step.id, event.at)
    times.setdefault(following.id, StepTimes(reached=event.at))
    moved = state.model_copy(
        update={
            "step_index": index + 1,
            "steps": times,
            "updated_at": event.at,
            "stuck_at": None,
            "step_message_ref": None,
        }
    )
    effects = (
        CloseStep(index, state.step_message_ref, StepOutcome.DONE),
        PostStep(index + 1),
        Report(Milestone.STEP_DONE, index),
    )
    return Transition(_with_status_for_step(guide, moved), effects)


def _back(guide: Guide, state: Conversation, event: Back) -> Transition:
    index = _current_step_only(guide, state, event.step_id)
    if index == 0:
        raise IllegalMove("this is the first step")
    moved = state.model_copy(
        update={"step_index": index - 1, "updated_at": event.at, "stuck_at": None, "step_message_ref": None}
    )
    effects = (
        CloseStep(index, state.step_message_ref, StepOutcome.WENT_BACK),
        PostStep(index - 1, again=True),
    )
    return Transition(_with_status_for_step(guide, moved), effects)


def _stuck(guide: Guide, state: Conversation, event: Stuck) -> Transition:
    index = _current_step_only(guide, state, event.step_id)
    stuck = state.model_copy(update={"stuck_at": event.at, "updated_at": event.at})
    return Transition(stuck, (ConfirmHelpComing(index), Report(Milestone.STUCK, index)))


def _resume(state: Conversation, event: Resume) -> Transition:
    if state.status not in _IN_PROGRESS:
        raise IllegalMove(f"the guide is {state.status.value.replace('_', ' ')}", stale=True)
    return _repost_current(state, event.at)


def _step_posted(guide: Guide, state: Conversation, event: StepPosted) -> Transition:
    if guide.steps[state.step_index].id != event.step_id:
        # The user moved on while the message was being posted; that message is already stale.
        return Transition(state, ())
    return Transition(state.model_copy(update={"step_message_ref": event.ref}), ())


def _key_submitted(guide: Guide, state: Conversation, event: KeySubmitted) -> Transition:
    if state.status is Status.CHECKING:
        raise IllegalMove("a key is already being checked")
    if state.status not in _IN_PROGRESS and state.status is not Status.VERIFIED:
        raise IllegalMove(f"the guide is {state.status.value.replace('_', ' ')}")
    last = guide.step_count - 1
    times = dict(state.steps)
    times.setdefault(guide.steps[last].id, StepTimes(reached=event.at))
    effects: list[Effect] = []
    message_ref = state.step_message_ref
    if state.step_index != last:
        # A key sent from an earlier step skips the rest: that step's message is closed, and its ref must not
        # be taken for the key step's message later.
        effects.append(CloseStep(state.step_index, message_ref, StepOutcome.SUPERSEDED))
        message_ref = None
    checking = state.model_copy(
        update={
            "status": Status.CHECKING,
            "step_index": last,
            "steps": times,
            "key_fingerprint": event.fingerprint,
            "updated_at": event.at,
            "stuck_at": None,
            "step_message_ref": message_ref,
        }
    )
    effects += [Report(Milestone.KEY_RECEIVED, last), RunKeyCheck()]
    return Transition(checking, tuple(effects))


_STATUS_AFTER_CHECK = {
    Verdict.VERIFIED: Status.VERIFIED,
    Verdict.MISSING_SCOPES: Status.NEEDS_NEW_KEY,
    Verdict.INVALID_KEY: Status.NEEDS_NEW_KEY,
    Verdict.COULD_NOT_CHECK: Status.AWAITING_KEY,
}


def _check_finished(guide: Guide, state: Conversation, event: CheckFinished) -> Transition:
    if state.status is not Status.CHECKING:
        raise IllegalMove("no key check is running", stale=True)
    last_id = guide.steps[-1].id
    verified = event.verdict is Verdict.VERIFIED
    times = _finished(state.steps, last_id, event.at) if verified else state.steps
    finished = state.model_copy(
        update={
            "status": _STATUS_AFTER_CHECK[event.verdict],
            "last_verdict": event.verdict.value,
            "steps": times,
            "updated_at": event.at,
            "step_message_ref": None if verified else state.step_message_ref,
        }
    )
    effects: list[Effect] = []
    if verified and state.step_message_ref:
        # The key step is finished: its buttons go, like any step's.
        effects.append(CloseStep(state.step_index, state.step_message_ref, StepOutcome.DONE))
    effects.append(Report(Milestone.CHECKED, state.step_index))
    return Transition(finished, tuple(effects))


def _nudged(state: Conversation, event: Nudged) -> Transition:
    if state.status not in _IN_PROGRESS:
        raise IllegalMove(f"the guide is {state.status.value.replace('_', ' ')}", stale=True)
    reminded = state.model_copy(update={"nudges": state.nudges + 1, "last_nudge_at": event.at})
    return Transition(reminded, (Remind(state.step_index), Report(Milestone.NUDGED, state.step_index)))


def _abandon(state: Conversation, event: Abandon) -> Transition:
    if state.status is Status.ABANDONED:
        raise IllegalMove("the guide was already reset", stale=True)
    effects: list[Effect] = []
    if state.step_message_ref and state.status in _IN_PROGRESS:
        effects.append(CloseStep(state.step_index, state.step_message_ref, StepOutcome.SUPERSEDED))
    effects += [TellReset(), Report(Milestone.RESET, state.step_index)]
    reset = state.model_copy(
        update={"status": Status.ABANDONED, "updated_at": event.at, "stuck_at": None, "step_message_ref": None}
    )
    return Transition(reset, tuple(effects))


def _adopt_guide(guide: Guide, state: Conversation) -> Conversation:
    """Carry a conversation over to a new version of its guide: keep the place where it still exists."""
    index = min(state.step_index, guide.step_count - 1)
    adopted = state.model_copy(update={"guide_version": guide.version, "step_index": index})
    return adopted if state.status not in _IN_PROGRESS else _with_status_for_step(guide, adopted)


def _finished(steps: dict[str, StepTimes], step_id: str, at: float) -> dict[str, StepTimes]:
    times = dict(steps)
    reached = times[step_id].reached if step_id in times else at
    times[step_id] = StepTimes(reached=reached, done=at)
    return times


def _with_status_for_step(guide: Guide, state: Conversation) -> Conversation:
    on_key_step = guide.steps[state.step_index].action is StepAction.ENTER_KEY
    status = Status.AWAITING_KEY if on_key_step else Status.ACTIVE
    return state if state.status is status else state.model_copy(update={"status": status})
