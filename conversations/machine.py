"""The guide state machine: pure functions from (state, event) to (new state, effects), with no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from conversations.addresses import ConversationKey
from conversations.conversation import Conversation, Status, StepTimes
from conversations.events import (
    Abandon,
    AnswerTrouble,
    Back,
    CheckFinished,
    ClosedAs,
    CloseStep,
    ConfirmHelpComing,
    Done,
    Effect,
    EndGiverRun,
    Event,
    HandOver,
    HelpGiven,
    KeySubmitted,
    KeyVerdict,
    Milestone,
    Nudged,
    OfferTroubles,
    OpenThread,
    PostStep,
    Remind,
    Report,
    ReportTrouble,
    Resume,
    RunKeyCheck,
    Start,
    StepPosted,
    Stuck,
    TakeOver,
    TellHandOver,
    TellReset,
    ThreadOpened,
    TroubleChosen,
    TroublesAsked,
)
from conversations.guide import Guide, StepAction
from conversations.reminders import ReminderPolicy

# Statuses in which the user is still walking the steps or entering a key.
_IN_PROGRESS = frozenset({Status.ACTIVE, Status.AWAITING_KEY, Status.NEEDS_NEW_KEY})
_FINISHED = frozenset({Status.VERIFIED, Status.ABANDONED})
# A second Start this soon after a guide started, with nothing done since, is a double click or a click repeated
# because the first answer was lost: the guide is already being shown, so it changes nothing.
START_AGAIN_SECONDS = 10.0
# "I'm stuck" pressed again this soon, or the same trouble picked again this soon, is a double click: nothing new.
TROUBLE_AGAIN_SECONDS = 10.0
_DEFAULT_REMINDERS = ReminderPolicy()


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


def apply(
    guide: Guide,
    key: ConversationKey,
    state: Conversation | None,
    event: Event,
    reminders: ReminderPolicy = _DEFAULT_REMINDERS,
) -> Transition:
    """Apply ``event`` to ``state`` (None when the user has no conversation yet).

    A conversation saved with another version of ``guide`` is first carried over to this one (see ``adopt``).

    Args:
        guide: The guide in use; the conversation's step ids are resolved against it.
        key: The conversation's ids (for a new conversation).
        state: The saved conversation, or None.
        event: What happened.
        reminders: The reminder rule; ``Nudged`` is refused when it says no reminder is due.

    Raises:
        IllegalMove: The event is not allowed now; nothing changes.
    """
    if state is None:
        if isinstance(event, Start):
            return _start(guide, key, None, event)
        if isinstance(event, TakeOver):
            return _take_over(guide, key, None, event)
        raise IllegalMove("there is no guide in progress", stale=True)
    adoption = adopt(guide, state)
    asked_at = _asked_for_the_current_step(event, state.step_id)
    if adoption.effects and asked_at is not None:
        # The user clicked the step that the edit removed, or asked to see their step: where they landed is the
        # answer (the adoption already shows it again).
        return Transition(adoption.state.model_copy(update={"updated_at": asked_at}), adoption.effects)
    moved = _apply(guide, key, adoption.state, event, reminders)
    kept = adoption.effects
    if any(isinstance(effect, PostStep) for effect in moved.effects):
        kept = tuple(effect for effect in kept if not isinstance(effect, PostStep))  # the event posts a step itself
    return Transition(moved.state, kept + moved.effects)


def _asked_for_the_current_step(event: Event, removed_step: str) -> float | None:
    """When ``event`` asks to see the current step (or acts on the removed one), the time it did; else None."""
    match event:
        case Start(at_step=None) | Resume():
            return event.at
        case Done() | Back() | Stuck() | TroublesAsked() | TroubleChosen() if event.step_id == removed_step:
            return event.at
    return None


def _apply(
    guide: Guide, key: ConversationKey, state: Conversation, event: Event, reminders: ReminderPolicy
) -> Transition:
    match event:
        case Start():
            return _start(guide, key, state, event)
        case Done():
            return _done(guide, state, event)
        case Back():
            return _back(guide, state, event)
        case Stuck():
            return _stuck(guide, state, event)
        case TroublesAsked():
            return _troubles_asked(guide, state, event)
        case TroubleChosen():
            return _trouble_chosen(guide, state, event)
        case HelpGiven():
            return _help_given(state, event)
        case Resume():
            return _resume(state, event)
        case ThreadOpened():
            return Transition(state.model_copy(update={"thread_ref": event.ref}), ())
        case StepPosted():
            return _step_posted(state, event)
        case KeySubmitted():
            return _key_submitted(guide, state, event)
        case CheckFinished():
            return _check_finished(guide, state, event)
        case Nudged():
            return _nudged(state, event, reminders)
        case Abandon():
            return _abandon(state, event)
        case HandOver():
            return _hand_over(state, event)
        case TakeOver():
            return _take_over(guide, key, state, event)


def adopt(guide: Guide, state: Conversation) -> Transition:
    """Carry ``state`` over to ``guide`` when it was saved with another version (or its step is gone).

    The place is kept by step id, so adding or removing other steps moves nobody and leaves the current step's
    buttons working. When the current step itself was removed, the user lands on the nearest earlier step they
    had reached that still exists (else the first step) and, while still walking the guide, is shown it again.
    Pure: the caller saves the result with whatever the next event does.
    """
    if guide.position(state.step_id) is not None:
        if state.guide_version == guide.version:
            return Transition(state, ())
        return Transition(_status_kept_for_step(guide, state.model_copy(update={"guide_version": guide.version})), ())
    if state.status in (Status.CHECKING, Status.VERIFIED):
        landing = guide.steps[-1].id  # a key is being checked or was verified: its place is the key step
    else:
        landing = _nearest_reached_before(guide, state)
    moved = state.model_copy(update={"guide_version": guide.version, "step_id": landing, "step_message_ref": None})
    if state.status not in _IN_PROGRESS:
        return Transition(moved, ())
    effects: list[Effect] = []
    if state.step_message_ref:
        effects.append(CloseStep(state.step_id, state.step_message_ref, ClosedAs.SUPERSEDED))
    effects.append(PostStep(landing, again=True))
    return Transition(_with_status_for_step(guide, moved), tuple(effects))


def _nearest_reached_before(guide: Guide, state: Conversation) -> str:
    reached = list(state.steps)  # in the order first reached, which is the order of the guide they walked
    before = reached[: reached.index(state.step_id)] if state.step_id in reached else reached
    for step_id in reversed(before):
        if guide.position(step_id) is not None:
            return step_id
    return guide.steps[0].id


def _start(guide: Guide, key: ConversationKey, state: Conversation | None, event: Start) -> Transition:
    if state is not None and state.status not in _FINISHED and event.at_step is None:
        if state.updated_at == state.started_at and event.at - state.started_at < START_AGAIN_SECONDS:
            return Transition(state, ())
        # Already under way: show the current step again at the bottom of the thread.
        return _repost_current(state, event.at)
    first = event.at_step or guide.steps[0].id
    if guide.position(first) is None:
        raise IllegalMove(f"the guide has no step {first!r}")
    fresh = Conversation(
        platform=key.platform,
        team=key.team,
        channel=key.channel,
        user=key.user,
        guide_id=guide.id,
        guide_version=guide.version,
        step_id=first,
        started_at=event.at,
        updated_at=event.at,
        steps={first: StepTimes(reached=event.at)},
    )
    fresh = _with_status_for_step(guide, fresh)
    effects: list[Effect] = []
    if state is not None and state.step_message_ref and state.status not in _FINISHED:
        effects.append(CloseStep(state.step_id, state.step_message_ref, ClosedAs.SUPERSEDED))
    effects += [OpenThread(), PostStep(first), Report(Milestone.STARTED, first)]
    return Transition(fresh, tuple(effects))


def _repost_current(state: Conversation, at: float) -> Transition:
    effects: list[Effect] = []
    if state.step_message_ref:
        effects.append(CloseStep(state.step_id, state.step_message_ref, ClosedAs.SUPERSEDED))
    effects.append(PostStep(state.step_id, again=True))
    return Transition(state.model_copy(update={"updated_at": at, "step_message_ref": None}), tuple(effects))


def _current_step_only(guide: Guide, state: Conversation, step_id: str) -> int:
    if state.status not in _IN_PROGRESS:
        raise IllegalMove(f"the guide is {state.status.value.replace('_', ' ')}", stale=True)
    if state.step_id != step_id:
        raise IllegalMove(f"step {step_id!r} is not the current step", stale=True)
    return guide.index_of(step_id)


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
            "step_id": following.id,
            "steps": times,
            "updated_at": event.at,
            "step_message_ref": None,
        }
    )
    effects = (
        CloseStep(step.id, state.step_message_ref, ClosedAs.DONE),
        PostStep(following.id),
        Report(Milestone.STEP_DONE, step.id),
    )
    return Transition(_with_status_for_step(guide, moved), effects)


def _back(guide: Guide, state: Conversation, event: Back) -> Transition:
    index = _current_step_only(guide, state, event.step_id)
    if index == 0:
        raise IllegalMove("this is the first step")
    previous = guide.steps[index - 1].id
    moved = state.model_copy(update={"step_id": previous, "updated_at": event.at, "step_message_ref": None})
    effects = (
        CloseStep(event.step_id, state.step_message_ref, ClosedAs.WENT_BACK),
        PostStep(previous, again=True),
    )
    return Transition(_with_status_for_step(guide, moved), effects)


def _stuck(guide: Guide, state: Conversation, event: Stuck) -> Transition:
    _current_step_only(guide, state, event.step_id)
    # While the request is open (until staff answer it, the key connects or the guide ends) a further press, on any
    # step, asks nobody again: help is already on its way. The caller tells the person and adds a quiet line to
    # support's thread.
    if state.stuck_at is not None:
        raise IllegalMove("help is already on its way")
    times = _step_times(state, event.step_id, event.at)
    times[event.step_id] = times[event.step_id].model_copy(update={"asked_help": times[event.step_id].asked_help + 1})
    stuck = state.model_copy(update={"stuck_at": event.at, "updated_at": event.at, "steps": times})
    return Transition(stuck, (ConfirmHelpComing(event.step_id), Report(Milestone.STUCK, event.step_id)))


def _troubles_asked(guide: Guide, state: Conversation, event: TroublesAsked) -> Transition:
    """ "I'm stuck": the step's troubles first (privately); a step without any asks a person straight away."""
    step = guide.steps[_current_step_only(guide, state, event.step_id)]
    if not step.troubles:
        return _stuck(guide, state, Stuck(event.step_id, event.at))
    times = _step_times(state, step.id, event.at)
    offered, chosen = times[step.id].offered_at, times[step.id].troubles.values()
    if offered is not None and event.at - offered < TROUBLE_AGAIN_SECONDS and max(chosen, default=0.0) < offered:
        return Transition(state, ())  # a double click: the troubles are already shown, and none picked since
    times[step.id] = times[step.id].model_copy(update={"offered_at": event.at})
    asked = state.model_copy(update={"steps": times, "updated_at": event.at})
    return Transition(asked, (OfferTroubles(step.id),))


