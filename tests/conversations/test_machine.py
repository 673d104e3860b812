"""The guide machine as pure functions: every transition, refusal and effect, plus a property over event sequences."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conversations.addresses import ConversationKey
from conversations.conversation import Conversation, Status, StepTimes
from conversations.events import (
    Back,
    CheckFinished,
    ClosedAs,
    CloseStep,
    ConfirmHelpComing,
    Done,
    EndGiverRun,
    Event,
    HandOver,
    HelpGiven,
    KeySubmitted,
    KeyVerdict,
    Milestone,
    OpenThread,
    PostStep,
    Report,
    Resume,
    RunKeyCheck,
    Start,
    StepPosted,
    Stuck,
    TakeOver,
    TellHandOver,
    ThreadOpened,
)
from conversations.guide import Guide, Step, StepAction
from conversations.machine import START_AGAIN_SECONDS, IllegalMove, Transition, apply
from conversations.schema import IncompatibleRecord
from tests.conversations.replay import replay

KEY = ConversationKey("slack", "T1", "C1", "U1")


def make_step(step_id: str, action: StepAction = StepAction.NEXT) -> Step:
    return Step(step_id, f"Title {step_id}", f"Text {step_id}", f"{step_id}.png", f"Alt {step_id}", action)


# Built in memory: the machine never touches the pictures, so no files are needed.
GUIDE = Guide(
    id="test-guide",
    version=2,
    title="Test guide",
    summary="Four steps.",
    estimated_minutes=3,
    steps=(make_step("first"), make_step("second"), make_step("third"), make_step("key", StepAction.ENTER_KEY)),
    images_dir=Path("unused"),
    new_key_step="second",
)
KEY_STEP = GUIDE.step_count - 1
ID = tuple(step.id for step in GUIDE.steps)


def place(state: Conversation) -> int:
    """Where ``state`` stands in GUIDE, 0-based."""
    return GUIDE.index_of(state.step_id)


def run(*events: Event, state: Conversation | None = None) -> Transition:
    """Apply events in order and return the last transition."""
    transition = None
    for event in events:
        transition = apply(GUIDE, KEY, state, event)
        state = transition.state
    assert transition is not None
    return transition


def at_step(index: int, ref: str | None = "m-current") -> Conversation:
    """A conversation walked to step ``index`` by Done clicks (at t=100, 110, ...), its message posted as ``ref``."""
    events: list[Event] = [Start(at=100.0)]
    events += [Done(GUIDE.steps[i].id, at=110.0 + 10 * i) for i in range(index)]
    if ref is not None:
        events.append(StepPosted(GUIDE.steps[index].id, ref))
    return run(*events).state


def checking() -> Conversation:
    return run(KeySubmitted("fp-1", at=200.0), state=at_step(KEY_STEP)).state


# Start


def test_start_fresh_opens_a_thread_posts_the_first_step_and_reports() -> None:
    transition = apply(GUIDE, KEY, None, Start(at=100.0))

    assert transition.effects == (OpenThread(), PostStep(ID[0]), Report(Milestone.STARTED, ID[0]))
    state = transition.state
    assert (state.platform, state.team, state.channel, state.user) == ("slack", "T1", "C1", "U1")
    assert state.key == KEY
    assert (state.guide_id, state.guide_version) == ("test-guide", 2)
    assert (state.status, place(state)) == (Status.ACTIVE, 0)
    assert (state.started_at, state.updated_at) == (100.0, 100.0)
    assert state.steps == {"first": StepTimes(reached=100.0)}
    assert (state.thread_ref, state.step_message_ref, state.stuck_at, state.key_fingerprint) == (None,) * 4


def test_start_again_while_active_reposts_the_current_step_and_closes_the_old_message() -> None:
    before = run(ThreadOpened("thread-1"), state=at_step(2, ref="m-2")).state

    transition = apply(GUIDE, KEY, before, Start(at=500.0))

    assert transition.effects == (CloseStep(ID[2], "m-2", ClosedAs.SUPERSEDED), PostStep(ID[2], again=True))
    assert transition.state == before.model_copy(update={"updated_at": 500.0, "step_message_ref": None})


def test_start_again_before_the_step_message_is_known_only_reposts() -> None:
    transition = apply(GUIDE, KEY, at_step(1, ref=None), Start(at=500.0))
    assert transition.effects == (PostStep(ID[1], again=True),)
    assert place(transition.state) == 1


def test_start_again_while_awaiting_a_new_key_reposts_the_key_step() -> None:
    needs_new_key = run(CheckFinished(KeyVerdict.INVALID_KEY, at=210.0), state=checking()).state
    transition = apply(GUIDE, KEY, needs_new_key, Start(at=300.0))
    assert transition.effects[-1] == PostStep(ID[KEY_STEP], again=True)
    assert transition.state.status is Status.NEEDS_NEW_KEY


@pytest.mark.parametrize("finished", [Status.VERIFIED, Status.ABANDONED])
def test_start_after_a_finished_run_begins_a_fresh_one(finished: Status) -> None:
    old = at_step(KEY_STEP, ref="m-key").model_copy(
        update={"status": finished, "thread_ref": "old-thread", "key_fingerprint": "fp-old", "nudges": 2}
    )

    transition = apply(GUIDE, KEY, old, Start(at=900.0))

    # A finished run's last message is its final word: nothing is closed.
    assert transition.effects == (OpenThread(), PostStep(ID[0]), Report(Milestone.STARTED, ID[0]))
    assert transition.state == apply(GUIDE, KEY, None, Start(at=900.0)).state


def test_start_at_a_step_begins_a_fresh_run_there() -> None:
    transition = apply(GUIDE, KEY, None, Start(at=100.0, at_step="second"))

    assert transition.effects == (OpenThread(), PostStep(ID[1]), Report(Milestone.STARTED, ID[1]))
    assert (place(transition.state), transition.state.status) == (1, Status.ACTIVE)
    assert transition.state.steps == {"second": StepTimes(reached=100.0)}


def test_start_at_a_step_while_active_supersedes_the_current_message() -> None:
    transition = apply(GUIDE, KEY, at_step(2, ref="m-2"), Start(at=300.0, at_step=GUIDE.new_key_step))

    assert transition.effects == (
        CloseStep(ID[2], "m-2", ClosedAs.SUPERSEDED),
        OpenThread(),
        PostStep(ID[1]),
        Report(Milestone.STARTED, ID[1]),
    )
    assert (place(transition.state), transition.state.started_at) == (1, 300.0)


def test_start_at_the_key_step_awaits_the_key() -> None:
    state = apply(GUIDE, KEY, None, Start(at=100.0, at_step="key")).state
    assert (place(state), state.status) == (KEY_STEP, Status.AWAITING_KEY)


def test_start_at_an_unknown_step_is_an_illegal_move() -> None:
    with pytest.raises(IllegalMove):
        apply(GUIDE, KEY, None, Start(at=100.0, at_step="no-such-step"))


# Done


def test_done_advances_closes_the_step_and_records_times() -> None:
    before = run(Stuck("first", at=105.0), state=at_step(0, ref="m-0")).state

    transition = apply(GUIDE, KEY, before, Done("first", at=120.0))

    assert transition.effects == (
        CloseStep(ID[0], "m-0", ClosedAs.DONE),
        PostStep(ID[1]),
        Report(Milestone.STEP_DONE, ID[0]),
    )
    state = transition.state
    assert (place(state), state.status, state.updated_at) == (1, Status.ACTIVE, 120.0)
    assert state.steps == {
        "first": StepTimes(reached=100.0, done=120.0, asked_help=1),
        "second": StepTimes(reached=120.0),
    }
    assert state.stuck_at == 105.0  # the request for help stays open until staff answer it
    assert state.step_message_ref is None


def test_done_on_the_step_before_the_key_awaits_the_key() -> None:
    state = apply(GUIDE, KEY, at_step(2), Done("third", at=150.0)).state
    assert (place(state), state.status) == (KEY_STEP, Status.AWAITING_KEY)
    assert state.steps["key"] == StepTimes(reached=150.0)


def test_done_again_after_going_back_keeps_when_the_next_step_was_first_reached() -> None:
    state = run(Back("second", at=130.0), Done("first", at=140.0), state=at_step(1)).state
    assert state.steps["first"] == StepTimes(reached=100.0, done=140.0)
    assert state.steps["second"] == StepTimes(reached=110.0)


def test_done_on_the_key_step_is_illegal_but_not_stale() -> None:
    with pytest.raises(IllegalMove) as caught:
        apply(GUIDE, KEY, at_step(KEY_STEP), Done("key", at=300.0))
    assert caught.value.stale is False


# Back


def test_back_on_the_first_step_is_illegal_but_not_stale() -> None:
    with pytest.raises(IllegalMove) as caught:
        apply(GUIDE, KEY, at_step(0), Back("first", at=120.0))
    assert caught.value.stale is False


def test_back_shows_the_previous_step_again() -> None:
    transition = apply(GUIDE, KEY, at_step(2, ref="m-2"), Back("third", at=200.0))

    assert transition.effects == (CloseStep(ID[2], "m-2", ClosedAs.WENT_BACK), PostStep(ID[1], again=True))
    assert (place(transition.state), transition.state.status) == (1, Status.ACTIVE)
    assert transition.state.step_message_ref is None


def test_back_from_the_key_step_returns_to_active() -> None:
    state = apply(GUIDE, KEY, at_step(KEY_STEP), Back("key", at=200.0)).state
    assert (place(state), state.status) == (KEY_STEP - 1, Status.ACTIVE)


def test_back_from_the_key_step_after_a_rejected_key_returns_to_active() -> None:
    rejected = run(CheckFinished(KeyVerdict.MISSING_SCOPES, at=210.0), state=checking()).state
    state = apply(GUIDE, KEY, rejected, Back("key", at=220.0)).state
    assert (place(state), state.status) == (KEY_STEP - 1, Status.ACTIVE)


# Stale buttons and refusals


@pytest.mark.parametrize("make", [Done, Back, Stuck])
def test_a_button_of_an_earlier_step_is_stale(make: type[Done | Back | Stuck]) -> None:
    with pytest.raises(IllegalMove) as caught:
        apply(GUIDE, KEY, at_step(2), make("second", at=300.0))
    assert caught.value.stale is True


@pytest.mark.parametrize("make", [Done, Back, Stuck])
def test_a_button_after_the_key_was_sent_is_stale(make: type[Done | Back | Stuck]) -> None:
    with pytest.raises(IllegalMove) as caught:
        apply(GUIDE, KEY, checking(), make("key", at=300.0))
    assert caught.value.stale is True


@pytest.mark.parametrize(
    "event",
    [
        Done("first", 1.0),
        Back("first", 1.0),
        Stuck("first", 1.0),
        Resume(1.0),
        KeySubmitted("fp", 1.0),
        ThreadOpened("t"),
        StepPosted("first", "m"),
        CheckFinished(KeyVerdict.VERIFIED, 1.0),
    ],
)
def test_events_before_any_start_are_stale(event: Event) -> None:
    with pytest.raises(IllegalMove) as caught:
        apply(GUIDE, KEY, None, event)
    assert caught.value.stale is True


def test_illegal_move_keeps_its_reason() -> None:
    with pytest.raises(IllegalMove, match="'second' is not the current step") as caught:
        apply(GUIDE, KEY, at_step(2), Done("second", at=300.0))
    assert caught.value.reason == str(caught.value)


# Stuck


def test_stuck_asks_for_help_which_stays_open_through_done_and_back_until_staff_answer() -> None:
    transition = apply(GUIDE, KEY, at_step(1), Stuck("second", at=150.0))

    assert transition.effects == (ConfirmHelpComing(ID[1]), Report(Milestone.STUCK, ID[1]))
    assert (transition.state.stuck_at, place(transition.state)) == (150.0, 1)
    moved = run(Done("second", at=160.0), Back("third", at=161.0), state=transition.state).state
    assert moved.stuck_at == 150.0
    answered = apply(GUIDE, KEY, moved, HelpGiven(at=170.0))
    assert (answered.state.stuck_at, answered.effects) == (None, ())
    assert answered.state.updated_at == moved.updated_at  # staff answering is not the person moving


def test_stuck_again_while_the_request_is_open_asks_nobody_however_late_or_wherever_but_after_an_answer_it_does() -> (
    None
):
    stuck = apply(GUIDE, KEY, at_step(1), Stuck("second", at=150.0)).state

    for later in (151.0, 150.0 + 3600.0, 150.0 + 30 * 86400.0):
        with pytest.raises(IllegalMove) as caught:
            apply(GUIDE, KEY, stuck, Stuck("second", at=later))
        assert not caught.value.stale
    moved_on = apply(GUIDE, KEY, stuck, Done("second", at=200.0)).state
    with pytest.raises(IllegalMove) as caught:
        apply(GUIDE, KEY, moved_on, Stuck("third", at=201.0))
    assert not caught.value.stale
    answered = apply(GUIDE, KEY, moved_on, HelpGiven(at=202.0, asked_at=150.0)).state
    again = apply(GUIDE, KEY, answered, Stuck("third", at=203.0))
    assert again.effects == (ConfirmHelpComing(ID[2]), Report(Milestone.STUCK, ID[2]))


def test_an_answer_to_an_older_request_or_to_none_is_stale() -> None:
    stuck = apply(GUIDE, KEY, at_step(1), Stuck("second", at=150.0)).state
    for state, event in ((stuck, HelpGiven(at=160.0, asked_at=100.0)), (at_step(1), HelpGiven(at=160.0))):
        with pytest.raises(IllegalMove) as caught:
            apply(GUIDE, KEY, state, event)
        assert caught.value.stale


def test_stuck_on_the_key_step_stays_open_while_the_key_is_checked_and_a_connection_closes_it() -> None:
    stuck = apply(GUIDE, KEY, at_step(KEY_STEP), Stuck("key", at=150.0)).state
    assert stuck.stuck_at == 150.0
    checking_ = apply(GUIDE, KEY, stuck, KeySubmitted("fp", at=160.0)).state
    assert checking_.stuck_at == 150.0
    refused = apply(GUIDE, KEY, checking_, CheckFinished(KeyVerdict.MISSING_SCOPES, at=170.0)).state
    assert refused.stuck_at == 150.0
    again = apply(GUIDE, KEY, refused, KeySubmitted("fp2", at=180.0)).state
    assert apply(GUIDE, KEY, again, CheckFinished(KeyVerdict.VERIFIED, at=190.0)).state.stuck_at is None


# Resume, thread and message references


def test_resume_reposts_the_current_step() -> None:
    transition = apply(GUIDE, KEY, at_step(1, ref="m-1"), Resume(at=400.0))
    assert transition.effects == (CloseStep(ID[1], "m-1", ClosedAs.SUPERSEDED), PostStep(ID[1], again=True))
    assert transition.state.updated_at == 400.0


def test_resume_after_verification_is_stale() -> None:
    verified = run(CheckFinished(KeyVerdict.VERIFIED, at=210.0), state=checking()).state
    with pytest.raises(IllegalMove) as caught:
        apply(GUIDE, KEY, verified, Resume(at=300.0))
    assert caught.value.stale is True


def test_thread_opened_records_the_thread() -> None:
    transition = apply(GUIDE, KEY, at_step(0), ThreadOpened("1700000000.000100"))
    assert transition.state.thread_ref == "1700000000.000100"
    assert transition.effects == ()


def test_step_posted_for_the_current_step_records_its_message() -> None:
    transition = apply(GUIDE, KEY, at_step(1, ref=None), StepPosted("second", "m-2nd"))
    assert transition.state.step_message_ref == "m-2nd"
    assert transition.effects == ()


def test_step_posted_for_a_step_the_user_moved_past_is_ignored() -> None:
    before = at_step(2, ref=None)
    transition = apply(GUIDE, KEY, before, StepPosted("second", "m-late"))
    assert transition.state == before
    assert transition.effects == ()


@pytest.mark.parametrize("order", [("m-done", "m-again"), ("m-again", "m-done")])
def test_two_posts_of_the_current_step_recorded_in_either_order_leave_one_live(order: tuple[str, str]) -> None:
    """Done's post of step 2 and a Start's repost both run before either is recorded (a Start arriving while the
    post is in flight): the repost had nothing to close, so the second recording closes the first message."""
    after_done = at_step(1, ref=None)
    repost = apply(GUIDE, KEY, after_done, Start(at=300.0))
    assert repost.effects == (PostStep(ID[1], again=True),)
    earlier, later = order
    first = apply(GUIDE, KEY, repost.state, StepPosted(ID[1], earlier))
    assert (first.state.step_message_ref, first.effects) == (earlier, ())
    second = apply(GUIDE, KEY, first.state, StepPosted(ID[1], later))
    assert second.state.step_message_ref == later
    assert second.effects == (CloseStep(ID[1], earlier, ClosedAs.SUPERSEDED),)


def test_the_same_post_recorded_twice_changes_nothing() -> None:
    posted = at_step(1, ref="m-1")
    transition = apply(GUIDE, KEY, posted, StepPosted(ID[1], "m-1"))
    assert (transition.state, transition.effects) == (posted, ())


# The key


def test_key_submitted_starts_a_check_and_keeps_only_the_fingerprint() -> None:
    transition = apply(GUIDE, KEY, at_step(KEY_STEP), KeySubmitted("sha256:ab12", at=200.0))

    assert transition.effects == (Report(Milestone.KEY_RECEIVED, ID[KEY_STEP]), RunKeyCheck())
    state = transition.state
    assert (state.status, place(state), state.key_fingerprint) == (Status.CHECKING, KEY_STEP, "sha256:ab12")
    # The event cannot carry the key itself, so neither can the state.
    assert {field.name for field in fields(KeySubmitted)} == {"fingerprint", "at"}
    assert {field.name for field in fields(RunKeyCheck)} == set()


def test_key_submitted_from_an_earlier_step_jumps_to_the_key_step_and_closes_the_open_step() -> None:
    transition = apply(GUIDE, KEY, at_step(1, ref="m-1"), KeySubmitted("fp", at=200.0))

    assert transition.effects == (
        CloseStep(ID[1], "m-1", ClosedAs.SUPERSEDED),
        Report(Milestone.KEY_RECEIVED, ID[KEY_STEP]),
        RunKeyCheck(),
    )
    state = transition.state
    assert (state.status, place(state)) == (Status.CHECKING, KEY_STEP)
    assert state.steps["key"] == StepTimes(reached=200.0)
    # The remembered message belonged to step 1; it must not be taken for the key step's message.
    assert state.step_message_ref is None


def test_a_second_key_while_one_is_being_checked_is_illegal() -> None:
    with pytest.raises(IllegalMove) as caught:
        apply(GUIDE, KEY, checking(), KeySubmitted("fp-2", at=201.0))
    assert caught.value.stale is False


def test_a_key_after_the_guide_was_abandoned_is_illegal() -> None:
    abandoned = at_step(2).model_copy(update={"status": Status.ABANDONED})
    with pytest.raises(IllegalMove):
        apply(GUIDE, KEY, abandoned, KeySubmitted("fp", at=201.0))


def test_a_new_key_may_replace_a_verified_one() -> None:
    verified = run(CheckFinished(KeyVerdict.VERIFIED, at=210.0), state=checking()).state
    state = apply(GUIDE, KEY, verified, KeySubmitted("fp-2", at=300.0)).state
    assert (state.status, state.key_fingerprint) == (Status.CHECKING, "fp-2")


@pytest.mark.parametrize(
    ("verdict", "status"),
    [
        (KeyVerdict.VERIFIED, Status.VERIFIED),
        (KeyVerdict.MISSING_SCOPES, Status.NEEDS_NEW_KEY),
        (KeyVerdict.INVALID_KEY, Status.NEEDS_NEW_KEY),
        (KeyVerdict.COULD_NOT_CHECK, Status.AWAITING_KEY),
        (KeyVerdict.COULD_NOT_PROVE, Status.AWAITING_KEY),
    ],
)
def test_check_finished_sets_the_status_of_its_verdict(verdict: KeyVerdict, status: Status) -> None:
    before = checking()
    transition = apply(GUIDE, KEY, before, CheckFinished(verdict, at=250.0))

    closed = CloseStep(ID[KEY_STEP], before.step_message_ref, ClosedAs.DONE)
    closing = (closed,) if verdict is KeyVerdict.VERIFIED else ()
    assert transition.effects == (*closing, Report(Milestone.CHECKED, ID[KEY_STEP]))
    state = transition.state
    assert (state.status, state.last_verdict, state.updated_at) == (status, verdict.value, 250.0)
    key_done = state.steps["key"].done
    assert key_done == (250.0 if verdict is KeyVerdict.VERIFIED else None)


def test_check_finished_without_a_running_check_is_stale() -> None:
    with pytest.raises(IllegalMove) as caught:
        apply(GUIDE, KEY, at_step(KEY_STEP), CheckFinished(KeyVerdict.VERIFIED, at=250.0))
    assert caught.value.stale is True


def test_a_key_can_be_sent_again_after_a_check_could_not_run() -> None:
    retry = run(CheckFinished(KeyVerdict.COULD_NOT_CHECK, at=210.0), state=checking()).state
    assert apply(GUIDE, KEY, retry, KeySubmitted("fp-1", at=220.0)).state.status is Status.CHECKING


# JSON


def test_a_full_state_round_trips_through_json() -> None:
    state = run(
        ThreadOpened("thread-1"),
        Stuck("key", at=190.0),
        KeySubmitted("fp-1", at=200.0),
        CheckFinished(KeyVerdict.VERIFIED, at=210.0),
        state=at_step(KEY_STEP, ref="m-key"),
    ).state.model_copy(update={"nudges": 2})

    text = state.to_json()

    assert Conversation.from_json(text) == state
    assert Conversation.from_json(text.encode()) == state
    assert '"schema_version":2' in text  # major 2: the place is a step id
    assert '"status":"verified"' in text


def test_json_of_a_newer_schema_major_is_refused() -> None:
    text = at_step(0).to_json().replace('"schema_version":2', '"schema_version":3')
    with pytest.raises(IncompatibleRecord, match=r"schema 3\.0, written by a newer release"):
        Conversation.from_json(text)


# Property: any sequence of events


STEP_IDS = [step.id for step in GUIDE.steps]
times = st.floats(min_value=0, max_value=4e9, allow_nan=False, allow_infinity=False)
step_ids = st.sampled_from([*STEP_IDS, "ghost"])
text = st.text(max_size=12)

events = st.one_of(
    st.builds(Start, at=times, at_step=st.one_of(st.none(), step_ids)),
    st.builds(Done, step_id=step_ids, at=times),
    st.builds(Back, step_id=step_ids, at=times),
    st.builds(Stuck, step_id=step_ids, at=times),
    st.builds(Resume, at=times),
    st.builds(ThreadOpened, ref=text),
    # The ref is replaced by a unique one below, so which step each message shows is known.
    st.builds(StepPosted, step_id=step_ids, ref=st.just("")),
    st.builds(KeySubmitted, fingerprint=text, at=times),
    st.builds(CheckFinished, verdict=st.sampled_from(KeyVerdict), at=times),
    st.builds(HandOver, to=st.sampled_from(["U1", "U2"]), at=times),
    st.builds(
        TakeOver,
        giver=st.just("U2"),
        step_id=step_ids,
        thread_ref=st.one_of(st.none(), text),
        steps=st.just({}),
        started_at=times,
        at=times,
    ),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(events, max_size=40))
def test_any_event_sequence_keeps_the_state_sound(sequence: list[Event]) -> None:
    for state, transition, posted in replay(GUIDE, KEY, sequence):
        assert 0 <= place(state) < GUIDE.step_count
        on_key_step = place(state) == KEY_STEP
        if state.status is Status.ABANDONED:
            assert state.handed_to == "U2", state  # only a hand-over (to someone else) ends a run here
        else:
            assert (state.status is Status.ACTIVE) == (not on_key_step), state
        if state.step_message_ref is not None:
            assert posted[state.step_message_ref] == STEP_IDS[place(state)], "message ref of another step"
        for effect in transition.effects:
            if isinstance(effect, PostStep | CloseStep | ConfirmHelpComing):
                assert effect.step_id in STEP_IDS


def test_a_conversation_outlives_a_shorter_new_version_of_its_guide() -> None:
    """A guide edited to fewer steps keeps users inside it instead of pointing past its end."""
    import dataclasses

    from conversations.events import Done as DoneEvent
    from conversations.guide import load_guide

    guide = load_guide()
    key = ConversationKey("slack", "T1", "C1", "U1")
    state = apply(guide, key, None, Start(at=1.0)).state
    for index in range(guide.step_count - 2):
        state = apply(guide, key, state, DoneEvent(guide.steps[index].id, at=2.0 + index)).state
    shorter = dataclasses.replace(guide, version=guide.version + 1, steps=guide.steps[:3] + guide.steps[-1:])
    after = apply(shorter, key, state, Start(at=50.0)).state
    assert after.guide_version == shorter.version
    # The step the user was on is gone: they land on the nearest earlier one that is left, not past it.
    assert after.step_id == guide.steps[2].id


# Hand-over: the giver's run ends, the receiver's starts at the same step with the same progress


def test_a_hand_over_ends_the_givers_run_and_closes_its_step_message() -> None:
    giver = at_step(2)
    handed = apply(GUIDE, KEY, giver, HandOver("U2", at=300.0))
    assert handed.state.status is Status.ABANDONED
    assert handed.state.handed_to == "U2"
    assert handed.state.step_message_ref is None
    assert handed.effects == (CloseStep(ID[2], "m-current", ClosedAs.SUPERSEDED),)


def test_a_hand_over_to_oneself_is_refused() -> None:
    with pytest.raises(IllegalMove):
        apply(GUIDE, KEY, at_step(1), HandOver(KEY.user, at=300.0))


def test_a_guide_being_checked_or_finished_cannot_be_handed_over() -> None:
    with pytest.raises(IllegalMove):
        apply(GUIDE, KEY, checking(), HandOver("U2", at=300.0))
    with pytest.raises(IllegalMove) as ended:  # a run the giver started afresh since is not the one handed over
        apply(GUIDE, KEY, at_step(1), HandOver("U2", at=300.0, started_at=99.0))
    assert ended.value.stale
    handed = apply(GUIDE, KEY, at_step(1), HandOver("U2", at=300.0)).state
    with pytest.raises(IllegalMove) as refused:
        apply(GUIDE, KEY, handed, HandOver("U3", at=301.0))
    assert refused.value.stale


def test_take_over_continues_at_the_same_step_in_the_same_thread_with_the_progress() -> None:
    giver = run(ThreadOpened("t-1"), state=at_step(2)).state
    receiver = ConversationKey("slack", "T1", "C1", "U2")
    taken = apply(
        GUIDE,
        receiver,
        None,
        TakeOver(giver.user, giver.step_id, giver.thread_ref, dict(giver.steps), giver.started_at, at=300.0),
    )
    assert taken.state.user == "U2"
    assert (taken.state.step_id, taken.state.thread_ref) == (ID[2], "t-1")
    assert taken.state.steps == giver.steps
    assert taken.state.taken_from == "U1"
    assert taken.state.status is Status.ACTIVE
    # The giver's run ends through this run's outbox; no new thread: the step goes in the giver's.
    assert taken.effects == (
        EndGiverRun("U1", giver.started_at, 300.0),
        TellHandOver("U1", taken=False),
        PostStep(ID[2], again=True),
    )


def test_take_over_on_the_key_step_awaits_the_key_and_closes_the_receivers_own_step() -> None:
    own = at_step(1, ref="m-own")
    taken = apply(GUIDE, KEY, own, TakeOver("U9", ID[KEY_STEP], "t-9", {}, 100.0, at=300.0, taken=True))
    assert taken.state.status is Status.AWAITING_KEY
    assert taken.effects == (
        CloseStep(ID[1], "m-own", ClosedAs.SUPERSEDED),
        EndGiverRun("U9", 100.0, 300.0),
        TellHandOver("U9", taken=True),
        PostStep(ID[KEY_STEP], again=True),
    )
    with pytest.raises(IllegalMove):
        apply(GUIDE, KEY, checking(), TakeOver("U9", ID[1], "t-9", {}, 100.0, at=300.0))


def test_a_start_repeated_at_once_changes_nothing_but_a_later_one_reposts_the_step() -> None:
    started = apply(GUIDE, KEY, None, Start(at=100.0)).state

    repeated = apply(GUIDE, KEY, started, Start(at=100.0 + START_AGAIN_SECONDS - 1))
    later = apply(GUIDE, KEY, started, Start(at=100.0 + START_AGAIN_SECONDS))

    assert (repeated.state, repeated.effects) == (started, ())
    assert PostStep(ID[0], again=True) in later.effects
