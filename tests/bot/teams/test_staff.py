"""Aldense staff on Teams, tenants in a shared channel, and JWT validation outside the tests."""

from __future__ import annotations

import httpx

from bot.fakes.slack import SlackApiSandbox
from bot.fakes.teams.connector import TeamsConnector
from bot.fakes.teams.driver import TeamsDriver, TeamsWorld
from bot.teams.desk import NOT_HERE, NOT_STAFF
from tests.bot.harness import ONBOARDING, STAFF, RunningBot
from tests.bot.teams.harness import running_teams_bot, settle, teams_settings
from tests.bot.teams.test_walkthrough import kickoff, start


async def test_staff_ask_status_in_aldense_channels_and_never_where_a_clinic_reads(
    teams: TeamsDriver, teams_bot: RunningBot
) -> None:
    world = teams.world
    await start(teams, "admin", await kickoff(teams))
    await teams.say("staff", world.internal, "status")
    listing = await teams.wait_for(lambda: next(iter(teams.in_conversation(world.internal)), None))
    assert "1 clinic(s) in progress" in listing.text
    assert "maple-leaf-dental" in listing.text
    assert "Microsoft Teams" in listing.text
    # A clinic user asking, and staff asking in the shared channel: refused, and only to them.
    await teams.say("admin", world.shared, "status")
    await teams.say("staff", world.shared, "status")
    await settle(teams_bot)
    refusals = {m.targeted_to: m.text for m in teams.in_conversation(world.shared) if m.targeted_to}
    assert refusals[world.member("admin").account_id] == NOT_STAFF
    assert NOT_HERE.split("**")[0] in refusals[world.member("staff").account_id]
    # In a 1:1 chat with the bot it answers staff too.
    chat = world.chat_with("staff")
    await teams.say("staff", chat, "status maple", mention=False)
    await teams.wait_for(lambda: any("maple-leaf-dental" in m.text for m in teams.in_conversation(chat)))


async def test_a_clinic_member_joining_the_shared_channel_is_welcomed_and_staff_are_not(
    teams: TeamsDriver, teams_bot: RunningBot
) -> None:
    world = teams.world
    assert (await teams.join("staff", world.shared)).status_code == 200
    assert (await teams.join("newcomer", world.shared)).status_code == 200
    await settle(teams_bot)
    welcomes = [m for m in teams.in_conversation(world.shared) if "Welcome" in m.text]
    assert len(welcomes) == 1
    assert "Neil Newcomer" in welcomes[0].text
    assert "Start Dentally setup" in welcomes[0].titles
    # A clinic user cannot post the kick-off.
    await teams.say("admin", world.shared, "onboard")
    await settle(teams_bot)
    assert sum("Start Dentally setup" in m.titles for m in teams.in_conversation(world.shared)) == 1


async def test_slack_status_lists_teams_clinics_with_their_platform(
    teams: TeamsDriver, teams_bot: RunningBot, api: SlackApiSandbox, http: httpx.AsyncClient
) -> None:
    from bot.fakes.slack import SlackDriver
    from tests.bot.harness import SIGNING_SECRET

    await start(teams, "admin", await kickoff(teams))
    await settle(teams_bot)
    slack = SlackDriver(teams_bot.url, SIGNING_SECRET, api, http)
    await slack.run_command(STAFF, ONBOARDING, "/aldense", "status")
    reply = await slack.wait_for(lambda: api.responses() and api.responses()[-1])
    assert "maple-leaf-dental" in str(reply)
    assert "Microsoft Teams" in str(reply)


async def test_without_local_auth_an_unsigned_activity_is_refused(
    api: SlackApiSandbox, state_url: str, dentally_url: str, world: TeamsWorld, connector: TeamsConnector
) -> None:
    settings = teams_settings(api, state_url, dentally_url, world)
    async with running_teams_bot(settings, local_auth=None) as bot, httpx.AsyncClient(timeout=10) as http:
        teams = TeamsDriver(bot.url, connector, world, http)
        unsigned = await teams.say("admin", world.shared, "start")
        forged = await http.post(
            f"{bot.url}/api/messages",
            json=teams.activity("message", "admin", world.shared, text="start"),
            headers={"Authorization": "Bearer not.a.jwt"},
        )
        junk = await http.post(
            f"{bot.url}/api/messages", content=b"[1, 2", headers={"content-type": "application/json"}
        )
    assert unsigned.status_code == 401
    assert forged.status_code == 401
    assert junk.status_code == 400
    assert connector.calls == []
