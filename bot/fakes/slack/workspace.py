"""The sandbox's world: Aldense's workspace, the clinics it shares channels with, their people and channels."""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass, field

ALDENSE_TEAM = "T0ALDENSE"
CLINIC_TEAM = "T0CLINIC"
APP_ID = "A0ALDENSE"
BOT_USER = "U0BOT"
BOT_ID = "B0BOT"
STAFF = "U0STAFF"
ADMIN = "U0ADMIN"
NURSE = "U0NURSE"
CLINIC_CHANNEL = "C0CLINIC"
ONBOARD_CHANNEL = "C0ONBOARD"
DEFAULT_BOT_TOKEN = "xoxb-sandbox-aldense-guide"  # noqa: S105 - a fake token only the sandbox accepts
DEFAULT_APP_TOKEN = "xapp-1-sandbox-aldense-guide"  # noqa: S105 - a fake app-level token (Socket Mode)
DEFAULT_VERIFICATION_TOKEN = "sandbox-verification-token"  # noqa: S105 - the deprecated payload `token` field


@dataclass
class Team:
    """A Slack workspace (team): Aldense's own, or a clinic's on the other side of a Slack Connect channel."""

    id: str
    name: str
    domain: str
    enterprise_id: str | None = None


@dataclass
class User:
    """A person (or the bot) in some team; ``name`` is the handle, ``real_name``/``display_name`` the profile."""

    id: str
    team_id: str
    name: str
    real_name: str
    display_name: str = ""
    tz: str = "Europe/London"
    is_bot: bool = False
    bot_id: str | None = None
    email: str | None = None
    is_admin: bool = False
    tz_hidden: bool = False
    """Slack withholds the zone (``tz``, ``tz_label``, ``tz_offset``), as it may for someone of another organisation."""

    def tz_offset(self, at: float) -> int:
        """Return the user's UTC offset in seconds at the Unix time ``at`` (it moves with daylight saving).

        Args:
            at: Unix time.
        """
        offset = datetime.datetime.fromtimestamp(at, zoneinfo.ZoneInfo(self.tz)).utcoffset()
        return int(offset.total_seconds()) if offset is not None else 0

    def tz_label(self, at: float) -> str:
        """Return the zone's abbreviation at ``at`` (``BST``, ``AEDT``…), standing in for Slack's ``tz_label``.

        Args:
            at: Unix time.
        """
        return datetime.datetime.fromtimestamp(at, zoneinfo.ZoneInfo(self.tz)).tzname() or self.tz


@dataclass
class Channel:
    """A conversation. ``connected_team_ids`` lists every team that can see it; more than one means Slack Connect."""

    id: str
    name: str
    team_id: str
    members: list[str] = field(default_factory=list)
    connected_team_ids: list[str] = field(default_factory=list)
    is_private: bool = False
    is_im: bool = False
    created: int = 1_700_000_000

    @property
    def is_ext_shared(self) -> bool:
        """Whether teams other than the host can see the channel (a Slack Connect channel)."""
        return len(set(self.connected_team_ids) | {self.team_id}) > 1


def _default_teams() -> dict[str, Team]:
    return {
        ALDENSE_TEAM: Team(ALDENSE_TEAM, "Aldense", "aldense"),
        CLINIC_TEAM: Team(CLINIC_TEAM, "Maple Leaf Dental", "mapleleafdental"),
    }


def _default_users() -> dict[str, User]:
    users = [
        User(BOT_USER, ALDENSE_TEAM, "aldense_guide", "Aldense Guide", "Aldense Guide", is_bot=True, bot_id=BOT_ID),
        User(STAFF, ALDENSE_TEAM, "sam", "Sam from Aldense", "Sam", email="sam@aldense.example"),
        User(ADMIN, CLINIC_TEAM, "jane.doe", "Jane Doe", "Jane", email="jane@mapleleaf.example", is_admin=True),
        User(NURSE, CLINIC_TEAM, "priya", "Priya Shah", "Priya", tz="Australia/Sydney"),
    ]
    return {user.id: user for user in users}


def _default_channels() -> dict[str, Channel]:
    return {
        CLINIC_CHANNEL: Channel(
            CLINIC_CHANNEL,
            "maple-leaf-dental",
            ALDENSE_TEAM,
            members=[BOT_USER, STAFF, ADMIN, NURSE],
            connected_team_ids=[ALDENSE_TEAM, CLINIC_TEAM],
        ),
        ONBOARD_CHANNEL: Channel(ONBOARD_CHANNEL, "aldense-onboarding", ALDENSE_TEAM, members=[BOT_USER, STAFF]),
    }


