"""Editing a guide moves nobody: conversations keep their place by step id across two versions of the real guide."""

from __future__ import annotations

import dataclasses
import json

import pytest

from conversations.addresses import ConversationKey
from conversations.conversation import Conversation, Status
from conversations.events import (
    Back,
    CheckFinished,
    ClosedAs,
    CloseStep,
    Done,
    Event,
    KeySubmitted,
    KeyVerdict,
    Milestone,
    Nudged,
    OpenThread,
    PostStep,
    Remind,
    Report,
    Resume,
    Start,
    StepPosted,
    Stuck,
    ThreadOpened,
)
from conversations.guide import Guide, Step, load_guide
from conversations.machine import IllegalMove, adopt, apply
from conversations.reminders import ReminderPolicy
from conversations.service import OnboardingService
from conversations.store import Store

KEY = ConversationKey("slack", "T1", "C1", "U1")
OLD = load_guide()
STEPS = {step.id: step for step in OLD.steps}
# Version 2 of the same guide: a new step before "developer-tab", and "describe-token" removed.
CHECK_ROLE = Step("check-role", "Check your role", "Make sure you are an administrator.", "1.png", "Your role")
NEW = dataclasses.replace(
    OLD,
    version=OLD.version + 1,
    steps=tuple(
        step
        for old in OLD.steps
        if old.id != "describe-token"
        for step in ((CHECK_ROLE, old) if old.id == "developer-tab" else (old,))
    ),
)


def walk(guide: Guide, to: str, ref: str = "m-current") -> Conversation:
    """A conversation walked with Done clicks from the first step to ``to``, whose message is posted as ``ref``."""
    state = apply(guide, KEY, None, Start(at=100.0)).state
    state = apply(guide, KEY, state, ThreadOpened("thread")).state
    for number, step in enumerate(guide.steps[: guide.index_of(to)]):
        state = apply(guide, KEY, state, Done(step.id, at=110.0 + number)).state
    return apply(guide, KEY, state, StepPosted(to, ref)).state


def test_the_two_versions_differ_as_the_tests_assume() -> None:
    assert [step.id for step in NEW.steps].index("developer-tab") == OLD.index_of("developer-tab") + 1
    assert NEW.position("describe-token") is None
    assert OLD.position("check-role") is None
    assert NEW.position("generate-token") == OLD.index_of("generate-token") + 1


def test_a_step_added_before_the_current_one_moves_nobody_and_the_button_still_works() -> None:
    state = walk(OLD, "developer-tab")
    transition = apply(NEW, KEY, state, Done("developer-tab", at=500.0))
    assert transition.state.step_id == "generate-token"
    assert transition.state.guide_version == NEW.version
    assert transition.effects == (
        CloseStep("developer-tab", "m-current", ClosedAs.DONE),
        PostStep("generate-token"),
        Report(Milestone.STEP_DONE, "developer-tab"),
    )


def test_a_step_removed_after_the_current_one_skips_it_on_the_way() -> None:
    state = walk(OLD, "generate-token")
    transition = apply(NEW, KEY, state, Done("generate-token", at=500.0))
    assert transition.state.step_id == "tick-permissions"  # "describe-token" is gone from version 2
    assert PostStep("tick-permissions") in transition.effects


def test_an_edit_that_keeps_the_step_posts_nothing_and_only_records_the_version() -> None:
    state = walk(OLD, "save-token")
    adopted = adopt(NEW, state)
    assert adopted.effects == ()
    assert adopted.state == state.model_copy(update={"guide_version": NEW.version})


