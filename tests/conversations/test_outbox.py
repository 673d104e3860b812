"""The outbox: effects are saved with their transition, survive reloads, and leave once settled."""

from __future__ import annotations

import pytest

from conversations.addresses import OUTBOX_QUEUE, ConversationKey
from conversations.events import ClosedAs, CloseStep, Milestone, PostStep, Report, Start
from conversations.guide import load_guide
from conversations.outbox import OutboxBatch, dump_effect, load_effect
from conversations.service import OnboardingService
from conversations.store import Store

GUIDE = load_guide()
KEY = ConversationKey("slack", "T1", "C1", "U1")


def test_effects_round_trip_through_json() -> None:
    effects = (
        PostStep("step-4", again=True),
        CloseStep("step-3", "123.4", ClosedAs.WENT_BACK),
        Report(Milestone.STUCK, "step-2"),
        Report(Milestone.RESET),
    )
    batch = OutboxBatch.of("b1", 10.0, effects)
    assert OutboxBatch.model_validate_json(batch.model_dump_json()).unpack() == effects
    with pytest.raises(ValueError, match="unknown effect type"):
        load_effect({"type": "LaunchRockets"})
    assert dump_effect(PostStep("step-2")) == {"type": "PostStep", "step_id": "step-2", "again": False}


async def test_a_transition_saves_its_effects_and_settling_removes_them(store: Store) -> None:
    service = OnboardingService(store, GUIDE, clock=lambda: 1000.0, outbox_grace=30)
    outcome = await service.handle(KEY, Start(at=1000.0))
    assert outcome.batch is not None
    saved = await service.conversation(KEY)
    assert saved is not None
    assert [batch.id for batch in saved.outbox] == [outcome.batch]
    assert saved.outbox[0].unpack() == outcome.effects
    assert await store.claim_due(OUTBOX_QUEUE, 1029.0, 60, 10) == []
    assert await store.claim_due(OUTBOX_QUEUE, 1031.0, 60, 10) == [str(KEY)]
    await service.settle(KEY, outcome.batch)
    settled = await service.conversation(KEY)
    assert settled is not None
    assert settled.outbox == ()
    assert await store.claim_due(OUTBOX_QUEUE, 5000.0, 60, 10) == []


async def test_batches_accumulate_until_each_is_settled(store: Store) -> None:
    service = OnboardingService(store, GUIDE, clock=lambda: 1000.0)
    first = await service.handle(KEY, Start(at=1000.0))
    second = await service.handle(KEY, Start(at=1020.0))  # later than a double click: shows the current step again
    state = await service.conversation(KEY)
    assert state is not None
    assert [b.id for b in state.outbox] == [first.batch, second.batch]
    assert first.batch is not None
    await service.settle(KEY, first.batch)
    await service.settle(KEY, first.batch)  # settling twice is harmless
    state = await service.conversation(KEY)
    assert state is not None
    assert [b.id for b in state.outbox] == [second.batch]
