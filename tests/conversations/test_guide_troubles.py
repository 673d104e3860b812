"""Troubles in a guide file: each step's common problems are checked at load, and their messages on both platforms."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from bot.slack import guide_check as slack_check
from bot.teams import guide_check as teams_check
from conversations.guide import (
    TROUBLE_LABEL_LIMIT,
    TROUBLES_PER_STEP,
    GuideError,
    Trouble,
    load_guide,
)
from tests.conversations.test_guide import assert_problem, good_guide, load_broken, problems, write_guide

SHIPPED = load_guide()


def trouble(trouble_id: str = "no-cog", **fields: Any) -> dict[str, Any]:
    return {"id": trouble_id, "label": "I can't find the cog", "answer": "It's at the bottom left.", **fields}


def with_troubles(index: int, *troubles: dict[str, Any]) -> dict[str, Any]:
    raw = good_guide()
    raw["steps"][index]["troubles"] = list(troubles)
    return raw


def test_troubles_load_with_their_jump_and_hand_over(tmp_path: Path) -> None:
    raw = with_troubles(
        1,
        trouble(),
        trouble("signed-out", label="Dentally signed me out", go_to="sign-in"),
        trouble("no-login", label="Someone else has the login", hand_over=True),
    )
    guide = load_guide(write_guide(tmp_path, raw))
    assert guide.steps[0].troubles == ()
    assert guide.steps[1].troubles == (
        Trouble("no-cog", "I can't find the cog", "It's at the bottom left."),
        Trouble("signed-out", "Dentally signed me out", "It's at the bottom left.", go_to="sign-in"),
        Trouble("no-login", "Someone else has the login", "It's at the bottom left.", hand_over=True),
    )
    assert guide.steps[1].trouble("signed-out") is guide.steps[1].troubles[1]
    assert guide.steps[1].trouble("gone") is None


@pytest.mark.parametrize("bad_id", ["No-Cog", "no cog", "-no-cog", "nö"])
def test_a_bad_trouble_id(tmp_path: Path, bad_id: str) -> None:
    error = load_broken(tmp_path, with_troubles(1, trouble(bad_id)))
    assert_problem(error, f"step 'settings' trouble {bad_id!r}", "id must be lower-case letters, digits and dashes")


def test_a_duplicate_trouble_id_on_one_step(tmp_path: Path) -> None:
    error = load_broken(tmp_path, with_troubles(1, trouble(), trouble(label="Another")))
    assert_problem(error, "step 'settings' trouble 'no-cog'", "duplicate trouble id on this step")


def test_the_same_trouble_id_on_two_steps_is_fine(tmp_path: Path) -> None:
    raw = with_troubles(1, trouble("lost"))
    raw["steps"][2]["troubles"] = [trouble("lost")]
    assert load_guide(write_guide(tmp_path, raw)).steps[2].troubles[0].id == "lost"


def test_a_jump_to_an_unknown_step(tmp_path: Path) -> None:
    error = load_broken(tmp_path, with_troubles(1, trouble(go_to="developer-tab")))
    assert_problem(error, "step 'settings' trouble 'no-cog'", "go_to names unknown step 'developer-tab'")


def test_a_jump_to_its_own_step(tmp_path: Path) -> None:
    error = load_broken(tmp_path, with_troubles(1, trouble(go_to="settings")))
    assert_problem(error, "step 'settings' trouble 'no-cog'", "go_to names its own step")


def test_a_trouble_that_both_jumps_and_hands_over(tmp_path: Path) -> None:
    error = load_broken(tmp_path, with_troubles(1, trouble(go_to="sign-in", hand_over=True)))
    assert_problem(error, "step 'settings' trouble 'no-cog'", "either jumps (go_to) or hands over")


def test_a_label_too_long_for_a_button(tmp_path: Path) -> None:
    error = load_broken(tmp_path, with_troubles(1, trouble(label="x" * (TROUBLE_LABEL_LIMIT + 1))))
    assert_problem(
        error, "step 'settings' trouble 'no-cog'", f"label is 76 characters; the limit is {TROUBLE_LABEL_LIMIT}"
    )


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"label": None}, "has no label"),
        ({"answer": "  "}, "has no answer"),
        ({"hand_over": "yes"}, "hand_over must be true or false"),
        ({"go_to": 3}, "go_to must be a step id"),
        ({"goto": "sign-in"}, "unknown field(s) goto"),
    ],
)
def test_a_trouble_missing_or_misspelling_a_field(tmp_path: Path, fields: dict[str, Any], fragment: str) -> None:
    error = load_broken(tmp_path, with_troubles(1, trouble(**fields)))
    assert_problem(error, "step 'settings' trouble 'no-cog'", fragment)


def test_troubles_must_be_a_short_list_of_mappings(tmp_path: Path) -> None:
    many = [trouble(f"t{n}") for n in range(TROUBLES_PER_STEP + 1)]
    assert_problem(load_broken(tmp_path, with_troubles(1, *many)), "step 'settings'", "lists 5 troubles")
    raw = good_guide()
    raw["steps"][1]["troubles"] = "no-cog"
    assert_problem(load_broken(tmp_path, raw), "step 'settings'", "troubles must be a list")
    assert_problem(load_broken(tmp_path, with_troubles(1, "no-cog")), "step 'settings' trouble 1", "must be a mapping")


def test_every_trouble_problem_is_reported_together(tmp_path: Path) -> None:
    error = load_broken(tmp_path, with_troubles(1, trouble("Bad"), trouble(go_to="nowhere"), trouble(label="x" * 80)))
    assert len(problems(error)) == 4  # bad id, bad jump, duplicate id, long label


def test_every_step_of_the_shipped_guide_offers_two_or_three_troubles_and_their_jumps_go_back() -> None:
    for index, step in enumerate(SHIPPED.steps):
        assert 2 <= len(step.troubles) <= 3, step.id
        for trouble_ in step.troubles:
            if trouble_.go_to is not None:
                assert SHIPPED.index_of(trouble_.go_to) < index, (step.id, trouble_.id)  # only ever back
    shipped = {(step.id, t.id): t for step in SHIPPED.steps for t in step.troubles}
    assert shipped[("developer-tab", "no-developer-tab")].hand_over
    assert shipped[("copy-key", "closed-key-window")].go_to == SHIPPED.new_key_step


def with_label(label: str, answer: str = "An answer.") -> Any:
    step = dataclasses.replace(SHIPPED.steps[0], troubles=(Trouble("long", label, answer),))
    return dataclasses.replace(SHIPPED, steps=(step, *SHIPPED.steps[1:]))


def test_the_rendered_troubles_of_the_shipped_guide_fit_both_platforms() -> None:
    assert slack_check.guide_problems(SHIPPED) == []
    assert teams_check.guide_problems(SHIPPED) == []
    places = {where for where, _ in teams_check.rendered(SHIPPED)}
    assert {f"step {s.id} troubles" for s in SHIPPED.steps} <= places
    assert {f"step {s.id} trouble {t.id}" for s in SHIPPED.steps for t in s.troubles} <= places


def test_a_button_label_slack_would_refuse_is_named_by_the_slack_check() -> None:
    found = slack_check.guide_problems(with_label("x" * 76))
    assert found == [
        f"step {SHIPPED.steps[0].id} troubles: block 1 (troubles:sign-in:actions): text attribute "
        "cannot exceed 75 characters"
    ]
    with pytest.raises(GuideError, match="Slack would refuse 1 rendered message part"):
        slack_check.check_guide(with_label("x" * 76))


def test_an_answer_too_big_for_a_teams_message_is_named_by_the_teams_check() -> None:
    big = with_label("Fine", answer="🦷" * 2500)
    assert slack_check.guide_problems(big) == []
    found = teams_check.guide_problems(big)
    assert len(found) == 1
    assert found[0].startswith(f"step {SHIPPED.steps[0].id} trouble long: Microsoft Teams message")
