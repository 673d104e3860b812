"""The machine's troubles: I'm stuck offers them, a pick is answered and recorded, and a jump keeps help open."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conversations.addresses import ConversationKey
from conversations.conversation import Conversation, Status
from conversations.events import (
    AnswerTrouble,
    ClosedAs,
    CloseStep,
    ConfirmHelpComing,
    Done,
    Event,
    Milestone,
    OfferTroubles,
    PostStep,
    Report,
    ReportTrouble,
    Start,
    StepPosted,
    Stuck,
    TroubleChosen,
    TroublesAsked,
)
from conversations.guide import Guide, Step, StepAction, Trouble
from conversations.machine import TROUBLE_AGAIN_SECONDS, IllegalMove, Transition, apply
from tests.conversations.replay import replay

KEY = ConversationKey("slack", "T1", "C1", "U1")


def make_step(step_id: str, *troubles: Trouble, action: StepAction = StepAction.NEXT) -> Step:
    return Step(
        step_id, f"Title {step_id}", f"Text {step_id}", f"{step_id}.png", f"Alt {step_id}", action, 60, troubles
    )


GUIDE = Guide(
    id="test-guide",
    version=1,
    title="Test guide",
    summary="Four steps.",
    estimated_minutes=4,
    steps=(
        make_step("first"),
        make_step("second", Trouble("lost", "I'm lost", "Look left.")),
        make_step(
            "third",
            Trouble("closed", "I closed it", "Make another.", go_to="second"),
            Trouble("no-admin", "No admin login", "Hand it over.", hand_over=True),
        ),
        make_step("key", Trouble("gone", "Key gone", "Make a new one.", go_to="second"), action=StepAction.ENTER_KEY),
    ),
    images_dir=Path("unused"),
    new_key_step="second",
)


def run(*events: Event, state: Conversation | None = None) -> Transition:
    transition = None
    for event in events:
        transition = apply(GUIDE, KEY, state, event)
        state = transition.state
    assert transition is not None
    return transition


def at_step(index: int) -> Conversation:
    """Walked to step ``index`` by Done clicks at t=100, 110, …; its message posted as ``m-current``."""
    events: list[Event] = [Start(at=100.0)]
    events += [Done(GUIDE.steps[i].id, at=110.0 + 10 * i) for i in range(index)]
    events.append(StepPosted(GUIDE.steps[index].id, "m-current"))
    return run(*events).state


def test_im_stuck_offers_the_steps_troubles_and_records_when() -> None:
    state = at_step(1)
    transition = apply(GUIDE, KEY, state, TroublesAsked("second", at=200.0))
    assert transition.effects == (OfferTroubles("second"),)
    assert transition.state.steps["second"].offered_at == 200.0
    assert transition.state.stuck_at is None  # nobody is asked yet


def test_im_stuck_pressed_twice_at_once_offers_once_and_again_later() -> None:
    offered = run(TroublesAsked("second", at=200.0), state=at_step(1)).state
    assert run(TroublesAsked("second", at=201.0), state=offered).effects == ()
    later = 200.0 + TROUBLE_AGAIN_SECONDS + 1
    assert run(TroublesAsked("second", at=later), state=offered).effects == (OfferTroubles("second"),)


def test_im_stuck_soon_after_a_trouble_was_picked_offers_again() -> None:
    picked = run(TroublesAsked("second", at=200.0), TroubleChosen("second", "lost", at=202.0), state=at_step(1)).state
    assert run(TroublesAsked("second", at=204.0), state=picked).effects == (OfferTroubles("second"),)


def test_im_stuck_on_a_step_without_troubles_asks_a_person_at_once() -> None:
    transition = apply(GUIDE, KEY, at_step(0), TroublesAsked("first", at=200.0))
    assert transition.effects == (ConfirmHelpComing("first"), Report(Milestone.STUCK, "first"))
    assert transition.state.stuck_at == 200.0
    assert transition.state.steps["first"].asked_help == 1


def test_im_stuck_on_an_earlier_step_is_stale() -> None:
    with pytest.raises(IllegalMove) as refused:
        apply(GUIDE, KEY, at_step(2), TroublesAsked("second", at=200.0))
    assert refused.value.stale


def test_a_trouble_without_a_jump_is_answered_and_recorded_in_place() -> None:
    state = at_step(1)
    transition = apply(GUIDE, KEY, state, TroubleChosen("second", "lost", at=200.0))
    assert transition.effects == (AnswerTrouble("second", "lost"), ReportTrouble("second", "lost"))
    after = transition.state
    assert (after.step_id, after.step_message_ref, after.updated_at) == ("second", "m-current", 200.0)
    assert after.steps["second"].troubles == {"lost": 200.0}


def test_a_trouble_picked_twice_at_once_is_answered_once() -> None:
    chosen = run(TroubleChosen("second", "lost", at=200.0), state=at_step(1)).state
    assert run(TroubleChosen("second", "lost", at=203.0), state=chosen).effects == ()
    again = run(TroubleChosen("second", "lost", at=200.0 + TROUBLE_AGAIN_SECONDS + 1), state=chosen)
    assert again.effects == (AnswerTrouble("second", "lost"), ReportTrouble("second", "lost"))


def test_a_trouble_with_a_jump_moves_the_guide_and_keeps_an_open_request_for_help_open() -> None:
    stuck = run(Stuck("third", at=150.0), state=at_step(2)).state
    transition = apply(GUIDE, KEY, stuck, TroubleChosen("third", "closed", at=200.0))
    assert transition.effects == (
        AnswerTrouble("third", "closed"),
        CloseStep("third", "m-current", ClosedAs.JUMPED),
        PostStep("second", again=True),
        ReportTrouble("third", "closed"),
    )
    after = transition.state
    assert (after.step_id, after.step_message_ref, after.status) == ("second", None, Status.ACTIVE)
    assert after.stuck_at == 150.0  # only Done, Back or staff close a request for help
    assert after.steps["third"].troubles == {"closed": 200.0}
    assert after.steps["third"].asked_help == 1


def test_a_jump_from_the_key_step_leaves_awaiting_key() -> None:
    state = at_step(3)
    assert state.status is Status.AWAITING_KEY
    after = apply(GUIDE, KEY, state, TroubleChosen("key", "gone", at=300.0)).state
    assert (after.step_id, after.status) == ("second", Status.ACTIVE)


def test_a_double_click_on_a_jump_is_stale_and_changes_nothing() -> None:
    jumped = run(TroubleChosen("third", "closed", at=200.0), state=at_step(2)).state
    with pytest.raises(IllegalMove) as refused:
        apply(GUIDE, KEY, jumped, TroubleChosen("third", "closed", at=201.0))
    assert refused.value.stale


def test_a_trouble_the_guide_no_longer_has_is_refused() -> None:
    with pytest.raises(IllegalMove) as refused:
        apply(GUIDE, KEY, at_step(1), TroubleChosen("second", "gone", at=200.0))
    assert not refused.value.stale


def test_what_was_sought_on_a_step_survives_finishing_it() -> None:
    state = run(
        TroubleChosen("second", "lost", at=200.0),
        Stuck("second", at=210.0),
        Done("second", at=220.0),
        state=at_step(1),
    ).state
    times = state.steps["second"]
    assert (times.done, times.troubles, times.asked_help) == (220.0, {"lost": 200.0}, 1)


def test_an_edit_that_removed_the_step_answers_with_the_landing_step() -> None:
    state = at_step(2)
    edited = dataclasses.replace(GUIDE, version=2, steps=tuple(s for s in GUIDE.steps if s.id != "third"))
    transition = apply(edited, KEY, state, TroubleChosen("third", "closed", at=300.0))
    assert transition.state.step_id == "second"
    assert PostStep("second", again=True) in transition.effects


STEP_IDS = [step.id for step in GUIDE.steps]
_times = st.floats(min_value=0, max_value=4e9, allow_nan=False, allow_infinity=False)
_step_ids = st.sampled_from([*STEP_IDS, "ghost"])
_events = st.one_of(
    st.builds(Start, at=_times, at_step=st.one_of(st.none(), _step_ids)),
    st.builds(Done, step_id=_step_ids, at=_times),
    st.builds(Stuck, step_id=_step_ids, at=_times),
    st.builds(TroublesAsked, step_id=_step_ids, at=_times),
    st.builds(TroubleChosen, step_id=_step_ids, trouble_id=st.sampled_from(["lost", "closed", "gone", "x"]), at=_times),
    st.builds(StepPosted, step_id=_step_ids, ref=st.just("")),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_events, max_size=30))
def test_any_sequence_with_troubles_keeps_the_state_sound(sequence: list[Event]) -> None:
    for state, transition, posted in replay(GUIDE, KEY, sequence):
        assert (state.status is Status.AWAITING_KEY) == (state.step_id == "key")
        if state.step_message_ref is not None:
            assert posted[state.step_message_ref] == state.step_id, "message ref of another step"
        for effect in transition.effects:
            if isinstance(effect, AnswerTrouble | ReportTrouble):
                step = GUIDE.steps[GUIDE.index_of(effect.step_id)]
                assert step.trouble(effect.trouble_id) is not None
