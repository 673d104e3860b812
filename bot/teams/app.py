"""The Teams half of the composition root: builds the SDK app and everything the Teams handlers share."""

from __future__ import annotations

from dataclasses import dataclass

from microsoft_teams.apps import App
from starlette.routing import Route

from bot.core.clinics import Clinics
from bot.core.kit import Core
from bot.settings import SettingsError, TeamsSettings
from bot.teams.desk import TeamsDesk
from bot.teams.dialog import TeamsKeyDialog
from bot.teams.directory import TeamsDirectory
from bot.teams.handlers import TeamsHandlers
from bot.teams.messenger import TeamsMessenger
from bot.teams.platform import TeamsPlatform
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


async def open_teams(
    settings: TeamsSettings,
    core: Core,
    clinics: Clinics,
    kickoff_on_join: bool = True,
    local_auth: UnsafeLocalAuth | None = None,
) -> TeamsAdapter:
    """Build and initialise the Teams adapter, and add Teams to the core's platforms.

    Args:
        settings: ``TEAMS_*``; all three credentials must be set.
        core: The platform-neutral core shared with every other platform.
        clinics: Support's view of every clinic (Teams staff ask for ``status``).
        kickoff_on_join: Welcome members of other tenants who join a shared channel.
        local_auth: Tests and the playground only: accept unsigned activities (see ``UnsafeLocalAuth``).

    Raises:
        SettingsError: The Teams credentials are incomplete.
    """
    if settings.client_id is None or settings.client_secret is None or settings.tenant_id is None:
        raise SettingsError("TEAMS_CLIENT_ID, TEAMS_CLIENT_SECRET and TEAMS_TENANT_ID are all needed for Teams")
    credentials = Credentials(settings.client_id, settings.client_secret, settings.tenant_id)
    server = StarletteAdapter()
    app = build_app(credentials, str(settings.service_url), server, local_auth)
    directory = TeamsDirectory(core.service.store)
    messenger = TeamsMessenger(app, directory)
    platform = TeamsPlatform(messenger, core.guide, core.picture_url)
    core.platforms.add(platform)
    team = settings.tenant_id
    desk = TeamsDesk(core.service, clinics, messenger, team)
    keys = TeamsKeyDialog(core, platform, core.reports, team)
    TeamsHandlers(core, platform, keys, desk, team, kickoff_on_join).register(app)
    await app.initialize()
    return TeamsAdapter(app, MessagingEndpoint(server), platform, messenger, directory)
