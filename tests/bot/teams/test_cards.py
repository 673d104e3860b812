"""Every Teams card validates against Microsoft's official Adaptive Card 1.5 schema and the SDK's models."""

from __future__ import annotations

from typing import Any

import pytest
from microsoft_teams.cards import AdaptiveCard

from bot.core.messages import Standing
from bot.teams import cards
from conversations.connection import Candidate, Connection, Decision, Identity, StoredCredential
from conversations.events import ClosedAs
from conversations.guide import load_guide
from dentally.scopes import REQUIRED_SCOPES, CheckResult, ScopeCheck, ScopeStatus, Verdict
from tests.bot.teams import cardschema

GUIDE = load_guide()
KEY = StoredCredential(
    ciphertext="sealed", fingerprint="abcd", region="uk", scopes=REQUIRED_SCOPES, verified_at=0.0, verified_by="U1"
)
CONNECTION = Connection(
    key=KEY, identity=Identity(user_id="1", practice_id="p", practice_name="Maple"), connected_at=0, connected_by="U1"
)
CANDIDATE = Candidate(key=KEY.model_copy(update={"fingerprint": "efgh"}), identity=Identity(practice_name="Harbour"))


def dump(card: AdaptiveCard) -> dict[str, Any]:
    return card.model_dump(by_alias=True, exclude_none=True)


def result(verdict: Verdict) -> CheckResult:
    from datetime import UTC, datetime

    status = ScopeStatus.GRANTED if verdict is Verdict.VERIFIED else ScopeStatus.MISSING
    return CheckResult(
        verdict=verdict,
        scopes=tuple(ScopeCheck(scope=scope, status=status) for scope in REQUIRED_SCOPES),
        region="uk",
        region_detected=False,
        user=None,
        clinic_name="Maple Leaf Dental",
        requests_made=5,
        reason=None,
        checked_at=datetime.now(UTC),
    )


def every_card() -> list[tuple[str, AdaptiveCard]]:
    rendered: list[tuple[str, AdaptiveCard]] = [
        ("kickoff", cards.kickoff(GUIDE)),
        ("welcome", cards.kickoff(GUIDE, "Jo")),
    ]
    for index in range(GUIDE.step_count):
        rendered.append((f"step {index}", cards.step_card(GUIDE, index, "owner", "https://x.example/p.png")))
        rendered.append((f"step {index} no picture", cards.step_card(GUIDE, index, "owner", None, again=True)))
        for outcome in ClosedAs:
            rendered.append((f"closed {index} {outcome}", cards.closed_step(GUIDE, index, outcome)))
    for verdict in Verdict:
        rendered.append((f"result {verdict}", cards.result_card(result(verdict), "owner", "enter-key")))
        rendered.append((f"dialog {verdict}", cards.result_dialog(result(verdict))))
    rendered += [
        ("reminder", cards.reminder(GUIDE, 3, "owner", "Jane")),
        ("reset", cards.reset_notice()),
        ("new key", cards.new_key_needed("abcd")),
        ("not yours", cards.not_your_guide("owner", "Jane")),
        ("exposed key", cards.key_exposed("abcd", stored=False)),
        ("exposed stored key", cards.key_exposed("abcd", stored=True)),
        ("hand-over form", cards.hand_over_form("owner", [("u1", "Nora Nurse"), ("u2", "Neil Newcomer")])),
        ("hand-over form with error", cards.hand_over_form("owner", [("u1", "Nora")], error="Pick a colleague")),
        ("form", cards.key_form("owner", 20, 200)),
        ("form with error", cards.key_form("owner", 20, 200, region="au", error="Too short")),
        ("cannot accept", cards.cannot_accept_keys()),
        ("reset, connection kept", cards.reset_notice(False, "Jane", CONNECTION)),
        ("reset with the connection", cards.reset_notice(True)),
        ("already connected", cards.already_connected("Jane", CONNECTION)),
    ]
    held = Standing(Decision.HOLD, CONNECTION.model_copy(update={"pending": CANDIDATE, "pending_by": "owner"}))
    replaced = Standing(Decision.REPLACE, CONNECTION.model_copy(update={"replaced_fingerprint": "wxyz"}))
    for name, standing in (("held", held), ("replaced", replaced)):
        rendered.append((f"result {name}", cards.result_card(result(Verdict.VERIFIED), "owner", "enter-key", standing)))
        rendered.append((f"dialog {name}", cards.result_dialog(result(Verdict.VERIFIED), standing)))
    return rendered


@pytest.mark.parametrize(("name", "card"), every_card(), ids=lambda value: value if isinstance(value, str) else "")
def test_every_rendered_card_is_valid_adaptive_card_1_5(name: str, card: AdaptiveCard) -> None:
    assert cardschema.problems(dump(card)) == [], name


