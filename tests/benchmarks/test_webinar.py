"""A shortened webinar: ten clinics at a compressed pace, Slack's rate limits on, two replicas on Redis."""

from __future__ import annotations

from benchmarks.webinar import GOAL_CARD_S, GOAL_P99_S, measure

CLINICS = 10
# Every wait x0.2: the clinics start within 12 s and click every 1-4 s, about four times a person's pace, so the
# run takes well under two minutes once clinics' calls go first (before that, waits for Slack's budget make it
# take about five) and the limits bite harder than in a real webinar.
PACE = 0.2


async def test_ten_clinics_under_slacks_limits_each_see_every_step_once_and_no_429(redis_url: str) -> None:
    figures = await measure(CLINICS, rate_limits=True, pace=PACE, seed=16, redis_url=redis_url)

    assert figures.problems == []
    assert figures.completed == CLINICS  # every clinic saw "Dentally is connected"
    assert (figures.steps_missing, figures.steps_duplicated) == (0, 0)  # exactly one message per step per clinic
    assert figures.clinic_facing_429 == 0, figures.ratelimited  # next step, key result, modal: never refused
    assert figures.cards_wrong == 0  # every support card shows the verified key at the end...
    assert figures.card_lag_max_s <= GOAL_CARD_S, figures  # ...and did within 60 s of its clinic's key result
    # Fast for every clinic: the p99 goal (5 s) held at p95, loose enough for a loaded machine. Without
    # this the assertions above pass on the code before the scheduler too: its clinics are never refused, only
    # kept waiting, for minutes, behind support's card refreshes.
    assert figures.click_p95_s <= GOAL_P99_S, figures
