"""On Teams, outside text (a display name, a practice name Dentally reports) is shown as inert Markdown, cut to fit."""

from __future__ import annotations

import dataclasses
import re

import pytest

from bot.fakes.slack import SlackApiSandbox
from bot.fakes.teams.connector import Sent
from bot.fakes.teams.driver import TeamsDriver, TeamsWorld
from dentally.sandbox import Sandbox
from tests.bot.harness import ONBOARDING, RunningBot, message_text
from tests.bot.teams.harness import settle
from tests.bot.teams.test_walkthrough import KEYS, kickoff
from tests.bot.test_key_check import GUIDE
from tests.bot.test_outside_text import HOSTILE, LONG, raw_markup

# A clinic user controls their Teams display name: this one would be a disguised link, an @-mention and bold.
HOSTILE_NAME = "[Aldense: re-verify](https://evil.example/login) <at>everyone</at> **Jane**"
# Markdown a name must never form once shown: a link or image, an autolink or HTML tag (an unescaped "<").
_LINK = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\(")
_TAG = re.compile(r"(?<!\\)<")


@pytest.fixture
def world() -> TeamsWorld:
    world = TeamsWorld()
    world.people["admin"] = dataclasses.replace(world.people["admin"], name=HOSTILE_NAME)
    return world


def admins_step(teams: TeamsDriver) -> Sent | None:
    """The admin's current step: the harness finds a thread by the raw name, which is now shown escaped."""
    where = teams.world.shared
    openers = [m for m in teams.in_conversation(where) if m.thread is None and "is connecting Dentally" in m.text]
    steps = [m for m in teams.connector.messages(where.id, openers[-1].id) if m.titles] if openers else []
    return steps[-1] if steps else None


def markdown_formed(text: str) -> list[str]:
    return _LINK.findall(text) + _TAG.findall(text)


@pytest.mark.parametrize("practice", [HOSTILE, LONG], ids=["hostile", "3107 characters"])
async def test_names_from_outside_are_inert_on_teams_and_in_support(
    teams: TeamsDriver, teams_bot: RunningBot, api: SlackApiSandbox, dentally: Sandbox, practice: str
) -> None:
    world = teams.world
    where = world.shared
    dentally.practice_names[KEYS["all_scopes"].region] = practice
    await teams.click("admin", where, await kickoff(teams), "Start Dentally setup")
    first = await teams.wait_for(lambda: admins_step(teams))
    # Someone else clicks the admin's step: told whose guide it is, by name.
    await teams.click("nurse", where, first, "Done, next step")
    await teams.wait_for(lambda: any("belongs to" in m.text for m in teams.in_conversation(where)))
    key_step = first
    for _ in range(GUIDE.step_count - 1):
        await teams.click("admin", where, key_step, "Done, next step")
        key_step = await teams.wait_for(lambda s=key_step: (n := admins_step(teams)) is not None and n.id != s.id and n)
    opened = await teams.click("admin", where, key_step, "Enter the key privately")
    verified = await teams.submit_dialog(
        "admin", where, opened.json(), {"api_key": KEYS["all_scopes"].key, "region": "uk"}, key_step.thread
    )
    assert verified.status_code == 200
    await teams.wait_for(lambda: any("Dentally is connected" in m.text for m in teams.in_conversation(where)))
    await teams.say("staff", world.internal, "status Maple")
    await teams.wait_for(lambda: any("Clinics matching" in m.text for m in teams.in_conversation(world.internal)))
    await settle(teams_bot)

    shown = [m.text for conversation in (where, world.internal) for m in teams.in_conversation(conversation)]
    assert [(text, markdown_formed(text)) for text in shown if markdown_formed(text)] == []
    # The names are there, escaped: the admin's in the thread opener and the refusal, the practice's in the result.
    assert sum(r"\[Aldense: re-verify\](https://evil.example/login)" in text for text in shown) >= 2
    named = r"\<!channel\> Maple \<https://evil.example/login|" if practice is HOSTILE else "Maple Leaf Dental"
    assert any("Dentally is connected" in text and named in text for text in shown)
    assert any("Clinics matching" in text and named in text for text in shown)
    assert max(len(line) for text in shown for line in text.split("\n")) < 1000
    # Support (in Slack) shows the Teams name and the practice name inert too, and Slack took every post.
    support = [message_text(m) for top in api.messages(ONBOARDING) for m in [top, *api.thread(ONBOARDING, top.ts)]]
    assert [text for text in support if raw_markup(text)] == []
    assert [c.method for c in api.calls() if c.method.startswith("chat.") and not c.ok] == []