def _trouble_chosen(guide: Guide, state: Conversation, event: TroubleChosen) -> Transition:
    """A trouble picked: its answer (privately), a line for support, and its jump when it has one.

    A jump keeps an open request for help open (``stuck_at``): only staff, the key connecting or the guide ending
    close it.
    """
    step = guide.steps[_current_step_only(guide, state, event.step_id)]
    trouble = step.trouble(event.trouble_id)
    if trouble is None:
        raise IllegalMove("that answer is no longer part of the guide")
    times = _step_times(state, step.id, event.at)
    chosen = times[step.id].troubles
    last = chosen.get(trouble.id)
    if last is not None and event.at - last < TROUBLE_AGAIN_SECONDS:
        return Transition(state, ())  # a double click: answered a moment ago
    times[step.id] = times[step.id].model_copy(update={"troubles": {**chosen, trouble.id: event.at}})
    update: dict[str, object] = {"steps": times, "updated_at": event.at}
    effects: list[Effect] = [AnswerTrouble(step.id, trouble.id)]
    if trouble.go_to is not None and guide.position(trouble.go_to) is not None:
        times.setdefault(trouble.go_to, StepTimes(reached=event.at))
        update |= {"step_id": trouble.go_to, "step_message_ref": None}
        effects += [
            CloseStep(step.id, state.step_message_ref, ClosedAs.JUMPED),
            PostStep(trouble.go_to, again=True),
        ]
    effects.append(ReportTrouble(step.id, trouble.id))
    moved = state.model_copy(update=update)
    if trouble.go_to is not None:
        moved = _with_status_for_step(guide, moved)
    return Transition(moved, tuple(effects))


