"""The Teams half of the composition root: builds the SDK app and everything the Teams handlers share."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from microsoft_teams.apps import App
from starlette.routing import Route

from bot.core.clinics import Clinics
from bot.core.kit import Core
from bot.core.outbound import Outbound
from bot.settings import SettingsError, TeamsSettings
from bot.teams.desk import TeamsDesk
from bot.teams.dialog import TeamsKeyDialog
from bot.teams.directory import TeamsDirectory
from bot.teams.handlers import TeamsHandlers
from bot.teams.messenger import TeamsMessenger
from bot.teams.platform import PLATFORM, TeamsPlatform
from bot.teams.sdk import (
    MESSAGING_ENDPOINT,
    Credentials,
    MessagingEndpoint,
    StarletteAdapter,
    UnsafeLocalAuth,
    build_app,
)


@dataclass
class TeamsAdapter:
    """The running Teams adapter: its route and the parts tests look at."""

    app: App
    endpoint: MessagingEndpoint
    platform: TeamsPlatform
    messenger: TeamsMessenger
    directory: TeamsDirectory

    @property
    def route(self) -> Route:
        """``POST /api/messages`` for the HTTP app."""
        return Route(MESSAGING_ENDPOINT, self.endpoint.handle, methods=["POST"])


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def check_picture_urls(core: Core, local_auth: UnsafeLocalAuth | None) -> None:
    """Refuse a PUBLIC_BASE_URL that Teams could not use: Teams fetches step pictures itself, over https only.

    Plain http is accepted on loopback only together with ``UnsafeLocalAuth`` (tests and the playground, which
    never come from settings); a deployment's ``aldense-guide run`` always needs https.

    Raises:
        SettingsError: One line naming the setting and what is wrong.
    """
    url = next((u for step in core.guide.steps if (u := core.picture_url(step))), None)
    if url is None:
        return  # no PUBLIC_BASE_URL: steps go out without pictures
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    if local_auth is not None and parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return
    raise SettingsError(
        f"PUBLIC_BASE_URL must be an https:// address when Teams is on (Teams fetches step pictures over https "
        f"only), not {parts.scheme}://{parts.hostname or ''}"
    )


async def open_teams(
    settings: TeamsSettings,
    core: Core,
    clinics: Clinics,
    kickoff_on_join: bool = True,
    local_auth: UnsafeLocalAuth | None = None,
    outbound: Outbound | None = None,
) -> TeamsAdapter:
    """Build and initialise the Teams adapter, and add Teams to the core's platforms.

    Args:
        settings: ``TEAMS_*``; all three credentials must be set.
        core: The platform-neutral core shared with every other platform.
        clinics: Support's view of every clinic (Teams staff ask for ``status``).
        kickoff_on_join: Welcome members of other tenants who join a shared channel.
        local_auth: Tests and the playground only: accept unsigned activities (see ``UnsafeLocalAuth``).
        outbound: The scheduler of every Bot Connector call (none: calls go out at once).

    Raises:
        SettingsError: The Teams credentials are incomplete, or PUBLIC_BASE_URL is not https.
    """
    if settings.client_id is None or settings.client_secret is None or settings.tenant_id is None:
        raise SettingsError("TEAMS_CLIENT_ID, TEAMS_CLIENT_SECRET and TEAMS_TENANT_ID are all needed for Teams")
    check_picture_urls(core, local_auth)
    credentials = Credentials(settings.client_id, settings.client_secret, settings.tenant_id)
    server = StarletteAdapter()
    app = build_app(credentials, str(settings.service_url), server, local_auth)
    directory = TeamsDirectory(core.service.store)
    core.erasure.when_forgotten(PLATFORM, directory.drop)
    messenger = TeamsMessenger(app, directory, outbound)
    platform = TeamsPlatform(messenger, core.guide, core.picture_url)
    core.platforms.add(platform)
    team = settings.tenant_id
    desk = TeamsDesk(core.service, clinics, messenger, team, core.erasure)
    keys = TeamsKeyDialog(core, platform, core.reports, team)
    TeamsHandlers(core, platform, keys, desk, team, kickoff_on_join).register(app)
    await app.initialize()
    return TeamsAdapter(app, MessagingEndpoint(server), platform, messenger, directory)
