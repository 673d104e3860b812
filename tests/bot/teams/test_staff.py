"""Aldense staff on Teams, tenants in a shared channel, and JWT validation outside the tests."""

from __future__ import annotations

import httpx

from bot.fakes.slack import SlackApiSandbox
from bot.fakes.teams.connector import TeamsConnector
from bot.fakes.teams.driver import Conversation, TeamsDriver, TeamsWorld
from bot.teams.desk import NOT_HERE, NOT_STAFF
from tests.bot.harness import ONBOARDING, STAFF, RunningBot
from tests.bot.teams.harness import running_teams_bot, settle, teams_settings
from tests.bot.teams.test_walkthrough import kickoff, start


async def test_staff_status_is_open_only_where_teams_said_the_channel_is_aldense_s_own(
    teams: TeamsDriver, teams_bot: RunningBot
) -> None:
    world = teams.world
    await start(teams, "admin", await kickoff(teams))
    await settle(teams_bot)  # the clinic's record is written after the first step is posted
    # The internal channel: its install event said it is a standard channel of Aldense's tenant.
    await teams.say("staff", world.internal, "status")
    listing = await teams.wait_for(lambda: next(iter(teams.in_conversation(world.internal)), None))
    assert listing.targeted_to is None
    assert "1 clinic(s) in progress" in listing.text
    assert "maple-leaf-dental" in listing.text
    assert "Microsoft Teams" in listing.text
    # In the shared channel: a clinic user is refused, and staff get the listing privately, never openly.
    await teams.say("admin", world.shared, "status")
    await teams.say("staff", world.shared, "status")
    await settle(teams_bot)
    private = {m.targeted_to: m.text for m in teams.in_conversation(world.shared) if m.targeted_to}
    assert private[world.member("admin").account_id] == NOT_STAFF
    assert "maple-leaf-dental" in private[world.member("staff").account_id]
    assert not any("clinic(s) in progress" in m.text for m in teams.in_conversation(world.shared) if not m.targeted_to)
    # In a 1:1 chat with the bot it answers staff too.
    chat = world.chat_with("staff")
    await teams.say("staff", chat, "status maple", mention=False)
    await teams.wait_for(lambda: any("maple-leaf-dental" in m.text for m in teams.in_conversation(chat)))


async def test_status_fails_closed_in_a_channel_teams_never_described(
    teams: TeamsDriver, teams_bot: RunningBot, connector: TeamsConnector
) -> None:
    """Microsoft's recorded channel messages carry only the channel id: such a channel may be shared."""
    world = teams.world
    await start(teams, "admin", await kickoff(teams))
    await settle(teams_bot)  # the clinic's record is written after the first step is posted
    unknown = Conversation("19:never-described@thread.tacv2", "channel", world.aldense_tenant, "")
    await teams.say("staff", unknown, "status")
    await settle(teams_bot)
    sent = teams.in_conversation(unknown)
    assert [m.targeted_to for m in sent] == [world.member("staff").account_id]
    assert "maple-leaf-dental" in sent[0].text
    # An install event as recorded, naming the channel but not its type, changes nothing.
    await teams.install(unknown)
    # Where Teams refuses targeted messages, the listing is shown to no one: only a note without clinic data.
    connector.refuse_targeted = True
    await teams.say("staff", unknown, "status")
    await settle(teams_bot)
    open_now = [m.text for m in teams.in_conversation(unknown) if m.targeted_to is None]
    assert open_now == [NOT_HERE]


async def test_a_clinic_member_joining_the_shared_channel_is_welcomed_once_and_staff_are_not(
    teams: TeamsDriver, teams_bot: RunningBot
) -> None:
    world = teams.world
    assert (await teams.join("staff", world.shared)).status_code == 200
    # Teams documents duplicate member events in shared channels: direct and transitive, and other event types.
    for event, via in (("channelMemberAdded", "direct"), ("channelMemberAdded", "transitive")):
        assert (await teams.join("newcomer", world.shared, event, via)).status_code == 200
        assert (await teams.join("newcomer", world.shared, event, via)).status_code == 200
    assert (await teams.join("newcomer", world.shared, "teamMemberAdded")).status_code == 200
    await settle(teams_bot)
    welcomes = [m for m in teams.in_conversation(world.shared) if "Welcome" in m.text]
    assert len(welcomes) == 1
    assert "Start Dentally setup" in welcomes[0].titles
    # A clinic user cannot post the kick-off.
    await teams.say("admin", world.shared, "onboard")
    await settle(teams_bot)
    assert sum("Start Dentally setup" in m.titles for m in teams.in_conversation(world.shared)) == 1


async def test_a_join_is_welcomed_from_membership_source_when_the_roster_lookup_finds_no_one(
    teams: TeamsDriver, teams_bot: RunningBot, connector: TeamsConnector
) -> None:
    world = teams.world
    connector.roster_hides = {world.clinic_tenant}
    await teams.join("newcomer", world.shared, "channelMemberAdded", "transitive")
    await settle(teams_bot)
    assert sum("Welcome" in m.text for m in teams.in_conversation(world.shared)) == 1
    # Without membershipSource and with the roster silent, the tenant is unknown: no kick-off for an unknown person.
    await teams.join("nurse", world.shared, "teamMemberAdded")
    await settle(teams_bot)
    assert sum("Welcome" in m.text for m in teams.in_conversation(world.shared)) == 1


async def test_channel_names_survive_activities_that_do_not_mention_them(
    teams: TeamsDriver, teams_bot: RunningBot
) -> None:
    world = teams.world
    assert teams_bot.runtime.teams is not None
    platform = teams_bot.runtime.teams.platform
    assert await platform.channel_name(world.shared.id) == "maple-leaf-dental"
    await start(teams, "admin", await kickoff(teams))
    await settle(teams_bot)  # the clinic's record is written after the first step is posted
    await teams.say("admin", world.shared, "resume")
    await teams.install(world.shared, shape="bare")
    await teams.join("newcomer", world.shared)
    await settle(teams_bot)
    assert await platform.channel_name(world.shared.id) == "maple-leaf-dental"
    place = await teams_bot.runtime.teams.directory.place(world.shared.id)
    assert place is not None
    assert place.team_name == "Aldense clinics"
    # A type, once told, is kept too; and "shared" is never replaced by a later, different claim.
    await teams.install(world.shared, shape="typed")
    await teams.say("admin", world.shared, "resume")
    await settle(teams_bot)
    place = await teams_bot.runtime.teams.directory.place(world.shared.id)
    assert place is not None
    assert (place.channel_name, place.channel_type) == ("maple-leaf-dental", "shared")


async def test_slack_status_lists_teams_clinics_with_their_platform(
    teams: TeamsDriver, teams_bot: RunningBot, api: SlackApiSandbox, http: httpx.AsyncClient
) -> None:
    from bot.fakes.slack import SlackDriver
    from tests.bot.harness import SIGNING_SECRET

    await start(teams, "admin", await kickoff(teams))
    await settle(teams_bot)  # the clinic's record is written after the first step is posted
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