def _help_given(state: Conversation, event: HelpGiven) -> Transition:
    if state.stuck_at is None or (event.asked_at is not None and event.asked_at != state.stuck_at):
        raise IllegalMove("no request for help is open", stale=True)
    # Nothing changes for the person: support's page and card are updated by whoever answered.
    return Transition(state.model_copy(update={"stuck_at": None}), ())


def _step_times(state: Conversation, step_id: str, at: float) -> dict[str, StepTimes]:
    """A copy of ``state.steps`` that surely has ``step_id`` (reached ``at`` if it somehow was not recorded)."""
    times = dict(state.steps)
    times.setdefault(step_id, StepTimes(reached=at))
    return times


def _resume(state: Conversation, event: Resume) -> Transition:
    if state.status not in _IN_PROGRESS:
        raise IllegalMove(f"the guide is {state.status.value.replace('_', ' ')}", stale=True)
    return _repost_current(state, event.at)


def _step_posted(state: Conversation, event: StepPosted) -> Transition:
    if state.step_id != event.step_id:
        # The user moved on while the message was being posted; that message is already stale.
        return Transition(state, ())
    recorded = state.step_message_ref
    if recorded == event.ref:
        return Transition(state, ())
    posted = state.model_copy(update={"step_message_ref": event.ref})
    if recorded is None:
        return Transition(posted, ())
    # Two messages of the current step were posted before either was recorded (a Start or Resume that arrived while
    # a post was in flight). Exactly one may keep live buttons: the one recorded last, so the other is closed.
    return Transition(posted, (CloseStep(event.step_id, recorded, ClosedAs.SUPERSEDED),))


