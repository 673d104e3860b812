"""The funnel, computed from stored conversations: reached, median time, drop-off, troubles and people asked."""

from __future__ import annotations

from bot.core.funnel import StepFunnel, TroubleCount, funnel
from conversations.conversation import Conversation, StepTimes
from tests.bot.test_key_check import GUIDE

IDS = [step.id for step in GUIDE.steps]


def conversation(user: str, steps: dict[str, StepTimes]) -> Conversation:
    first = next(iter(steps))
    return Conversation(
        platform="slack",
        team="T1",
        channel="C1",
        user=user,
        guide_id=GUIDE.id,
        guide_version=GUIDE.version,
        step_id=list(steps)[-1],
        started_at=steps[first].reached,
        updated_at=steps[first].reached,
        steps=steps,
    )


def test_each_step_counts_reached_median_drop_troubles_and_people_asked() -> None:
    a = conversation(
        "U1",
        {
            IDS[0]: StepTimes(reached=0, done=60, troubles={"forgot-password": 10, "not-sure-admin": 20}, asked_help=1),
            IDS[1]: StepTimes(reached=60, done=80),
            IDS[2]: StepTimes(reached=80),
        },
    )
    b = conversation("U2", {IDS[0]: StepTimes(reached=0, done=120, troubles={"forgot-password": 5, "gone": 6})})
    c = conversation("U3", {IDS[0]: StepTimes(reached=0, asked_help=2)})
    rows = funnel(GUIDE, [a, b, c])
    assert rows[0] == StepFunnel(
        index=0,
        title=GUIDE.steps[0].title,
        reached=3,
        median_seconds=90.0,
        dropped=2,
        troubles=(
            TroubleCount("forgot-password", "I can't sign in to Dentally", 2),
            TroubleCount("gone", "gone", 1),  # a trouble an edit removed shows by its id
            TroubleCount("not-sure-admin", "I'm not sure my login is an administrator one", 1),
        ),
        asked_a_person=2,
        asked_after_a_trouble=1,
    )
    assert (rows[1].reached, rows[1].median_seconds, rows[1].dropped, rows[1].troubles) == (1, 20.0, 0, ())
    assert (rows[2].reached, rows[2].median_seconds) == (1, None)
    assert rows[-1].dropped == 0


def test_a_run_that_starts_at_a_later_step_never_makes_a_negative_drop() -> None:
    new_key = GUIDE.new_key_step
    rows = funnel(GUIDE, [conversation("U1", {new_key: StepTimes(reached=0)})])
    before = GUIDE.index_of(new_key) - 1
    assert (rows[before].reached, rows[before].dropped) == (0, 0)
    assert funnel(GUIDE, []) == [StepFunnel(i, s.title, 0, None, 0, (), 0, 0) for i, s in enumerate(GUIDE.steps)]
