"""The composition root: builds the store, service, Slack client, Bolt app and HTTP app from settings."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette

from bot.core.deliveries import Replays
from bot.core.followup import FollowUp, Scheduler
from bot.core.handoff import Handoff
from bot.core.kit import Core, build_core, picture_urls
from bot.core.metrics import Metrics
from bot.core.metrics import mount as mount_metrics
from bot.core.platform import Platforms
from bot.core.tasks import BackgroundTasks
from bot.dentally_wiring import dentally_clients
from bot.guarded_http import HttpLimits
from bot.http_app import build_http_app
from bot.settings import Settings, SettingsError
from bot.slack.app import BotContext, build_app
from bot.slack.client import slack_client, slack_outbound
from bot.slack.endpoint import SlackEndpoint
from bot.slack.guide_check import check_guide
from bot.slack.platform import SlackPlatform
from bot.slack.support.reporter import SupportReporter
from conversations.guide import DEFAULT_GUIDE, Guide, load_guide
from conversations.reminders import ReminderPolicy
from conversations.service import OnboardingService
from conversations.store import Store
from conversations.stores import open_store
from conversations.vault import KeyVault, VaultError
from dentally.scopes import ScopeChecker

if TYPE_CHECKING:  # the Teams SDK is imported only when Teams is configured
    from bot.teams.app import TeamsAdapter
    from bot.teams.sdk import UnsafeLocalAuth

logger = logging.getLogger(__name__)

# How long a shutdown waits for work that was acknowledged but not finished.
DRAIN_SECONDS = 20.0


@dataclass
class Runtime:
    """Everything one bot process runs on."""

    settings: Settings
    guide: Guide
    store: Store
    core: Core
    slack: BotContext
    bolt: AsyncApp | None
    http_app: Starlette
    scheduler: Scheduler
    teams: TeamsAdapter | None = None

    async def drain(self) -> None:
        """Let acknowledged work finish (or give up after ``DRAIN_SECONDS``)."""
        if not await self.core.tasks.drain(DRAIN_SECONDS):
            logger.warning("shutdown cancelled work still running after %.0f s", DRAIN_SECONDS)


def _teams_remembered(channel: str | None, users: Sequence[str]) -> Sequence[tuple[str, bool]]:
    # Erasing Teams data needs no Teams settings (the records may outlive them), but the SDK loads only on use.
    from bot.teams.directory import remembered

    return remembered(channel, users)


def key_vault(settings: Settings) -> KeyVault | None:
    """The vault for stored keys, or None when ``KEY_ENCRYPTION_KEYS`` is unset.

    Raises:
        SettingsError: A configured key is not a Fernet key.
    """
    try:
        return KeyVault.from_setting(settings.server.key_encryption_keys)
    except VaultError as exc:
        raise SettingsError(f"KEY_ENCRYPTION_KEYS: {exc}") from None


def load_checked_guide(path: Path | str = DEFAULT_GUIDE, teams: bool = True) -> Guide:
    """A guide file, validated, whose every rendered Slack (and, with ``teams``, Teams) message fits the platform.

    Args:
        path: The guide file.
        teams: Check the Teams cards too (``guide validate`` always does; a replica only when it serves Teams, as
            Teams' SDK is slow to import).

    Raises:
        GuideError: With every problem found.
    """
    guide = load_guide(path)
    check_guide(guide)
    if teams:
        from bot.teams.guide_check import check_guide as check_teams_guide

        check_teams_guide(guide)
    return guide


def http_limits(settings: Settings) -> HttpLimits:
    """The HTTP server's deadlines, open-body cap and keep-alive limits from ``settings``."""
    server = settings.server
    return HttpLimits(
        header_seconds=server.http_header_seconds,
        body_seconds=server.http_body_seconds,
        open_bodies=server.http_open_bodies,
        keepalive_seconds=server.http_keepalive_seconds,
        requests_per_connection=server.http_requests_per_connection,
    )


def load_configured_guide(settings: Settings) -> Guide:
    """The guide the settings name (the built-in Dentally guide by default), validated."""
    return load_checked_guide(settings.server.guide_path or DEFAULT_GUIDE, teams=settings.teams.configured)


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings,
    socket_mode: bool = False,
    clock: Callable[[], float] = time.time,
    teams_only: bool = False,
    teams_local_auth: UnsafeLocalAuth | None = None,
) -> AsyncIterator[Runtime]:
    """Build the bot from ``settings``; on exit drain background work and close every connection.

    Args:
        settings: The configuration.
        socket_mode: Events arrive over Socket Mode, so no Slack endpoint is served.
        clock: Time source (tests move it).
        teams_only: Serve Teams alone (no Slack endpoint); support still reports in Slack when configured.
        teams_local_auth: Tests and the playground only: Teams activities need no Bot Framework JWT.
    """
    guide = load_configured_guide(settings)
    vault = key_vault(settings)
    if vault is None:
        logger.warning("KEY_ENCRYPTION_KEYS is not set: the bot will refuse Dentally keys (never stores plaintext)")
    store = open_store(settings.server.state_url, clock=clock)
    token = settings.slack.bot_token.get_secret_value() if settings.slack.bot_token else ""
    metrics = Metrics()
    support = settings.support
    outbound = slack_outbound(metrics, store, support.outbound_share, support.outbound_budgets)
    client = slack_client(token, str(settings.slack.api_url), metrics, outbound)
    http = httpx.AsyncClient()
    follow_up = FollowUp(
        keepalive_every=settings.follow_up.keepalive_days * 86400, retention_days=settings.follow_up.retention_days
    )
    reminders = ReminderPolicy(
        nudge_after=settings.follow_up.nudge_after_hours * 3600, nudge_max=settings.follow_up.nudge_max
    )
    try:
        clients = dentally_clients(settings.dentally, http)
        checker = ScopeChecker(clients)
        handoff = None
        if settings.support.handoff_url is not None and settings.support.handoff_secret is not None:
            handoff = Handoff(
                http,
                str(settings.support.handoff_url),
                settings.support.handoff_secret,
                allow_private=settings.support.handoff_allow_private,
            )
        service = OnboardingService(
            store,
            guide,
            clock=clock,
            reminders=reminders,
            outbox_grace=settings.follow_up.outbox_retry_seconds,
        )
        public = str(settings.server.public_base_url) if settings.server.public_base_url else None
        pictures = picture_urls(public, guide)
        tasks = BackgroundTasks()
        platforms = Platforms()
        reporter = SupportReporter(
            client,
            service,
            guide,
            settings.support.onboarding_channel if settings.slack.bot_token else None,
            pictures,
            tasks.spawn,
            platforms,
            mention=settings.support.mention,
            step_posts=settings.support.support_step_posts,
            card_seconds=settings.support.support_card_seconds,
        )
        core = build_core(
            service,
            platforms,
            tasks,
            metrics,
            reporter,
            pictures,
            checker=checker,
            vault=vault,
            handoff=handoff,
            clients=clients,
            keepalive_every=follow_up.keepalive_every,
            hours=settings.support.hours,
            wait_minutes=settings.support.support_expected_wait_minutes,
        )
        core.erasure.remember("teams", _teams_remembered)
        slack = SlackPlatform(client, guide, pictures)
        context = BotContext(core, slack, reporter, reporter.channel, kickoff_on_join=settings.server.kickoff_on_join)
        secret = settings.slack.signing_secret.get_secret_value() if settings.slack.signing_secret else None
        bolt = None
        routes = []
        if settings.slack.bot_token is not None:  # without it (Teams alone) Slack is neither served nor reported to
            platforms.add(slack)
            bolt = build_app(context, secret)
            if not (socket_mode or teams_only or secret is None):
                routes.append(SlackEndpoint(bolt, secret, clock, Replays(store)).route)
        teams = None
        if settings.teams.configured:
            from bot.teams.app import open_teams
            from bot.teams.budgets import teams_outbound

            teams = await open_teams(
                settings.teams,
                core,
                reporter.clinics,
                kickoff_on_join=settings.server.kickoff_on_join,
                local_auth=teams_local_auth,
                outbound=teams_outbound(metrics, store, support.outbound_share, support.outbound_budgets),
            )
            routes.append(teams.route)
        elif teams_only:
            raise SettingsError("--teams-only needs TEAMS_CLIENT_ID, TEAMS_CLIENT_SECRET and TEAMS_TENANT_ID")
        http_app = build_http_app(routes, store, guide)
        mount_metrics(http_app, metrics)
        scheduler = Scheduler(core, follow_up)
        runtime = Runtime(settings, guide, store, core, context, bolt, http_app, scheduler, teams)
        try:
            yield runtime
        finally:
            await runtime.drain()
    finally:
        await store.aclose()
        await http.aclose()
        session = getattr(client, "session", None)
        if session is not None:
            await session.close()