def _key_submitted(guide: Guide, state: Conversation, event: KeySubmitted) -> Transition:
    if state.status is Status.CHECKING:
        raise IllegalMove("a key is already being checked")
    if state.status not in _IN_PROGRESS and state.status is not Status.VERIFIED:
        raise IllegalMove(f"the guide is {state.status.value.replace('_', ' ')}")
    last = guide.steps[-1].id
    times = dict(state.steps)
    times.setdefault(last, StepTimes(reached=event.at))
    effects: list[Effect] = []
    message_ref = state.step_message_ref
    if state.step_id != last:
        # A key sent from an earlier step skips the rest: that step's message is closed, and its ref must not
        # be taken for the key step's message later.
        effects.append(CloseStep(state.step_id, message_ref, ClosedAs.SUPERSEDED))
        message_ref = None
    checking = state.model_copy(
        update={
            "status": Status.CHECKING,
            "step_id": last,
            "steps": times,
            "key_fingerprint": event.fingerprint,
            "updated_at": event.at,
            "step_message_ref": message_ref,
        }
    )
    effects += [Report(Milestone.KEY_RECEIVED, last), RunKeyCheck()]
    return Transition(checking, tuple(effects))


_STATUS_AFTER_CHECK = {
    KeyVerdict.VERIFIED: Status.VERIFIED,
    KeyVerdict.MISSING_SCOPES: Status.NEEDS_NEW_KEY,
    KeyVerdict.INVALID_KEY: Status.NEEDS_NEW_KEY,
    KeyVerdict.COULD_NOT_CHECK: Status.AWAITING_KEY,
    # Dentally answered but proved nothing either way: the clinic may check again or enter another key.
    KeyVerdict.COULD_NOT_PROVE: Status.AWAITING_KEY,
}


def _check_finished(guide: Guide, state: Conversation, event: CheckFinished) -> Transition:
    if state.status is not Status.CHECKING:
        raise IllegalMove("no key check is running", stale=True)
    last_id = guide.steps[-1].id
    verified = event.verdict is KeyVerdict.VERIFIED
    times = _finished(state.steps, last_id, event.at) if verified else state.steps
    finished = state.model_copy(
        update={
            "status": _STATUS_AFTER_CHECK[event.verdict],
            "last_verdict": event.verdict.value,
            "steps": times,
            "updated_at": event.at,
            "stuck_at": None if verified else state.stuck_at,  # connected: nothing is left to help with
            "step_message_ref": None if verified else state.step_message_ref,
        }
    )
    effects: list[Effect] = []
    if verified and state.step_message_ref:
        # The key step is finished: its buttons go, like any step's.
        effects.append(CloseStep(state.step_id, state.step_message_ref, ClosedAs.DONE))
    effects.append(Report(Milestone.CHECKED, state.step_id))
    return Transition(finished, tuple(effects))


