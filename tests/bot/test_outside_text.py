"""Text from outside (a practice name Dentally reports) is shown inert and cut to fit, everywhere Slack shows it."""

from __future__ import annotations

import json

import pytest

from bot.fakes.slack.validation import validate_blocks, validate_view
from tests.bot import test_support
from tests.bot.harness import ADMIN, CLINIC, ONBOARDING, STAFF, message_text
from tests.bot.test_support import KEYS, World, settle, verified_clinic

world = test_support.world  # the same world of a running bot, Slack stand-in and Dentally sandbox

# A clinic controls its Dentally practice name: this one would ping the channel and show a disguised link.
HOSTILE = "<!channel> Maple <https://evil.example/login|Aldense: re-verify your Slack admin access> & Co"
# Long enough to push a section past Slack's 3,000 characters.
LONG = ("Maple Leaf Dental " * 173)[:3107]


def raw_markup(text: str) -> list[str]:
    """Slack markup in ``text`` that no name may produce: a broadcast or special mention, or a labelled link."""
    found = []
    if "<!" in text.replace("<!date^", ""):
        found.append("<!")
    if "<http" in text:
        found.append("<http")
    return found


def everything_slack_shows(world: World) -> list[str]:
    """Every message (channel, threads, edits' final form), command response and App Home view."""
    api = world.api
    texts = []
    for channel in (ONBOARDING, CLINIC):
        for top in api.messages(channel):
            texts.append(message_text(top))
            texts += [message_text(reply) for reply in api.thread(channel, top.ts) if reply.is_reply]
    texts += [json.dumps(response.body, ensure_ascii=False) for response in api.responses()]
    for user in (STAFF, ADMIN):
        home = world.driver.home(user)
        if home is not None:
            texts.append(json.dumps(home.payload, ensure_ascii=False))
    return texts


@pytest.mark.parametrize("practice", [HOSTILE, LONG], ids=["hostile", "3107 characters"])
async def test_a_practice_name_never_pings_links_or_breaks_a_message(world: World, practice: str) -> None:
    assert len(LONG) == 3107
    world.dentally.practice_names[KEYS["all_scopes"].region] = practice
    await verified_clinic(world)  # the clinic's result message: posted, so Slack took its blocks
    await world.driver.run_command(STAFF, ONBOARDING, "/aldense", "status", escape=False)
    await world.driver.run_command(STAFF, ONBOARDING, "/aldense", f"status <#{CLINIC}|clinic>", escape=False)
    await world.driver.run_command(STAFF, ONBOARDING, "/aldense", "status Maple", escape=False)
    await world.driver.wait_for(lambda: len(world.api.responses()) >= 3)
    await world.driver.open_home(STAFF)
    await world.driver.wait_for(lambda: world.driver.home(STAFF))
    await settle(world)

    sent = [c for c in world.api.calls() if c.method.startswith(("chat.", "views."))]
    refused = [(c.method, c.response.get("error")) for c in sent if not c.ok]
    assert refused == []
    for response in world.api.responses():
        assert validate_blocks(response.body.get("blocks") or []) == []
    home = world.driver.home(STAFF)
    assert home is not None
    assert validate_view(home.payload) == []
    shown = everything_slack_shows(world)
    assert [raw_markup(text) for text in shown if raw_markup(text)] == []
    # The name is shown, escaped: on the status card, in the verified line of /aldense status and App Home.
    card = message_text(world.api.messages(ONBOARDING)[0])
    named = "&lt;!channel&gt; Maple &lt;https://evil.example/login|" if practice is HOSTILE else "Maple Leaf Dental"
    assert named in card
    assert sum(named in text for text in shown) >= 4
    assert max(len(line) for text in shown for line in text.split("\n")) < 3000