@pytest.mark.parametrize("event", [Resume(at=500.0), Start(at=500.0), Done("describe-token", at=500.0)])
def test_a_removed_current_step_lands_on_the_nearest_earlier_step_and_shows_it(event: Event) -> None:
    state = walk(OLD, "describe-token")
    transition = apply(NEW, KEY, state, event)
    assert transition.state.step_id == "generate-token"
    assert transition.state.step_message_ref is None
    assert transition.state.updated_at == 500.0
    assert transition.effects == (
        CloseStep("describe-token", "m-current", ClosedAs.SUPERSEDED),
        PostStep("generate-token", again=True),
    )
    # Their next click on the step they landed on works.
    shown = apply(NEW, KEY, transition.state, StepPosted("generate-token", "m-again")).state
    assert apply(NEW, KEY, shown, Done("generate-token", at=510.0)).state.step_id == "tick-permissions"


def test_the_landing_is_the_nearest_earlier_step_reached_that_still_exists() -> None:
    # Back from "describe-token" to "generate-token": "describe-token" is still in the steps reached, after it.
    state = walk(OLD, "describe-token")
    state = apply(OLD, KEY, state, Back("describe-token", at=300.0)).state
    without_both = dataclasses.replace(
        NEW, steps=tuple(step for step in NEW.steps if step.id != "generate-token"), new_key_step="sign-in"
    )
    transition = apply(without_both, KEY, state, Resume(at=500.0))
    assert transition.state.step_id == "developer-tab"
    assert transition.effects[-1] == PostStep("developer-tab", again=True)


def test_with_no_earlier_step_left_the_first_step_is_the_landing() -> None:
    state = walk(OLD, "sign-in")
    renamed = dataclasses.replace(NEW, steps=(dataclasses.replace(NEW.steps[0], id="log-in"), *NEW.steps[1:]))
    assert apply(renamed, KEY, state, Resume(at=500.0)).state.step_id == "log-in"


def test_other_events_keep_their_own_effects_after_the_landing() -> None:
    state = walk(OLD, "describe-token")
    nudged = apply(NEW, KEY, state, Nudged(at=100.0 + 2 * 86400))
    assert nudged.effects == (
        CloseStep("describe-token", "m-current", ClosedAs.SUPERSEDED),
        PostStep("generate-token", again=True),
        Remind("generate-token"),
        Report(Milestone.NUDGED, "generate-token"),
    )
    # A key sent from the removed step's message: the key step is posted by nobody (it was not), nothing twice.
    keyed = apply(NEW, KEY, state, KeySubmitted("fp", at=500.0))
    assert keyed.state.step_id == "enter-key"
    assert [type(effect).__name__ for effect in keyed.effects].count("PostStep") <= 1
    with pytest.raises(IllegalMove) as stale:
        apply(NEW, KEY, state, Stuck("sign-in", at=500.0))
    assert stale.value.stale


def test_a_refused_key_keeps_needing_a_new_key_after_an_edit() -> None:
    state = walk(OLD, "enter-key")
    state = apply(OLD, KEY, state, KeySubmitted("fp", at=300.0)).state
    state = apply(OLD, KEY, state, CheckFinished(KeyVerdict.MISSING_SCOPES, at=310.0)).state
    assert state.status is Status.NEEDS_NEW_KEY
    adopted = adopt(NEW, state)
    assert (adopted.state.status, adopted.state.step_id, adopted.effects) == (Status.NEEDS_NEW_KEY, "enter-key", ())


def test_a_key_step_renamed_while_a_key_is_checked_keeps_the_check_on_the_key_step() -> None:
    state = walk(OLD, "enter-key")
    state = apply(OLD, KEY, state, KeySubmitted("fp", at=300.0)).state
    renamed = dataclasses.replace(NEW, steps=(*NEW.steps[:-1], dataclasses.replace(NEW.steps[-1], id="paste-key")))
    finished = apply(renamed, KEY, state, CheckFinished(KeyVerdict.VERIFIED, at=310.0))
    assert (finished.state.status, finished.state.step_id) == (Status.VERIFIED, "paste-key")


# Records written before step ids (``step_index``), read with the guide they were written with.


