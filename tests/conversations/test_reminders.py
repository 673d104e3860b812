"""The reminder rule on its own: quiet time, the cap, and working hours in two zones across weekends and DST."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

import pytest

from conversations.addresses import NUDGE_QUEUE, ConversationKey
from conversations.conversation import Conversation, Status
from conversations.events import Done, Milestone, Nudged, Remind, Report, Start
from conversations.guide import load_guide
from conversations.machine import IllegalMove, apply
from conversations.reminders import ReminderPolicy
from conversations.service import OnboardingService
from conversations.store import Store

GUIDE = load_guide()
KEY = ConversationKey("slack", "T1", "C1", "U1")
LONDON = ZoneInfo("Europe/London")
SYDNEY = ZoneInfo("Australia/Sydney")
HOUR = 3600.0
POLICY = ReminderPolicy(nudge_after=24 * HOUR, nudge_max=2)


def utc(text: str) -> float:
    """Unix time of an ISO date-time in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def local(moment: float, zone: tzinfo) -> str:
    """``moment`` as local wall-clock time in ``zone``, e.g. ``Mon 09:00``."""
    return datetime.fromtimestamp(moment, zone).strftime("%a %d %b %H:%M")


def started(at: float) -> Conversation:
    return apply(GUIDE, KEY, None, Start(at=at)).state


def test_due_after_the_quiet_period_counted_from_the_last_move_or_reminder() -> None:
    state = started(utc("2026-03-02T10:00"))
    assert POLICY.due_at(state) == utc("2026-03-03T10:00")
    moved = apply(GUIDE, KEY, state, Done(GUIDE.steps[0].id, at=utc("2026-03-02T15:00"))).state
    assert POLICY.due_at(moved) == utc("2026-03-03T15:00")
    reminded = apply(GUIDE, KEY, moved, Nudged(at=utc("2026-03-04T09:00")), POLICY).state
    assert POLICY.due_at(reminded) == utc("2026-03-05T09:00")


def test_never_due_past_the_cap_or_once_the_guide_is_not_in_progress() -> None:
    state = started(utc("2026-03-02T10:00"))
    assert POLICY.due_at(state.model_copy(update={"nudges": 2})) is None
    assert ReminderPolicy(nudge_max=0).due_at(state) is None
    abandoned = state.model_copy(update={"status": Status.ABANDONED})
    assert POLICY.due_at(abandoned) is None
    assert POLICY.next_due(abandoned, utc("2026-03-10T10:00"), LONDON) is None
    assert not POLICY.may_send(abandoned, utc("2026-03-10T10:00"), LONDON)


def test_the_same_quiet_guide_waits_for_working_hours_in_each_persons_zone() -> None:
    state = started(utc("2026-03-04T11:00"))  # Wednesday; due Thursday 5 March 11:00 UTC
    now = utc("2026-03-05T11:00")
    # London is on GMT in early March: 11:00 there, inside the window.
    assert POLICY.next_due(state, now, LONDON) == now
    assert POLICY.may_send(state, now, LONDON)
    # Sydney is on AEDT (UTC+11): 22:00 Thursday, so Friday 09:00 there.
    waits = POLICY.next_due(state, now, SYDNEY)
    assert waits is not None
    assert local(waits, SYDNEY) == "Fri 06 Mar 09:00"
    assert not POLICY.may_send(state, now, SYDNEY)
    assert POLICY.may_send(state, waits, SYDNEY)


def test_not_quiet_long_enough_is_not_due_even_in_working_hours() -> None:
    state = started(utc("2026-03-04T11:00"))
    now = utc("2026-03-05T10:59")
    assert POLICY.next_due(state, now, LONDON) == utc("2026-03-05T11:00")
    assert not POLICY.may_send(state, now, LONDON)


@pytest.mark.parametrize(
    ("now", "zone", "expected"),
    [
        # Friday after hours and the weekend wait for Monday 09:00.
        ("2026-03-06T17:00", LONDON, "Mon 09 Mar 09:00"),
        ("2026-03-07T12:00", LONDON, "Mon 09 Mar 09:00"),
        ("2026-03-08T23:59", LONDON, "Mon 09 Mar 09:00"),
        # Saturday 10:00 in Sydney is Friday 23:00 UTC.
        ("2026-03-06T23:00", SYDNEY, "Mon 09 Mar 09:00"),
        # Before the window on a weekday: the same day's 09:00; 16:59 is still inside.
        ("2026-03-09T07:30", LONDON, "Mon 09 Mar 09:00"),
        ("2026-03-09T16:59", LONDON, "Mon 09 Mar 16:59"),
    ],
)
def test_weekends_and_evenings_wait_for_the_next_working_morning(now: str, zone: tzinfo, expected: str) -> None:
    assert local(POLICY.working_moment(utc(now), zone), zone) == expected


