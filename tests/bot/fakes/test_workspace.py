"""The workspace model: the default world, and growing it for a test."""

from __future__ import annotations

import pytest

from bot.fakes.slack import Channel, SlackApiSandbox, Team, User, Workspace

JULY = 1_783_000_000.0  # a summer instant: London on BST, Sydney on standard time


def test_the_default_world_has_both_sides_of_a_slack_connect_channel() -> None:
    world = Workspace()

    assert world.team.name == "Aldense"
    assert world.bot.bot_id == "B0BOT"
    assert world.channel("C0CLINIC").is_ext_shared
    assert not world.channel("C0ONBOARD").is_ext_shared
    assert world.is_external("U0ADMIN")
    assert not world.is_external("U0STAFF")
    assert world.user("U0ADMIN").tz_offset(JULY) == 3600
    assert world.user("U0NURSE").tz_offset(JULY) == 36000
    assert world.bot_token.startswith("xoxb-sandbox")


def test_clinics_can_be_added() -> None:
    world = Workspace()
    owner = User("U0OAK", "T0OAK", "olive", "Olive Oak", tz="America/Toronto")

    channel = world.add_clinic(Team("T0OAK", "Oak Dental", "oakdental"), "C0OAK", "oak-dental", [owner])

    assert channel.is_ext_shared
    assert channel.connected_team_ids == ["T0ALDENSE", "T0OAK"]
    assert channel.members == ["U0BOT", "U0STAFF", "U0OAK"]
    assert world.find_channel("#oak-dental") is channel
    assert world.team_of("U0OAK").name == "Oak Dental"


def test_a_broken_world_fails_when_built() -> None:
    with pytest.raises(ValueError, match="bot user"):
        Workspace(bot_user_id="U0NOBODY")
    with pytest.raises(ValueError, match="unknown team"):
        Workspace().add_user(User("U0X", "T0NOPE", "x", "X"))
    with pytest.raises(ValueError, match="unknown users or teams"):
        Workspace().add_channel(Channel("C0X", "x", "T0ALDENSE", members=["U0NOPE"]))


async def test_the_api_serves_a_grown_world(http_world: tuple[SlackApiSandbox, Workspace]) -> None:
    api, world = http_world
    world.add_user(User("U0TEMP", "T0CLINIC", "temp", "Temp Nurse", tz="Australia/Sydney"))

    status, body, _ = await api.handle("users.info", {"user": "U0TEMP"}, world.bot_token)

    assert status == 200
    assert body["user"]["is_stranger"] is True


@pytest.fixture
def http_world() -> tuple[SlackApiSandbox, Workspace]:
    world = Workspace(bot_token="xoxb-sandbox-custom")
    return SlackApiSandbox(world), world
