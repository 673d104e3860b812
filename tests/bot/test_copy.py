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
from bot.slack.mrkdwn import escape as slack_escape
from bot.teams import cards
from bot.teams import render as teams
from bot.teams.messenger import Mentioning
from conversations.connection import Connection, Decision, Identity, StoredCredential
from conversations.events import ClosedAs
from conversations.guide import Step, load_guide
from dentally.scopes import REQUIRED_SCOPES, CheckResult, ScopeCheck, ScopeStatus, Verdict

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
    m.StepMessage(0, "U0ADMIN"),
    m.StepMessage(3, "U0ADMIN", again=True, picture=False),
    m.StepMessage(GUIDE.step_count - 1, "U0ADMIN"),
    *(m.ClosedStep(2, how) for how in ClosedAs),
    m.HelpComing(4),
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