def test_every_card_is_checked_including_the_dialogs() -> None:
    from bot.teams.dialog import dialog

    names = {name.split(" ")[0] for name, _ in every_card()}
    assert {
        "kickoff",
        "step",
        "closed",
        "result",
        "dialog",
        "form",
        "reminder",
        "reset",
        "new",
        "not",
        "exposed",
    } <= names
    assert "hand-over" in names
    # A dialog wraps a card in the task module response; the card inside is what Teams renders.
    wrapped = dialog(cards.key_form("owner", 20, 200)).model_dump(by_alias=True, exclude_none=True)
    assert cardschema.problems(wrapped["task"]["value"]["card"]["content"]) == []


def test_a_step_picture_uses_teams_documented_stage_view_form() -> None:
    card = dump(cards.step_card(GUIDE, 1, "owner", "https://x.example/p.png"))
    image = next(element for element in card["body"] if element["type"] == "Image")
    assert image["msTeams"] == {"allowExpand": True}
    assert "allowExpand" not in image
    assert cardschema.official_problems(card) == []


def test_the_official_schema_refuses_what_teams_would() -> None:
    card = dump(cards.step_card(GUIDE, 1, "owner", "https://x.example/p.png"))
    image = next(element for element in card["body"] if element["type"] == "Image")
    image["allowExpand"] = True  # the SDK's allow_expand: not an Image field in the official schema
    image["msTeams"] = {"allowExpand": True, "width": "Full"}
    card["actions"][0]["style"] = "primary"
    found = cardschema.official_problems(card)
    assert any("allowExpand" in problem for problem in found), found
    assert any("Teams' Image extension" in problem for problem in found), found
    assert any(problem.startswith("actions/0/style") for problem in found), found


def test_the_check_catches_what_the_sdk_models_would_let_through() -> None:
    bad = dump(cards.kickoff(GUIDE))
    bad["body"][0]["colour"] = "Good"
    bad["body"].append({"type": "Input.Secret", "id": "x"})
    bad["actions"][0]["style"] = "primary"
    bad["version"] = "1.6"
    found = cardschema.problems(bad)
    assert any("colour" in problem for problem in found)
    assert any("Input.Secret" in problem for problem in found)
    assert any("Action.Submit" in problem for problem in found)
    assert any("version" in problem for problem in found)


def test_the_key_field_is_masked_and_never_prefilled() -> None:
    form = dump(cards.key_form("owner", 20, 200, error="That doesn't look like a key"))
    field = next(element for element in form["body"] if element.get("id") == cards.INPUT_KEY)
    assert field["type"] == "Input.Text"
    assert field["style"] == "Password"
    assert "value" not in field


def test_step_cards_carry_ids_only_and_a_real_picture_description() -> None:
    card = dump(cards.step_card(GUIDE, 1, "aad-owner", "https://x.example/p.png"))
    image = next(element for element in card["body"] if element["type"] == "Image")
    assert image["altText"] == GUIDE.steps[1].alt
    assert [a["data"] for a in card["actions"]] == [
        {"action": cards.ACTION_DONE, "owner": "aad-owner", "step": GUIDE.steps[1].id},
        {"action": cards.ACTION_BACK, "owner": "aad-owner", "step": GUIDE.steps[1].id},
        {"action": cards.ACTION_STUCK, "owner": "aad-owner", "step": GUIDE.steps[1].id},
        # "Someone else has the Dentally login" opens the hand-over dialog (``task/fetch``).
        {
            "msteams": {"type": "task/fetch", "key": None},
            "dialog_id": cards.DIALOG_HAND_OVER,
            "owner": "aad-owner",
            "step": GUIDE.steps[1].id,
        },
    ]
    assert "Step 2 of 9" in card["body"][0]["text"]


def test_slack_style_text_becomes_teams_markdown() -> None:
    assert cards.markdown("Click *Copy* then `Aldense` :white_check_mark:") == "Click **Copy** then “Aldense” ✅"


def test_couldnt_prove_reads_the_shared_wording_and_offers_another_key_or_a_recheck() -> None:
    import json

    from bot.core.copy import could_not_prove_text

    unproven = result(Verdict.COULD_NOT_PROVE)
    shown = json.dumps(dump(cards.result_card(unproven, "owner", "enter-key")))
    assert "couldn't prove the key's permissions" in shown
    for line in could_not_prove_text(unproven).split("\n"):
        assert json.dumps(line)[1:-1] in shown
    assert "Try another key" in shown
    assert cards.ACTION_CHECK_AGAIN in shown
    assert "Dentally is connected" not in shown
