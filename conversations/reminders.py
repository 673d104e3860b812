"""The reminder rule: when a quiet guide gets a friendly nudge, how many it gets, and only in working hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from conversations.conversation import Conversation


@dataclass(frozen=True, slots=True)
class ReminderPolicy:
    """A pure rule, asked with the time and the person's time zone (no clock or I/O of its own).

    Attributes:
        nudge_after: Seconds of quiet (no move and no reminder) before a reminder is due.
        nudge_max: At most this many reminders per guide.
        workday_start: First hour (local, 0-23) of the working window on weekdays.
        workday_end: The hour (local) the working window closes; reminders wait for the next weekday's window.
    """

    nudge_after: float = 24 * 3600.0
    nudge_max: int = 2
    workday_start: int = 9
    workday_end: int = 17

    def __post_init__(self) -> None:
        if self.nudge_after <= 0:
            raise ValueError("nudge_after must be more than 0 seconds")
        if self.nudge_max < 0:
            raise ValueError("nudge_max must be 0 or more")
        if not 0 <= self.workday_start < self.workday_end <= 24:
            raise ValueError("the working window must be 0 <= workday_start < workday_end <= 24")

    def due_at(self, state: Conversation) -> float | None:
        """When ``state`` has been quiet long enough for a reminder; None when it will never get one.

        This ignores working hours (they need the person's zone): it is what the due queue is kept at.
        """
        if not state.in_progress or state.nudges >= self.nudge_max:
            return None
        return state.quiet_since + self.nudge_after

    def next_due(self, state: Conversation, now: float, zone: tzinfo) -> float | None:
        """When a reminder may be sent to ``state``: quiet long enough and inside working hours in ``zone``.

        Returns:
            ``now`` when one may be sent now, a later moment when it has to wait, None for never.
        """
        due = self.due_at(state)
        if due is None:
            return None
        return self.working_moment(max(due, now), zone)

    def may_send(self, state: Conversation, now: float, zone: tzinfo) -> bool:
        """Whether a reminder may be sent to ``state`` at ``now``, for a person in ``zone``."""
        due = self.next_due(state, now, zone)
        return due is not None and due <= now

    def working_moment(self, moment: float, zone: tzinfo) -> float:
        """``moment`` if it falls on a weekday inside the working window in ``zone``, else that window's next start."""
        local = datetime.fromtimestamp(moment, zone)
        if local.weekday() < 5 and self.workday_start <= local.hour < self.workday_end:
            return moment
        # Calendar arithmetic on dates, then the wall-clock start localised afresh: a DST change in between
        # moves the UTC instant, not the local 09:00.
        day = local.date() if local.hour < self.workday_start else local.date() + timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        start = datetime(day.year, day.month, day.day, self.workday_start, tzinfo=zone)
        return start.timestamp()
