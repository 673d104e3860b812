"""Microsoft's recorded activities, ids re-pointed, through the bot's real ``/api/messages``; and the stand-in's
activities have their shapes, nothing more."""

from __future__ import annotations

from bot.fakes.teams.driver import BOT_ACCOUNT, TEAM_ID, TeamsDriver
from tests.bot.harness import RunningBot
from tests.bot.teams import recorded
from tests.bot.teams.harness import latest_step, settle

RECORDED_CHANNEL = "19:6848757105754c8981c67612732d9aa7@thread.tacv2"
RECORDED_TEAM = "19:66P469zibfbsGI-_a0aN_toLTZpyzS6u7CT3TsXdgPw1@thread.tacv2"
RECORDED_TENANT = "50612dbb-0237-4969-b378-8d42590f9c00"


def channel_message(teams: TeamsDriver, who: str, text: str) -> dict[str, object]:
    """The recorded channel-thread message, sent by ``who`` in the shared channel, saying ``text``."""
    member, world = teams.world.member(who), teams.world
    real = recorded.load("channel_thread_message")
    activity = recorded.repoint(
        real,
        {
            "https://smba.trafficmanager.net/amer/50612dbb-0237-4969-b378-8d42590f9c00/": teams.connector.url + "/",
            RECORDED_CHANNEL: world.shared.id,
            RECORDED_TEAM: TEAM_ID,
            RECORDED_TENANT: world.aldense_tenant,
            real["from"]["id"]: member.account_id,
            real["from"]["aadObjectId"]: member.aad_object_id,
            "28:0b6fe6d1-fece-44f7-9a48-56465e2d5ab8": BOT_ACCOUNT,
            "ridotest": "Aldense Guide",
            "1759944781430": f"recorded-{who}-{text}",
        },
    )
    activity["text"] = f"<at>Aldense Guide</at> {text}"
    activity["from"]["name"] = member.name  # type: ignore[index]
    return activity


async def test_a_recorded_channel_message_starts_a_guide(teams: TeamsDriver, teams_bot: RunningBot) -> None:
    response = await teams.post(channel_message(teams, "admin", "start"))
    assert response.status_code == 200
    step = await teams.wait_for(lambda: latest_step(teams, teams.world.shared, "admin"))
    assert "Step 1 of" in step.text
    # Asking for status as a clinic user: refused privately, the channel learns nothing.
    await teams.post(channel_message(teams, "admin", "status"))
    await settle(teams_bot)
    assert not any("clinic(s) in progress" in m.text for m in teams.in_conversation(teams.world.shared))


async def test_the_recorded_install_event_names_the_channel(teams: TeamsDriver, teams_bot: RunningBot) -> None:
    world = teams.world
    other = "19:0b7f32667e064dd9b25d7969801541f4@thread.tacv2"
    install = recorded.repoint(
        recorded.load("bot_added_to_team"),
        {
            "https://smba.trafficmanager.net/amer/": teams.connector.url + "/",
            other: "19:clinic-corner@thread.tacv2",
            "19:zFLSDFWsesfzcmKArqKJ-65aOXJz@sgf462H2wz41@thread.tacv2": TEAM_ID,
            "b28fdbfd-2b78-4f93-b0f8-8881793f0f8f": world.aldense_tenant,
            "28:608cacfd-1cea-40c9-b678-4b93e69bb72b": BOT_ACCOUNT,
            "29:1ljv6N86roXr5pjPrCJVIz6xHh5QxjI....": world.member("staff").account_id,
            "eddfa9d4-346e-4cce-a18f-fa6261ad776b": world.member("staff").aad_object_id,
        },
    )
    assert (await teams.post(install)).status_code == 200
    assert teams_bot.runtime.teams is not None
    place = await teams_bot.runtime.teams.directory.place("19:clinic-corner@thread.tacv2")
    assert place is not None
    assert (place.channel_name, place.team_name, place.channel_type) == ("2021 Test Channel", "TestTeam2022", None)
    # No type was said, so staff status there stays private.
    await settle(teams_bot)
    assert teams.connector.messages("19:clinic-corner@thread.tacv2") == []


async def test_a_recorded_card_action_invoke_is_answered_without_a_post(
    teams: TeamsDriver, teams_bot: RunningBot
) -> None:
    """``Action.Execute`` is not used by our cards; Teams' invoke for one gets an answer and changes nothing."""
    world = teams.world
    member = world.member("admin")
    real = recorded.load("card_action_invoke_personal")
    invoke = recorded.repoint(
        real,
        {
            "https://smba.trafficmanager.net/amer/56653e9d-2158-46ee-90d7-675c39642038/": teams.connector.url + "/",
            "56653e9d-2158-46ee-90d7-675c39642038": world.clinic_tenant,
            real["conversation"]["id"]: world.chat_with("admin").id,
            real["from"]["id"]: member.account_id,
            real["from"]["aadObjectId"]: member.aad_object_id,
            "28:aabdbd62-bc97-4afb-83ee-575594577de5": BOT_ACCOUNT,
        },
    )
    response = await teams.post(invoke)
    assert response.status_code < 500
    await settle(teams_bot)
    assert teams.connector.sent == {}


def test_the_stand_in_sends_no_more_than_the_recorded_channel_message(teams: TeamsDriver) -> None:
    real = recorded.load("channel_thread_message")
    ours = teams.activity("message", "admin", teams.world.shared, thread="1759881511856", text="hi")
    assert set(ours["channelData"]) == set(real["channelData"])
    for part in ("channel", "team", "tenant"):
        assert set(ours["channelData"][part]) == set(real["channelData"][part]) == {"id"}
    assert set(ours["conversation"]) == set(real["conversation"])  # no name, no channel type
    assert set(ours["from"]) == set(real["from"])  # no tenant
    assert ours["conversation"]["id"].endswith(";messageid=1759881511856")
