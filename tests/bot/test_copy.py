"""Slack and Teams say the same sentences: every neutral message rendered by both reads the same, line by line."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, get_args

import pytest
from microsoft_teams.cards import AdaptiveCard

from bot.core import copy
from bot.core import messages as m
from bot.slack import render as slack
from bot.slack import results as slack_results
from bot.slack.mrkdwn import escape as slack_escape
from bot.teams import cards
from bot.teams import render as teams
from bot.teams.messenger import Mentioning
from conversations.connection import Connection, Decision, Identity, StoredCredential
from conversations.events import ClosedAs
from conversations.guide import Step, load_guide
from dentally.scopes import REQUIRED_SCOPES, CheckResult, Problem, ScopeCheck, ScopeStatus, Verdict

GUIDE = load_guide()
NAMES = {"U0ADMIN": "Jane Admin", "U0NURSE": "Nora Nurse"}


def result(verdict: Verdict) -> CheckResult:
    status = ScopeStatus.GRANTED if verdict is Verdict.VERIFIED else ScopeStatus.UNKNOWN
    return CheckResult(
        verdict=verdict,
        scopes=tuple(ScopeCheck(scope=s, status=status) for s in REQUIRED_SCOPES),
        region="uk",
        region_detected=False,
        user=None,
        clinic_name="Maple Leaf Dental",
        requests_made=6,
        reason="Dentally didn't answer in time." if verdict is Verdict.COULD_NOT_CHECK else None,
        checked_at=datetime(2026, 3, 5, tzinfo=UTC),
    )


CONNECTION = Connection(
    key=StoredCredential(
        ciphertext="sealed", fingerprint="abcd", region="uk", scopes=(), verified_at=100.0, verified_by="U0ADMIN"
    ),
    identity=Identity(user_id="7", user_name="Jane Admin", practice_id="3", practice_name="Maple Leaf Dental"),
    connected_at=100.0,
    connected_by="U0ADMIN",
    replaced_fingerprint="wxyz",
)


SAMPLES: list[m.Outgoing] = [
    m.Kickoff(),
    m.Kickoff(welcome_user="U0ADMIN", welcome_name="Jane Admin"),
    m.ThreadOpener("U0ADMIN"),
    m.ThreadOpener("U0ADMIN", connected=True),
    m.StepMessage(0, "U0ADMIN"),
    m.StepMessage(3, "U0ADMIN", again=True, picture=False),
    m.StepMessage(GUIDE.step_count - 1, "U0ADMIN"),
    *(m.ClosedStep(2, how) for how in ClosedAs),
    m.HelpComing(4),
    m.TroubleOffer(2, "U0ADMIN"),
    m.TroubleAnswer(2, "no-developer-tab", "U0ADMIN"),
    m.TroubleAnswer(7, "closed-key-window", "U0ADMIN", moved_to=3),
    m.Reminder(5, "U0ADMIN", 2),
    m.ResetNotice(),
    m.ResetNotice(disconnected=True),
    m.ResetNotice(connection=CONNECTION),
    m.KeyCheckLost("U0ADMIN"),
    *(m.KeyResult(result(verdict), "U0ADMIN") for verdict in Verdict),
    *(m.KeyResult(result(Verdict.VERIFIED), "U0ADMIN", m.Standing(decision, CONNECTION)) for decision in Decision),
    m.AlreadyConnected("U0NURSE", CONNECTION),
    m.AlreadyDone("U0NURSE", CONNECTION),
    m.AlreadyDone("U0NURSE", None),
    m.ClosedResult("abcd"),
    m.ClosedResult(None),
    m.ClosedReminder(),
    m.ReplacementDecided(True, "efgh", CONNECTION),
    m.ReplacementDecided(False, "efgh", CONNECTION),
    m.NewKeyNeeded("abcd"),
    m.NotYourGuide("U0ADMIN"),
    m.StaleClick(3, "that step is done"),
    m.StaleClick(None, "the guide is finished"),
    m.Refused("the guide is finished"),
    m.AlreadyGoing(),
    m.NothingToResume(),
    m.TemporarilyUnavailable(),
    m.GaveUp(),
    m.NotAccepted("HTTP 403"),
    m.HelpText(),
    m.Forgotten(),
    m.KeyExposed("abcd", stored=False),
    m.KeyExposed("abcd", stored=True),
    m.QuestionForwarded(),
    m.GuideHandedOver("U0ADMIN", "U0NURSE", 3, taken=False),
    m.GuideHandedOver("U0ADMIN", "U0NURSE", 3, taken=True),
]


def picture_url(step: Step) -> str:
    return f"https://guide.example/{step.id}.png"


def lines(*texts: str) -> list[str]:
    """Lines as a person reads them: bold written either way, blank lines and edges dropped."""
    found = []
    for text in texts:
        found += [line.strip().replace("**", "") for line in text.split("\n") if line.strip()]
    return found


def slack_lines(message: m.Outgoing) -> list[str]:
    text, blocks = slack.render(message, GUIDE, picture_url)
    if blocks is None:
        shown = [text]
    else:
        shown = []
        for block in blocks:
            if isinstance(block.get("text"), dict):
                shown.append(block["text"]["text"])
            for element in block.get("elements") or []:
                shown.append(element["text"] if isinstance(element["text"], str) else element["text"]["text"])
    # Slack names people by mention, Teams by name; the sentence around them is the point here.
    named = [re.sub(r"<@(\w+)>", lambda match: NAMES[match.group(1)], cards.markdown(t)) for t in shown]
    return [line.replace(slack.LABEL, "{platform}") for line in lines(*named)]


def teams_lines(message: m.Outgoing) -> list[str]:
    shown = teams.render(message, GUIDE, picture_url, lambda user: NAMES[user], lambda user: f"29:{user}")
    if isinstance(shown, str):
        texts = [shown]
    elif isinstance(shown, Mentioning):  # a mention shows as the person's name
        texts = [re.sub(r"<at>(.*?)</at>", r"\1", shown.text)]
    else:
        dumped: dict[str, Any] = AdaptiveCard.model_dump(shown, by_alias=True, exclude_none=True)
        texts = [element["text"] for element in dumped["body"] if element["type"] == "TextBlock"]
        texts += [action["title"] for action in dumped.get("actions") or []]
    return [line.replace(teams.LABEL, "{platform}") for line in lines(*texts)]


def test_every_neutral_message_has_a_sample() -> None:
    assert {type(sample) for sample in SAMPLES} == set(get_args(m.Outgoing))


@pytest.mark.parametrize("message", SAMPLES, ids=lambda message: type(message).__name__)
def test_slack_and_teams_render_the_same_sentences(message: m.Outgoing) -> None:
    # Layout may differ (Slack puts buttons where they act, Teams at the card's foot); the words may not.
    said = slack_lines(message)
    assert said
    assert sorted(said) == sorted(teams_lines(message))


def test_escaped_names_stay_text_through_the_teams_conversion() -> None:
    shown = cards.markdown(copy.not_your_guide(cards.escape("*Jane* `x` [a](https://evil.example) <b>")))
    assert r"\*Jane\* \`x\` \[a\](https://evil.example) \<b\>" in shown
    assert "“" not in shown  # the code conversion left the escaped backticks alone


def test_slack_escape_caps_length_without_cutting_an_entity() -> None:
    capped = slack_escape("<" * 500, limit=80)
    assert len(capped) <= 80
    assert capped.endswith("&lt;…")
    assert slack_escape("Maple & Co\nLtd") == "Maple &amp; Co Ltd"


def dialog_texts(verdict: Verdict, problem: Problem | None = None) -> list[str]:
    """What the key form shows after a check, on Slack (one modal section) and on Teams (the dialog's texts)."""
    checked = result(verdict).model_copy(update={"problem": problem})
    view = slack_results.result_view(m.KeyResult(checked, "U0ADMIN"))
    texts = [block["text"]["text"] for block in view["blocks"] if "text" in block]
    dumped = AdaptiveCard.model_dump(cards.result_dialog(checked), by_alias=True, exclude_none=True)
    return texts + [element["text"] for element in dumped["body"] if element["type"] == "TextBlock"]


@pytest.mark.parametrize("verdict", list(Verdict))
def test_no_message_or_key_form_stops_mid_sentence(verdict: Verdict) -> None:
    # The missing-permission pop-up once ended "…can't be changed. Please:" and nothing.
    for problem in (None, Problem.DISAGREEMENT):
        for text in dialog_texts(verdict, problem):
            for paragraph in text.split("\n\n"):
                assert not paragraph.rstrip().endswith(":"), paragraph
    for sample in SAMPLES:
        said = slack_lines(sample) + teams_lines(sample)
        assert not said[-1].rstrip().endswith(":"), said[-1]


@pytest.mark.parametrize("verdict", list(Verdict))
def test_the_key_forms_advice_is_whole_sentences(verdict: Verdict) -> None:
    for problem in (None, Problem.DISAGREEMENT):
        checked = result(verdict).model_copy(update={"problem": problem})
        brief = copy.advice_in_brief(checked, slack_escape)
        assert "\n" not in brief
        assert brief.rstrip().endswith((".", "!")), brief
    slack_dialog = slack_lines(m.KeyResult(result(Verdict.MISSING_SCOPES), "U0ADMIN"))
    assert any("can't be changed." in line for line in slack_dialog)


def test_each_step_shows_the_time_left_from_the_guides_estimates() -> None:
    assert copy.step_progress(GUIDE, 3).startswith("Step 4 of 9 · about 3 minutes left")
    assert copy.step_progress(GUIDE, GUIDE.step_count - 1).startswith("Step 9 of 9 · about 1 minute left")
    assert copy.step_progress(GUIDE, 0).startswith(f"Step 1 of 9 · about {GUIDE.estimated_minutes} minutes left")
    for index in range(GUIDE.step_count):
        assert "minute" in " ".join(slack_lines(m.StepMessage(index, "U0ADMIN")))
        assert "minute" in " ".join(teams_lines(m.StepMessage(index, "U0ADMIN")))


def test_the_kickoff_says_how_long_on_what_and_with_which_login_once() -> None:
    said = " ".join(slack_lines(m.Kickoff()))
    assert f"about {GUIDE.estimated_minutes} minutes" in said
    assert "computer" in said
    assert said.count("administrator") == 1


def test_the_key_step_keeps_dentallys_window_open_until_connected() -> None:
    copy_key = GUIDE.steps[GUIDE.index_of("copy-key")].text
    assert "keep that window open* until we say you're connected" in copy_key
    assert "Close" not in copy_key


def test_success_says_what_happens_next_and_to_revoke_other_keys() -> None:
    said = " ".join(slack_lines(m.KeyResult(result(Verdict.VERIFIED), "U0ADMIN")))
    assert "What happens next" in said
    assert "revoke" in said


def test_the_opener_says_connected_once_the_key_connected() -> None:
    connecting = slack_lines(m.ThreadOpener("U0ADMIN"))
    connected = slack_lines(m.ThreadOpener("U0ADMIN", connected=True))
    assert "Jane Admin is connecting Dentally" in connecting[0]
    assert "Jane Admin connected Dentally ✅" in cards.markdown(connected[0])


def test_help_keeps_the_guide_titles_case() -> None:
    assert f"*{GUIDE.title}*" in copy.help_text(GUIDE)


def test_the_key_form_reassures_without_alarm() -> None:
    for masked in (True, False):
        intro = copy.key_form_intro(masked)
        assert "shoulder" not in intro
        assert "never shown in the" in intro


def test_a_pictures_caption_does_not_repeat_the_title_above_it() -> None:
    _, blocks = slack.render(m.StepMessage(0, "U0ADMIN"), GUIDE, picture_url)
    assert blocks is not None
    pictures = [block for block in blocks if block["type"] == "image"]
    assert pictures
    assert all("title" not in picture for picture in pictures)
