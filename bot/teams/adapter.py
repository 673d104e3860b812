"""The Teams half of the composition root: builds the SDK app and everything the Teams handlers share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from microsoft_teams.apps import App
from starlette.routing import Route

from bot.handoff import Handoff
from bot.keycheck import KeyCheck
from bot.metrics import Metrics
from bot.reporting import SupportReporter
from bot.settings import SettingsError, TeamsSettings
from bot.tasks import BackgroundTasks
from bot.teams.desk import TeamsDesk
from bot.teams.dialog import KeyDialog
from bot.teams.directory import TeamsDirectory
from bot.teams.guide import GuideFlow
from bot.teams.handlers import TeamsHandlers
from bot.teams.messenger import TeamsMessenger
from bot.teams.platform import TeamsPlatform
from bot.teams.presenter import TeamsPresenter
from bot.teams.sdk import (
    MESSAGING_ENDPOINT,
    Credentials,
    MessagingEndpoint,
    StarletteAdapter,
    UnsafeLocalAuth,
    build_app,
)
from conversations.guide import Step
from conversations.service import OnboardingService
from conversations.vault import KeyVault
from dentally.scopes import ScopeChecker


@dataclass
class TeamsAdapter:
    """The running Teams adapter: its route, its background work, and the parts tests look at."""

    app: App
    endpoint: MessagingEndpoint
    tasks: BackgroundTasks
    platform: TeamsPlatform
    presenter: TeamsPresenter
    messenger: TeamsMessenger
    directory: TeamsDirectory

    @property
    def route(self) -> Route:
        """``POST /api/messages`` for the HTTP app."""
        return Route(MESSAGING_ENDPOINT, self.endpoint.handle, methods=["POST"])


async def open_teams(
    settings: TeamsSettings,
    service: OnboardingService,
    reporter: SupportReporter,
    metrics: Metrics,
    picture_url: Callable[[Step], str | None],
    checker: ScopeChecker | None = None,
    vault: KeyVault | None = None,
    handoff: Handoff | None = None,
    kickoff_on_join: bool = True,
    keepalive_every: float = 7 * 86400.0,
    local_auth: UnsafeLocalAuth | None = None,
) -> TeamsAdapter:
    """Build and initialise the Teams adapter; its clinics are reported on by ``reporter``.

    Args:
        settings: ``TEAMS_*``; all three credentials must be set.
        service: The onboarding service shared with Slack.
        reporter: Support's reporter (in Slack); Teams registers itself as a clinic platform there.
        metrics: Shared metrics.
        picture_url: Where Teams fetches a step's picture (``PUBLIC_BASE_URL``), or None.
        checker: The Dentally scope checker.
        vault: Encrypts stored keys; without it no key is accepted.
        handoff: Optional hand-off of verified keys.
        kickoff_on_join: Welcome members of other tenants who join a shared channel.
        keepalive_every: How often a stored key is kept alive.
        local_auth: Tests and the playground only: accept unsigned activities (see ``UnsafeLocalAuth``).

    Raises:
        SettingsError: The Teams credentials are incomplete.
    """
    if settings.client_id is None or settings.client_secret is None or settings.tenant_id is None:
        raise SettingsError("TEAMS_CLIENT_ID, TEAMS_CLIENT_SECRET and TEAMS_TENANT_ID are all needed for Teams")
    credentials = Credentials(settings.client_id, settings.client_secret, settings.tenant_id)
    server = StarletteAdapter()
    app = build_app(credentials, str(settings.service_url), server, local_auth)
    directory = TeamsDirectory(service.store)
    messenger = TeamsMessenger(app, directory)
    presenter = TeamsPresenter(messenger, service, reporter, picture_url, metrics)
    keys = KeyCheck(service, checker, vault, reporter, metrics, handoff=handoff, keepalive_every=keepalive_every)
    tasks = BackgroundTasks()
    team = settings.tenant_id
    flow = GuideFlow(service, presenter, messenger, team)
    desk = TeamsDesk(service, reporter, messenger, team)
    dialog = KeyDialog(service, keys, presenter, messenger, reporter, tasks, team)
    TeamsHandlers(flow, dialog, desk, tasks, kickoff_on_join).register(app)
    await app.initialize()
    platform = TeamsPlatform(messenger, presenter)
    reporter.add_platform(platform)
    return TeamsAdapter(app, MessagingEndpoint(server), tasks, platform, presenter, messenger, directory)
