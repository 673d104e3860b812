"""A guide whose Teams messages Teams would refuse is refused before anyone sees it, though Slack would take it."""

from __future__ import annotations

import dataclasses

import pytest

from bot.slack import guide_check as slack_check
from bot.teams import guide_check
from conversations.guide import Guide, GuideError, load_guide
from tests.bot.teams import cardschema

GUIDE = load_guide()


def with_first_step(guide: Guide, **changes: str) -> Guide:
    step = dataclasses.replace(guide.steps[0], **changes)
    return dataclasses.replace(guide, steps=(step, *guide.steps[1:]))


def test_the_built_in_guide_passes_and_every_card_it_renders_is_valid_adaptive_card_1_5() -> None:
    guide_check.check_guide(GUIDE)
    found = guide_check.rendered(GUIDE)
    places = {where for where, _ in found}
    assert {"kick-off", "help text", f"step {GUIDE.steps[-1].id}", f"step {GUIDE.steps[0].id} reminder"} <= places
    with_pictures = [a for w, a in found if w.startswith("step ") and "Image" in str(a)]
    assert len(with_pictures) == 2 * GUIDE.step_count  # each step, first showing and again, with its picture
    for where, activity in found:
        for attachment in activity.get("attachments", []):
            assert cardschema.problems(attachment["content"]) == [], where


def test_a_step_within_slacks_limits_whose_teams_card_is_too_big_is_refused_naming_step_and_platform() -> None:
    # 2,800 characters is within Slack's section limit, but each emoji is 12 bytes as a JSON escape.
    big = with_first_step(GUIDE, text="🦷" * 2800)
    assert slack_check.guide_problems(big) == []
    with pytest.raises(GuideError) as refused:
        guide_check.check_guide(big)
    lines = str(refused.value).splitlines()
    assert lines[0] == (
        f"guide {GUIDE.id}: Microsoft Teams would refuse 1 rendered message(s) (shorten the texts named):"
    )
    assert lines[1].startswith(f"  step {GUIDE.steps[0].id}: Microsoft Teams message is ")
    assert lines[1].endswith(" bytes; Teams takes at most 25,000")
    assert len(lines) == 2


def test_the_size_counts_every_non_ascii_character_as_its_json_escape() -> None:
    assert guide_check.payload_size({"text": "a"}) == len('{"text":"a"}')
    assert guide_check.payload_size({"text": "🦷"}) == len('{"text":"\\ud83e\\uddb7"}')


def test_a_card_missing_what_teams_needs_is_named() -> None:
    _, step = next((w, a) for w, a in guide_check.rendered(GUIDE) if w.startswith("step ") and "Image" in str(a))
    assert guide_check.missing_fields(step) == []
    card = step["attachments"][0]["content"]
    next(element for element in card["body"] if element["type"] == "Image").pop("altText")
    card["body"][0]["text"] = ""
    assert guide_check.missing_fields(step) == ["a TextBlock without text", "a picture without its address or alt text"]
    card["version"] = "1.6"
    assert "not an Adaptive Card 1.5" in guide_check.missing_fields(step)
    assert guide_check.missing_fields({"type": "message", "text": ""}) == ["a message without text"]