def _nudged(state: Conversation, event: Nudged, reminders: ReminderPolicy) -> Transition:
    if state.status not in _IN_PROGRESS:
        raise IllegalMove(f"the guide is {state.status.value.replace('_', ' ')}", stale=True)
    due = reminders.due_at(state)
    if due is None:
        raise IllegalMove(f"all {reminders.nudge_max} reminders were sent", stale=True)
    if event.at < due:
        raise IllegalMove("the guide is not quiet long enough for a reminder", stale=True)
    reminded = state.model_copy(update={"nudges": state.nudges + 1, "last_nudge_at": event.at})
    return Transition(reminded, (Remind(state.step_id), Report(Milestone.NUDGED, state.step_id)))


def _abandon(state: Conversation, event: Abandon) -> Transition:
    if state.status is Status.ABANDONED:
        raise IllegalMove("the guide was already reset", stale=True)
    effects: list[Effect] = []
    if state.step_message_ref and state.status in _IN_PROGRESS:
        effects.append(CloseStep(state.step_id, state.step_message_ref, ClosedAs.SUPERSEDED))
    effects += [TellReset(event.disconnected), Report(Milestone.RESET, state.step_id)]
    reset = state.model_copy(
        update={"status": Status.ABANDONED, "updated_at": event.at, "stuck_at": None, "step_message_ref": None}
    )
    return Transition(reset, tuple(effects))


def _hand_over(state: Conversation, event: HandOver) -> Transition:
    if state.status is Status.CHECKING:
        raise IllegalMove("a key is being checked")
    if state.status not in _IN_PROGRESS:
        raise IllegalMove(f"the guide is {state.status.value.replace('_', ' ')}", stale=True)
    if event.to == state.user:
        raise IllegalMove("the guide is already theirs")
    if event.started_at is not None and event.started_at != state.started_at:
        raise IllegalMove("that guide has ended", stale=True)
    effects: tuple[Effect, ...] = ()
    if state.step_message_ref:
        # The giver's buttons go; the step is shown again below for the colleague.
        effects = (CloseStep(state.step_id, state.step_message_ref, ClosedAs.SUPERSEDED),)
    handed = state.model_copy(
        update={
            "status": Status.ABANDONED,
            "handed_to": event.to,
            "updated_at": event.at,
            "stuck_at": None,
            "step_message_ref": None,
        }
    )
    return Transition(handed, effects)


def _take_over(guide: Guide, key: ConversationKey, state: Conversation | None, event: TakeOver) -> Transition:
    """Continue ``event.giver``'s guide at its step, in its thread, with its progress (a fresh run for this user)."""
    if guide.position(event.step_id) is None:
        raise IllegalMove(f"the guide has no step {event.step_id!r}")
    if state is not None and state.status is Status.CHECKING:
        raise IllegalMove("a key of yours is being checked")
    continued = Conversation(
        platform=key.platform,
        team=key.team,
        channel=key.channel,
        user=key.user,
        guide_id=guide.id,
        guide_version=guide.version,
        step_id=event.step_id,
        thread_ref=event.thread_ref,
        started_at=event.started_at,
        updated_at=event.at,
        steps=dict(event.steps),
        taken_from=event.giver,
    )
    effects: list[Effect] = []
    if state is not None and state.step_message_ref and state.status in _IN_PROGRESS:
        effects.append(CloseStep(state.step_id, state.step_message_ref, ClosedAs.SUPERSEDED))
    # The giver's run ends as an effect of this one, so a crash between the two saves cannot lose the guide.
    effects += [EndGiverRun(event.giver, event.started_at, event.at), TellHandOver(event.giver, event.taken)]
    effects.append(PostStep(event.step_id, again=True))
    return Transition(_with_status_for_step(guide, continued), tuple(effects))


def _finished(steps: dict[str, StepTimes], step_id: str, at: float) -> dict[str, StepTimes]:
    times = dict(steps)
    kept = times.get(step_id) or StepTimes(reached=at)
    times[step_id] = kept.model_copy(update={"done": at})  # what was sought on the step stays for the funnel
    return times


def _with_status_for_step(guide: Guide, state: Conversation) -> Conversation:
    on_key_step = guide.steps[guide.index_of(state.step_id)].action is StepAction.ENTER_KEY
    status = Status.AWAITING_KEY if on_key_step else Status.ACTIVE
    return state if state.status is status else state.model_copy(update={"status": status})


def _status_kept_for_step(guide: Guide, state: Conversation) -> Conversation:
    """The status after an edit that kept the step: a key that was refused still needs a new one on the key step."""
    if state.status not in _IN_PROGRESS:
        return state
    if state.status is Status.NEEDS_NEW_KEY and state.step_id == guide.steps[-1].id:
        return state
    return _with_status_for_step(guide, state)