def test_london_springing_forward_over_the_weekend_keeps_nine_oclock_local() -> None:
    # Clocks go forward on Sunday 29 March 2026: Monday 09:00 BST is 08:00 UTC, not 09:00.
    monday = POLICY.working_moment(utc("2026-03-27T17:30"), LONDON)
    assert monday == utc("2026-03-30T08:00")
    assert local(monday, LONDON) == "Mon 30 Mar 09:00"


def test_sydney_falling_back_over_the_weekend_keeps_nine_oclock_local() -> None:
    # Daylight saving ends in Sydney on Sunday 5 April 2026: Monday 09:00 AEST is 23:00 UTC on Sunday.
    monday = POLICY.working_moment(utc("2026-04-03T08:00"), SYDNEY)  # Friday 19:00 AEDT
    assert monday == utc("2026-04-05T23:00")
    assert local(monday, SYDNEY) == "Mon 06 Apr 09:00"


def test_a_guide_due_over_a_dst_weekend_is_sent_at_the_local_morning_in_both_zones() -> None:
    state = started(utc("2026-03-27T10:00"))  # due Saturday 28 March 10:00 UTC
    london = POLICY.next_due(state, utc("2026-03-28T10:00"), LONDON)
    sydney = POLICY.next_due(state, utc("2026-03-28T10:00"), SYDNEY)
    assert (london, sydney) == (utc("2026-03-30T08:00"), utc("2026-03-29T22:00"))


def test_a_policy_that_cannot_work_is_refused_when_made() -> None:
    with pytest.raises(ValueError, match="nudge_after"):
        ReminderPolicy(nudge_after=0)
    with pytest.raises(ValueError, match="nudge_max"):
        ReminderPolicy(nudge_max=-1)
    with pytest.raises(ValueError, match="working window"):
        ReminderPolicy(workday_start=17, workday_end=9)


# The machine asks the same rule.


def test_the_machine_sends_a_due_reminder_and_refuses_an_early_one_or_one_past_the_cap() -> None:
    state = started(utc("2026-03-02T10:00"))
    with pytest.raises(IllegalMove, match="not quiet long enough") as early:
        apply(GUIDE, KEY, state, Nudged(at=utc("2026-03-03T09:59")), POLICY)
    assert early.value.stale
    first = apply(GUIDE, KEY, state, Nudged(at=utc("2026-03-03T10:00")), POLICY)
    assert first.effects == (Remind(GUIDE.steps[0].id), Report(Milestone.NUDGED, GUIDE.steps[0].id))
    second = apply(GUIDE, KEY, first.state, Nudged(at=utc("2026-03-04T10:00")), POLICY).state
    assert second.nudges == 2
    with pytest.raises(IllegalMove, match="all 2 reminders were sent"):
        apply(GUIDE, KEY, second, Nudged(at=utc("2026-03-09T10:00")), POLICY)
    assert apply(GUIDE, KEY, second, Nudged(at=utc("2026-03-09T10:00")), ReminderPolicy(nudge_max=3)).state.nudges == 3


# The service keeps the due queue at the rule's answer.


async def test_the_due_queue_follows_the_rule_and_lets_go_at_the_cap(store: Store) -> None:
    clock = [utc("2026-03-02T10:00")]
    service = OnboardingService(store, GUIDE, clock=lambda: clock[0], reminders=POLICY)
    await service.handle(KEY, Start(at=clock[0]))
    assert await store.claim_due(NUDGE_QUEUE, utc("2026-03-03T09:59"), 60, 10) == []
    for day in ("2026-03-03T10:00", "2026-03-04T10:00"):
        clock[0] = utc(day)
        assert await store.claim_due(NUDGE_QUEUE, clock[0], 60, 10) == [str(KEY)]
        outcome = await service.handle(KEY, Nudged(at=clock[0]))
        assert outcome.refused is None
    # Two reminders sent: the conversation left the queue, however long it stays quiet.
    assert await store.claim_due(NUDGE_QUEUE, utc("2026-04-01T10:00"), 60, 10) == []
    assert (await service.handle(KEY, Nudged(at=utc("2026-04-01T10:00")))).refused is not None
