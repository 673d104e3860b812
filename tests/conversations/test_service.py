"""The onboarding service on real stores: compare-and-set under concurrent clicks, refusals, restarts, clinics."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from conversations.addresses import ConversationKey
from conversations.clinic import Clinic
from conversations.conversation import Conversation, Status
from conversations.events import ClosedAs, CloseStep, Done, PostStep, Start, StepPosted, ThreadOpened
from conversations.guide import Guide, Step, StepAction
from conversations.service import OnboardingService
from conversations.store import DueChange, Record, Store, VersionConflict
from conversations.stores import open_store

GUIDE = Guide(
    id="test-guide",
    version=1,
    title="Test guide",
    summary="Four steps.",
    estimated_minutes=3,
    steps=tuple(
        Step(step_id, step_id.title(), f"Do {step_id}.", f"{step_id}.png", f"Picture of {step_id}", action)
        for step_id, action in [
            ("first", StepAction.NEXT),
            ("second", StepAction.NEXT),
            ("third", StepAction.NEXT),
            ("key", StepAction.ENTER_KEY),
        ]
    ),
    images_dir=Path("unused"),
    new_key_step="second",
)
KEY = ConversationKey("slack", "T1", "C1", "U1")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class LockstepStore:
    """A real store whose first ``readers`` reads wait for one another, so those callers surely race.

    Without it, whether two "concurrent" handlers both read before either writes depends on scheduling.
    """

    def __init__(self, inner: Store, readers: int) -> None:
        self._inner = inner
        self._waiting = readers
        self._barrier = asyncio.Barrier(readers)
        self.conflicts = 0

    async def get(self, key: str) -> Record | None:
        record = await self._inner.get(key)
        if self._waiting > 0:
            self._waiting -= 1
            await self._barrier.wait()
        return record

    async def put(self, key: str, data: str, expected_version: int, due: Sequence[DueChange] = ()) -> int:
        try:
            return await self._inner.put(key, data, expected_version, due)
        except VersionConflict:
            self.conflicts += 1
            raise

    async def scan(self, prefix: str) -> list[tuple[str, Record]]:
        return await self._inner.scan(prefix)

    async def delete(self, key: str) -> None:
        await self._inner.delete(key)

    async def mark_once(self, key: str, ttl_seconds: float) -> bool:
        return await self._inner.mark_once(key, ttl_seconds)

    async def schedule(self, queue: str, item: str, due_at: float) -> None:
        await self._inner.schedule(queue, item, due_at)

    async def schedule_by(self, queue: str, item: str, due_at: float) -> None:
        await self._inner.schedule_by(queue, item, due_at)

    async def claim_due(self, queue: str, now: float, lease_seconds: float, limit: int) -> list[str]:
        return await self._inner.claim_due(queue, now, lease_seconds, limit)

    async def unschedule(self, queue: str, item: str) -> None:
        await self._inner.unschedule(queue, item)

    async def ping(self) -> None:
        await self._inner.ping()

    async def aclose(self) -> None:
        """The wrapped store belongs to the fixture, which closes it."""


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(store: Store, clock: Clock) -> OnboardingService:
    return OnboardingService(store, GUIDE, clock=clock)


async def stored(store: Store, key: ConversationKey) -> tuple[Conversation, int]:
    record = await store.get(str(key))
    assert record is not None
    return Conversation.from_json(record.data), record.version


async def test_a_double_click_advances_once_and_refuses_the_other_as_stale(store: Store, clock: Clock) -> None:
    racing = LockstepStore(store, readers=2)
    service = OnboardingService(racing, GUIDE, clock=clock)
    await OnboardingService(store, GUIDE, clock=clock).handle(KEY, Start(at=100.0))

    outcomes = await asyncio.gather(
        service.handle(KEY, Done("first", at=110.0)),
        service.handle(KEY, Done("first", at=110.2)),
    )

    assert racing.conflicts == 1, "both clicks should have read the same version"
    advanced = [outcome for outcome in outcomes if outcome.refused is None]
    refused = [outcome for outcome in outcomes if outcome.refused is not None]
    assert len(advanced) == 1
    assert len(refused) == 1
    assert refused[0].refused is not None
    assert refused[0].refused.stale is True
    assert refused[0].effects == ()
    assert advanced[0].effects[:2] == (CloseStep("first", None, ClosedAs.DONE), PostStep("second"))
    # The loser reloaded and saw the winner's state.
    assert refused[0].state == advanced[0].state
    state, version = await stored(store, KEY)
    assert (state.step_id, version) == ("second", 2)
    assert state == advanced[0].state


async def test_concurrent_clicks_without_a_forced_race_still_advance_once(service: OnboardingService) -> None:
    await service.handle(KEY, Start(at=100.0))

    outcomes = await asyncio.gather(*(service.handle(KEY, Done("first", at=110.0 + i)) for i in range(5)))

    assert sum(outcome.refused is None for outcome in outcomes) == 1
    assert all(outcome.refused.stale for outcome in outcomes if outcome.refused is not None)
    state, version = await stored(service.store, KEY)
    assert (state.step_id, version) == ("second", 2)


async def test_twenty_concurrent_users_do_not_interfere(service: OnboardingService) -> None:
    users = [ConversationKey("slack", "T1", f"C{i % 3}", f"U{i:02d}") for i in range(20)]

    async def walk(key: ConversationKey, steps: int) -> None:
        assert (await service.handle(key, Start(at=100.0))).refused is None
        for index in range(steps):
            outcome = await service.handle(key, Done(GUIDE.steps[index].id, at=110.0 + index))
            assert outcome.refused is None, (key, outcome.refused)

    await asyncio.gather(*(walk(key, number % GUIDE.step_count) for number, key in enumerate(users)))

    for number, key in enumerate(users):
        state, version = await stored(service.store, key)
        assert state.key == key
        assert state.step_id == GUIDE.steps[number % GUIDE.step_count].id
        assert version == 1 + number % GUIDE.step_count
    everyone = await service.conversations("slack", "T1")
    assert sorted(state.user for state in everyone) == sorted(key.user for key in users)
    in_c1 = await service.conversations("slack", "T1", "C1")
    assert sorted(state.user for state in in_c1) == sorted(key.user for key in users if key.channel == "C1")


async def test_a_refused_event_saves_nothing(service: OnboardingService) -> None:
    await service.handle(KEY, Start(at=100.0))
    await service.handle(KEY, Done("first", at=110.0))
    before = await service.store.get(str(KEY))
    assert before is not None

    stale = await service.handle(KEY, Done("first", at=120.0))
    illegal = await service.handle(KEY, Done("no-such-step", at=121.0))

    assert stale.refused is not None
    assert stale.refused.stale is True
    assert illegal.refused is not None
    assert stale.state == Conversation.from_json(before.data)
    assert await service.store.get(str(KEY)) == before


async def test_a_refused_first_event_creates_no_conversation(service: OnboardingService) -> None:
    outcome = await service.handle(KEY, Done("first", at=1.0))

    assert outcome.refused is not None
    assert outcome.state is None
    assert await service.store.get(str(KEY)) is None
    assert await service.conversation(KEY) is None


async def test_an_event_that_changes_nothing_saves_nothing(service: OnboardingService) -> None:
    await service.handle(KEY, Start(at=100.0))
    await service.handle(KEY, Done("first", at=110.0))
    _, version = await stored(service.store, KEY)

    late = await service.handle(KEY, StepPosted("first", "m-late"))

    assert late.refused is None
    assert late.effects == ()
    assert (await stored(service.store, KEY))[1] == version


@pytest.mark.parametrize("order", [("m-done", "m-again"), ("m-again", "m-done")])
async def test_a_second_post_of_the_current_step_saves_the_closing_of_the_first(
    service: OnboardingService, order: tuple[str, str]
) -> None:
    await service.handle(KEY, Start(at=100.0))
    await service.handle(KEY, Done("first", at=110.0))
    repost = await service.handle(KEY, Start(at=111.0))  # before Done's post of "second" is recorded
    assert repost.effects == (PostStep("second", again=True),)
    earlier, later = order
    assert (await service.handle(KEY, StepPosted("second", earlier))).effects == ()
    recorded = await service.handle(KEY, StepPosted("second", later))
    assert recorded.effects == (CloseStep("second", earlier, ClosedAs.SUPERSEDED),)
    assert recorded.batch is not None
    saved = await service.conversation(KEY)
    assert saved is not None
    assert saved.step_message_ref == later
    # The closing waits in the outbox until carried out, so a crash now cannot leave both messages live.
    assert saved.outbox[-1].id == recorded.batch
    assert saved.outbox[-1].unpack() == recorded.effects


async def test_state_survives_a_restart_mid_guide(tmp_path: Path, clock: Clock) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    first = open_store(url)
    service = OnboardingService(first, GUIDE, clock=clock)
    await service.handle(KEY, Start(at=100.0))
    await service.handle(KEY, ThreadOpened("thread-1"))
    await service.handle(KEY, Done("first", at=110.0))
    await service.handle(KEY, StepPosted("second", "m-2"))
    before_restart = await service.conversation(KEY)
    await first.aclose()

    reopened = open_store(url)
    try:
        restarted = OnboardingService(reopened, GUIDE, clock=clock)
        assert await restarted.conversation(KEY) == before_restart
        outcome = await restarted.handle(KEY, Done("second", at=130.0))
        assert outcome.refused is None
        assert outcome.effects[:2] == (CloseStep("second", "m-2", ClosedAs.DONE), PostStep("third"))
        assert outcome.state is not None
        assert (outcome.state.step_id, outcome.state.thread_ref) == ("third", "thread-1")
    finally:
        await reopened.aclose()


async def test_conversation_reads_what_handle_saved(service: OnboardingService) -> None:
    outcome = await service.handle(KEY, Start(at=100.0, at_step="key"))
    saved = await service.conversation(KEY)
    assert saved == outcome.state
    assert saved is not None
    assert saved.status is Status.AWAITING_KEY


async def test_update_clinic_creates_then_updates(service: OnboardingService, clock: Clock) -> None:
    clock.now = 1000.0
    created, before = await service.update_clinic(
        "slack", "C9", lambda clinic: clinic.model_copy(update={"name": "Smile Dental"})
    )

    assert before is None
    assert (created.platform, created.channel, created.name) == ("slack", "C9", "Smile Dental")
    assert (created.created_at, created.updated_at) == (1000.0, 1000.0)

    clock.now = 2000.0
    updated, before = await service.update_clinic(
        "slack", "C9", lambda clinic: clinic.model_copy(update={"support_ref": "1700000000.1"})
    )

    assert before == created
    assert (updated.name, updated.support_ref) == ("Smile Dental", "1700000000.1")
    assert (updated.created_at, updated.updated_at) == (1000.0, 2000.0)
    assert await service.clinic("slack", "C9") == updated
    assert await service.clinics("slack") == [updated]
    assert await service.clinic("slack", "C-other") is None


async def test_update_clinic_that_changes_nothing_saves_nothing(service: OnboardingService, clock: Clock) -> None:
    created, _ = await service.update_clinic("slack", "C9", lambda clinic: clinic.model_copy(update={"name": "A"}))
    clock.now += 60

    after, before = await service.update_clinic("slack", "C9", lambda clinic: clinic)

    assert after == before == created
    record = await service.store.get("aldense:v1:clinic:slack:C9")
    assert record is not None
    assert record.version == 1


async def test_concurrent_clinic_updates_all_land(store: Store, clock: Clock) -> None:
    racing = LockstepStore(store, readers=10)
    service = OnboardingService(racing, GUIDE, clock=clock)

    def add_team(team: str) -> Callable[[Clinic], Clinic]:
        def change(clinic: Clinic) -> Clinic:
            return clinic.model_copy(update={"unverified_keys": {**clinic.unverified_keys, team: "sealed"}})

        return change

    teams = [f"T{i}" for i in range(10)]
    results = await asyncio.gather(*(service.update_clinic("slack", "C9", add_team(team)) for team in teams))

    assert racing.conflicts >= 9, "all ten should have raced to create the record"
    clinic = await service.clinic("slack", "C9")
    assert clinic is not None
    assert sorted(clinic.unverified_keys) == teams
    assert sum(before is None for _, before in results) == 1
    record = await store.get("aldense:v1:clinic:slack:C9")
    assert record is not None
    assert record.version == 10