def legacy_record(index: int, version: int = OLD.version) -> str:
    """A conversation as the code before step ids wrote it, with one unsettled batch of index-based effects."""
    record = json.loads(walk(OLD, OLD.steps[index].id).to_json())
    del record["step_id"]
    record |= {"step_index": index, "guide_version": version}
    record["outbox"] = [
        {
            "id": "b1",
            "at": 120.0,
            "effects": [
                {"type": "CloseStep", "index": index - 1, "ref": "m-before", "outcome": "done"},
                {"type": "PostStep", "index": index, "again": False},
                {"type": "Report", "milestone": "step_done", "index": index - 1},
                {"type": "Report", "milestone": "reset", "index": None},
                {"type": "OpenThread"},
            ],
        }
    ]
    return json.dumps(record)


def test_an_index_record_is_read_with_the_guide_version_it_was_written_with() -> None:
    index = OLD.index_of("generate-token")  # in version 2 this index is "developer-tab"
    state = Conversation.from_json(legacy_record(index), guides=(NEW, OLD))
    assert state.step_id == "generate-token"
    assert state.outbox[0].unpack() == (
        CloseStep("developer-tab", "m-before", ClosedAs.DONE),
        PostStep("generate-token"),
        Report(Milestone.STEP_DONE, "developer-tab"),
        Report(Milestone.RESET),
        OpenThread(),
    )
    assert "step_index" not in state.to_json()


def test_an_index_record_of_an_unknown_version_is_read_with_the_current_guide() -> None:
    index = OLD.index_of("generate-token")
    state = Conversation.from_json(legacy_record(index, version=99), guides=(NEW,))
    assert state.step_id == NEW.steps[index].id == "developer-tab"


def test_an_index_record_without_a_guide_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="names its step by index"):
        Conversation.from_json(legacy_record(2))
    broken = json.loads(legacy_record(2)) | {"step_index": -1}
    with pytest.raises(ValueError, match="step_index must be a whole number"):
        Conversation.from_json(json.dumps(broken), guides=(OLD,))


# The service: records saved with version 1, served with version 2.


async def test_a_service_with_the_new_guide_shows_the_landing_and_saves_it_with_the_next_event(store: Store) -> None:
    await store.put(str(KEY), walk(OLD, "describe-token").to_json(), 0)
    service = OnboardingService(store, NEW, clock=lambda: 500.0, reminders=ReminderPolicy())
    viewed = await service.conversation(KEY)
    assert viewed is not None
    assert (viewed.step_id, viewed.guide_version) == ("generate-token", NEW.version)
    assert [c.step_id for c in await service.conversations("slack", "T1")] == ["generate-token"]

    refused = await service.handle(KEY, Stuck("sign-in", at=500.0))
    assert refused.refused is not None
    assert refused.state is not None
    assert refused.state.step_id == "generate-token"  # what a "that button is stale" answer must name

    shown = await service.handle(KEY, Resume(at=500.0))
    assert shown.effects == (
        CloseStep("describe-token", "m-current", ClosedAs.SUPERSEDED),
        PostStep("generate-token", again=True),
    )
    saved = await store.get(str(KEY))
    assert saved is not None
    assert Conversation.from_json(saved.data).step_id == "generate-token"


async def test_a_service_reads_an_index_record_of_an_earlier_guide_it_was_given(store: Store) -> None:
    index = OLD.index_of("generate-token")
    await store.put(str(KEY), legacy_record(index), 0)
    service = OnboardingService(store, NEW, clock=lambda: 500.0, earlier_guides=(OLD,))
    outcome = await service.handle(KEY, Done("generate-token", at=500.0))
    assert outcome.refused is None
    assert outcome.state is not None
    assert outcome.state.step_id == "tick-permissions"
    # The old batch was carried over with step ids: recovery would close and post the right steps.
    assert outcome.state.outbox[0].unpack()[1] == PostStep("generate-token")
    await service.settle(KEY, "b1")
    saved = await store.get(str(KEY))
    assert saved is not None
    assert '"step_index"' not in saved.data
