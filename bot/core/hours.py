"""Aldense support's hours (``Mon-Fri 09:00-17:30 Europe/London``): parsed, validated, and said in a person's zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_HOURS_TEXT = 80
# The longest promise a clinic can be told, for the guide check's rendered-length limits.
LONGEST_PROMISE = (
    "Aldense support is away now and back Wednesday 09:00 America/Argentina/ComodRivadavia time "
    f"(hours: {'x' * MAX_HOURS_TEXT})."
)
_SHAPE = re.compile(r"^\s*(?P<days>\S+)\s+(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})\s+(?P<zone>\S+)\s*$")


@dataclass(frozen=True, slots=True)
class SupportHours:
    """When Aldense support answers: on ``days`` (0 is Monday) from ``start`` to ``end`` in ``zone``."""

    days: frozenset[int]
    start: time
    end: time
    zone: ZoneInfo
    text: str

    def is_open(self, at: float) -> bool:
        """Whether support is in at Unix time ``at``."""
        local = datetime.fromtimestamp(at, self.zone)
        return local.weekday() in self.days and self.start <= local.time() < self.end

    def next_open(self, at: float) -> datetime:
        """When support is next in after ``at`` (``at`` itself when it is in now), in support's zone."""
        local = datetime.fromtimestamp(at, self.zone)
        if self.is_open(at):
            return local
        for ahead in range(8):
            day = (local + timedelta(days=ahead)).date()
            opening = datetime.combine(day, self.start, self.zone)
            if day.weekday() in self.days and opening > local:
                return opening
        raise AssertionError("support hours name at least one day")  # parse_hours refuses an empty week


def parse_hours(text: str) -> SupportHours:
    """Read ``Mon-Fri 09:00-17:30 Europe/London`` (days as a range or a comma list, 24-hour times, an IANA zone).

    Raises:
        ValueError: The text is not of that shape, names an unknown day or zone, or ends before it starts.
    """
    shape = _SHAPE.match(text) if len(text) <= MAX_HOURS_TEXT else None
    if shape is None:
        raise ValueError("must read like 'Mon-Fri 09:00-17:30 Europe/London'")
    days: set[int] = set()
    for part in shape["days"].split(","):
        first, _, last = part.partition("-")
        begin, final = _day(first), _day(last or first)
        days |= {(begin + n) % 7 for n in range((final - begin) % 7 + 1)}
    start, end = _time(shape["start"]), _time(shape["end"])
    if end <= start:
        raise ValueError(f"the hours end ({shape['end']}) before they start ({shape['start']})")
    try:
        zone = ZoneInfo(shape["zone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {shape['zone']!r} (use an IANA name like Europe/London)") from None
    return SupportHours(frozenset(days), start, end, zone, " ".join(text.split()))


def _day(name: str) -> int:
    wanted = name.strip()[:3].title()
    if wanted not in DAYS:
        raise ValueError(f"unknown day {name!r} (use Mon, Tue, Wed, Thu, Fri, Sat, Sun)")
    return DAYS.index(wanted)


def _time(text: str) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    if hours > 23 or minutes > 59:
        raise ValueError(f"{text!r} is not a time of day")
    return time(hours, minutes)


@dataclass(frozen=True, slots=True)
class TheirZone:
    """The zone a clinic person is told times in, and whether their platform said it (else it is a guess)."""

    zone: tzinfo
    theirs: bool
    name: str


def promise(hours: SupportHours | None, wait_minutes: int | None, at: float, zone: TheirZone | None) -> str | None:
    """What the clinic person is told about when a human answers, true in their zone; None when nothing is set.

    Examples: "Aldense support is in now; someone usually answers within 15 minutes." or "Aldense support is away
    now and back Monday 09:00 your time (hours: Mon-Fri 09:00-17:30 Europe/London)."
    """
    within = f"; someone usually answers within {wait_minutes} minutes" if wait_minutes else ""
    if hours is None:
        return f"Someone usually answers within {wait_minutes} minutes." if wait_minutes else None
    if hours.is_open(at):
        return f"Aldense support is in now{within}."
    opening = hours.next_open(at)
    shown_zone = zone.zone if zone is not None else hours.zone
    local = opening.astimezone(shown_zone)
    today = datetime.fromtimestamp(at, shown_zone).date()
    if local.date() == today:
        day = "today"
    elif local.date() == today + timedelta(days=1):
        day = "tomorrow"
    else:
        day = _DAY_NAMES[local.weekday()]
    whose = "your time" if zone is not None and zone.theirs else f"{(zone.name if zone else hours.zone.key)} time"
    return f"Aldense support is away now and back {day} {local:%H:%M} {whose} (hours: {hours.text})."
