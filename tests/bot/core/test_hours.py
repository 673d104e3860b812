"""Support hours: read and validated from the setting's text, and said truly in the clinic person's zone."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from bot.core.hours import LONGEST_PROMISE, MAX_HOURS_TEXT, TheirZone, parse_hours, promise
from bot.core.oncall import mentions
from bot.settings import SupportSettings

LONDON_WEEKDAYS = "Mon-Fri 09:00-17:30 Europe/London"
# Thursday 5 March 2026 (London is on UTC then).
THURSDAY = datetime(2026, 3, 5, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> float:
    """Unix time on 2026-03-``day`` at ``hour``:``minute`` UTC."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC).timestamp()


def test_a_range_of_days_times_and_a_zone_are_read() -> None:
    hours = parse_hours(LONDON_WEEKDAYS)
    assert hours.days == frozenset({0, 1, 2, 3, 4})
    assert (hours.start, hours.end) == (time(9), time(17, 30))
    assert hours.zone == ZoneInfo("Europe/London")


def test_lists_and_ranges_that_wrap_the_week_are_read() -> None:
    assert parse_hours("Mon,Wed,Fri 08:00-12:00 UTC").days == frozenset({0, 2, 4})
    assert parse_hours("Fri-Mon 10:00-14:00 Australia/Sydney").days == frozenset({4, 5, 6, 0})
    assert parse_hours("sat 10:00-11:00 UTC").days == frozenset({5})


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("Mon-Fri 9-5 Europe/London", "must read like"),
        ("Mon-Fri 09:00-17:30", "must read like"),
        ("Mon-Fry 09:00-17:30 Europe/London", "unknown day"),
        ("Mon-Fri 17:30-09:00 Europe/London", "before they start"),
        ("Mon-Fri 09:00-25:00 Europe/London", "not a time of day"),
        ("Mon-Fri 09:00-17:30 Europe/Atlantis", "unknown time zone"),
        ("Mon-Fri 09:00-17:30 " + "x" * MAX_HOURS_TEXT, "must read like"),
    ],
)
def test_malformed_hours_are_refused_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_hours(text)


def test_open_only_inside_the_window_on_the_days() -> None:
    hours = parse_hours(LONDON_WEEKDAYS)
    assert hours.is_open(at(5, 9))
    assert hours.is_open(at(5, 17, 29))
    assert not hours.is_open(at(5, 17, 30))
    assert not hours.is_open(at(5, 8, 59))
    assert not hours.is_open(at(7, 12))  # Saturday


def test_in_hours_the_promise_is_the_usual_wait() -> None:
    hours = parse_hours(LONDON_WEEKDAYS)
    said = promise(hours, 15, at(5, 10), None)
    assert said == "Aldense support is in now; someone usually answers within 15 minutes."


def test_after_hours_on_friday_support_is_back_on_monday_in_the_persons_own_time() -> None:
    hours = parse_hours(LONDON_WEEKDAYS)
    sydney = TheirZone(ZoneInfo("Australia/Sydney"), theirs=True, name="Australia/Sydney")
    # Friday 6 March 18:00 London is Saturday 05:00 in Sydney; Monday 09:00 London is Monday 20:00 in Sydney.
    said = promise(hours, 15, at(6, 18), sydney)
    assert said == (
        "Aldense support is away now and back Monday 20:00 your time (hours: Mon-Fri 09:00-17:30 Europe/London)."
    )


def test_before_opening_it_says_today_and_a_guessed_zone_is_named() -> None:
    hours = parse_hours(LONDON_WEEKDAYS)
    toronto = TheirZone(ZoneInfo("America/Toronto"), theirs=False, name="America/Toronto")
    # Thursday 07:00 London = 02:00 Toronto; opening 09:00 London = 04:00 Toronto, the same day there.
    said = promise(hours, None, at(5, 7), toronto)
    assert said is not None
    assert "back today 04:00 America/Toronto time" in said
    assert "your time" not in said


def test_without_the_persons_zone_it_speaks_in_supports_zone() -> None:
    hours = parse_hours(LONDON_WEEKDAYS)
    said = promise(hours, 15, at(5, 20), None)
    assert said is not None
    assert "back tomorrow 09:00 Europe/London time" in said


def test_nothing_set_promises_nothing() -> None:
    assert promise(None, None, at(5, 10), None) is None
    assert promise(None, 20, at(5, 10), None) == "Someone usually answers within 20 minutes."


def test_the_longest_promise_is_longer_than_any_real_one() -> None:
    hours = parse_hours("Mon,Tue,Wed,Thu,Fri,Sat 09:00-17:30 America/Argentina/ComodRivadavia")
    zone = TheirZone(ZoneInfo("America/Argentina/ComodRivadavia"), False, "America/Argentina/ComodRivadavia")
    said = promise(hours, 9999, at(7, 23), zone)
    assert said is not None
    assert len(said) <= len(LONGEST_PROMISE)


def test_mentions_read_groups_and_users_and_refuse_anything_else() -> None:
    assert mentions("S0ONCALL, U0SAM,W0ENT") == "<!subteam^S0ONCALL> <@U0SAM> <@W0ENT>"
    for bad in ("@here", "<!channel>", "C0CHANNEL", "S0ONCALL;U0SAM"):
        with pytest.raises(ValueError, match="neither"):
            mentions(bad)


def test_the_settings_refuse_bad_hours_and_mentions_at_start_up() -> None:
    settings = SupportSettings(support_hours=LONDON_WEEKDAYS, support_mention="S0ONCALL")
    assert settings.hours is not None
    assert settings.mention == "<!subteam^S0ONCALL>"
    with pytest.raises(ValidationError, match="must read like"):
        SupportSettings(support_hours="weekdays 9 to 5")
    with pytest.raises(ValidationError, match="neither"):
        SupportSettings(support_mention="@oncall")
    with pytest.raises(ValidationError):
        SupportSettings(support_expected_wait_minutes=0)