@dataclass
class Workspace:
    """Everything the sandbox knows about Slack: teams, users and channels, seen from the installing team.

    ``Workspace()`` is the default world (Aldense, Maple Leaf Dental, their people and the two channels); grow it with
    :meth:`add_team`, :meth:`add_user`, :meth:`add_channel` or :meth:`add_clinic`.
    """

    installing_team_id: str = ALDENSE_TEAM
    bot_user_id: str = BOT_USER
    app_id: str = APP_ID
    bot_token: str = DEFAULT_BOT_TOKEN
    app_token: str = DEFAULT_APP_TOKEN
    verification_token: str = DEFAULT_VERIFICATION_TOKEN
    teams: dict[str, Team] = field(default_factory=_default_teams)
    users: dict[str, User] = field(default_factory=_default_users)
    channels: dict[str, Channel] = field(default_factory=_default_channels)

    def __post_init__(self) -> None:
        # A world whose bot or installing team is missing would fail much later with a confusing KeyError.
        if self.installing_team_id not in self.teams:
            raise ValueError(f"installing team {self.installing_team_id} is not among the teams")
        bot = self.users.get(self.bot_user_id)
        if bot is None or not bot.is_bot or bot.bot_id is None:
            raise ValueError(f"bot user {self.bot_user_id} must exist with is_bot=True and a bot_id")

    @property
    def team(self) -> Team:
        """The team the app is installed in (Aldense)."""
        return self.teams[self.installing_team_id]

    @property
    def bot(self) -> User:
        """The app's bot user."""
        return self.users[self.bot_user_id]

    def user(self, user_id: str) -> User:
        """Return a user by id.

        Raises:
            KeyError: if there is no such user.
        """
        return self.users[user_id]

    def channel(self, channel_id: str) -> Channel:
        """Return a channel by id.

        Raises:
            KeyError: if there is no such channel.
        """
        return self.channels[channel_id]

    def team_of(self, user_id: str) -> Team:
        """Return the team a user belongs to."""
        return self.teams[self.users[user_id].team_id]

    def is_external(self, user_id: str) -> bool:
        """Whether a user belongs to a team other than the installing one (a Slack Connect guest)."""
        return self.users[user_id].team_id != self.installing_team_id

    def find_channel(self, name_or_id: str) -> Channel | None:
        """Look a channel up by id, ``name`` or ``#name``."""
        key = name_or_id.removeprefix("#")
        if key in self.channels:
            return self.channels[key]
        return next((c for c in self.channels.values() if c.name == key), None)

    def add_team(self, team: Team) -> Team:
        """Add a team and return it."""
        self.teams[team.id] = team
        return team

    def add_user(self, user: User) -> User:
        """Add a user of an existing team and return it.

        Raises:
            ValueError: if the user's team is unknown.
        """
        if user.team_id not in self.teams:
            raise ValueError(f"user {user.id} belongs to unknown team {user.team_id}")
        self.users[user.id] = user
        return user

    def add_channel(self, channel: Channel) -> Channel:
        """Add a channel whose members and teams already exist, and return it.

        Raises:
            ValueError: if a member or a connected team is unknown.
        """
        unknown = [m for m in channel.members if m not in self.users]
        unknown += [t for t in [channel.team_id, *channel.connected_team_ids] if t not in self.teams]
        if unknown:
            raise ValueError(f"channel {channel.id} refers to unknown users or teams: {unknown}")
        self.channels[channel.id] = channel
        return channel

    def add_clinic(
        self,
        team: Team,
        channel_id: str,
        channel_name: str,
        people: list[User],
        *,
        staff: list[str] | None = None,
    ) -> Channel:
        """Add a clinic's team, its people, and a Slack Connect channel shared with the installing team.

        Args:
            team: The clinic's team.
            channel_id: Id of the shared channel.
            channel_name: Its name.
            people: The clinic's users (their ``team_id`` must be ``team.id``); all join the channel.
            staff: Installing-team members to put in the channel besides the bot; defaults to every human there.

        Returns:
            The new shared channel.
        """
        self.add_team(team)
        for person in people:
            self.add_user(person)
        if staff is None:
            staff = [u.id for u in self.users.values() if u.team_id == self.installing_team_id and not u.is_bot]
        members = [self.bot_user_id, *staff, *(p.id for p in people)]
        return self.add_channel(
            Channel(channel_id, channel_name, self.installing_team_id, members, [self.installing_team_id, team.id])
        )

    def join(self, channel_id: str, user_id: str) -> None:
        """Make a user a member of a channel (idempotent)."""
        channel = self.channels[channel_id]
        if user_id not in self.users:
            raise KeyError(user_id)
        if user_id not in channel.members:
            channel.members.append(user_id)

    def im_channel(self, user_id: str) -> Channel:
        """Return the bot's direct-message channel with a user, creating it on first use."""
        user = self.users[user_id]
        channel_id = "D" + user_id.removeprefix("U")
        if channel_id not in self.channels:
            self.channels[channel_id] = Channel(
                channel_id, user_id, user.team_id, members=[user_id, self.bot_user_id], is_private=True, is_im=True
            )
        return self.channels[channel_id]
