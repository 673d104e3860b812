"""The token buckets behind every rate limit, and the tables of Slack's and Teams' numbers."""

from __future__ import annotations

import pytest

from bot.core.limits import Buckets, Limit, retry_after
from bot.slack.limits import POST_PER_CHANNEL, POST_PER_WORKSPACE, SLACK_METHOD_LIMITS, TIER_3, TIER_4, slack_limit
from bot.teams.limits import PER_CONVERSATION, PER_TENANT, RETRY_STATUSES

FIFTY_A_MINUTE = Limit(count=50, seconds=60.0, burst=10, source="test")


def test_a_burst_is_allowed_then_the_next_call_waits_for_one_token() -> None:
    buckets = Buckets()
    assert [buckets.take("chat.update", FIFTY_A_MINUTE, now=0.0) for _ in range(10)] == [0.0] * 10
    assert buckets.take("chat.update", FIFTY_A_MINUTE, now=0.0) == pytest.approx(1.2)


def test_a_refused_call_takes_nothing_and_succeeds_once_the_wait_is_over() -> None:
    buckets = Buckets()
    for _ in range(10):
        buckets.take("k", FIFTY_A_MINUTE, now=0.0)
    assert buckets.take("k", FIFTY_A_MINUTE, now=0.5) == pytest.approx(0.7)
    assert buckets.take("k", FIFTY_A_MINUTE, now=0.6) == pytest.approx(0.6)
    assert buckets.take("k", FIFTY_A_MINUTE, now=1.2) == 0.0
    assert buckets.take("k", FIFTY_A_MINUTE, now=1.2) == pytest.approx(1.2)


def test_the_sustained_rate_is_the_count_per_period() -> None:
    buckets = Buckets()
    allowed = sum(buckets.take("k", FIFTY_A_MINUTE, now=t / 10) == 0.0 for t in range(600))
    assert allowed == 10 + 50 - 1  # the burst, then one every 1.2 s for a minute (the 60th lands at 60.0 s)


def test_a_bucket_never_holds_more_than_its_burst() -> None:
    buckets = Buckets()
    buckets.take("k", FIFTY_A_MINUTE, now=0.0)
    allowed = sum(buckets.take("k", FIFTY_A_MINUTE, now=3600.0) == 0.0 for _ in range(20))
    assert allowed == 10


def test_keys_and_limits_have_separate_buckets() -> None:
    buckets = Buckets()
    one_a_second = Limit(count=1, seconds=1.0, burst=1, source="test")
    assert buckets.take("C1", one_a_second, now=0.0) == 0.0
    assert buckets.take("C1", one_a_second, now=0.0) == pytest.approx(1.0)
    assert buckets.take("C2", one_a_second, now=0.0) == 0.0
    assert buckets.take("C1", FIFTY_A_MINUTE, now=0.0) == 0.0


def test_wait_reports_without_taking() -> None:
    buckets = Buckets()
    one_a_second = Limit(count=1, seconds=1.0, burst=1, source="test")
    assert buckets.wait("k", one_a_second, now=0.0) == 0.0
    assert buckets.take("k", one_a_second, now=0.0) == 0.0
    assert buckets.wait("k", one_a_second, now=0.25) == pytest.approx(0.75)


def test_take_all_spends_every_bucket_or_none() -> None:
    buckets = Buckets()
    channel = Limit(count=1, seconds=1.0, burst=1, source="test")
    workspace = Limit(count=2, seconds=10.0, burst=2, source="test")
    assert buckets.take_all([("C1", channel), ("W", workspace)], now=0.0) == 0.0
    # C1 is empty: refused for 1 s, and the workspace keeps its token for another channel.
    assert buckets.take_all([("C1", channel), ("W", workspace)], now=0.0) == pytest.approx(1.0)
    assert buckets.take_all([("C2", channel), ("W", workspace)], now=0.0) == 0.0
    # Now the workspace is the longer wait.
    assert buckets.take_all([("C3", channel), ("W", workspace)], now=0.0) == pytest.approx(5.0)


def test_clear_refills_everything() -> None:
    buckets = Buckets()
    one = Limit(count=1, seconds=60.0, burst=1, source="test")
    buckets.take("k", one, now=0.0)
    buckets.clear()
    assert buckets.take("k", one, now=0.0) == 0.0


@pytest.mark.parametrize(("seconds", "header"), [(0.0, 1), (0.01, 1), (1.0, 1), (1.2, 2), (29.5, 30)])
def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one(seconds: float, header: int) -> None:
    assert retry_after(seconds) == header


def test_a_limit_needs_positive_numbers() -> None:
    with pytest.raises(ValueError, match="positive"):
        Limit(count=0, seconds=60.0, burst=1, source="test")


def test_slack_limits_are_the_published_tiers() -> None:
    assert slack_limit("chat.update") == TIER_3
    assert TIER_3.rate == pytest.approx(50 / 60)
    assert {slack_limit(m) for m in ("views.open", "views.update", "chat.postEphemeral", "users.info")} == {TIER_4}
    assert TIER_4.rate == pytest.approx(100 / 60)
    assert slack_limit("conversations.history") == slack_limit("conversations.replies") == TIER_3
    assert slack_limit("no.such.method") == TIER_3
    assert slack_limit("chat.postMessage") == POST_PER_WORKSPACE
    assert POST_PER_CHANNEL.rate == 1.0
    assert all(limit.source for limit in SLACK_METHOD_LIMITS.values())


def test_teams_limits_are_the_connectors() -> None:
    assert [(w.count, w.seconds) for w in PER_CONVERSATION] == [(8, 2.0), (60, 30.0), (1800, 3600.0)]
    assert PER_TENANT.rate == 50.0
    assert sorted(RETRY_STATUSES) == [412, 429, 502, 504]
