"""Slack's half of the composition root: the Bolt ``AsyncApp`` and the objects its listeners share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.kit import Core
from bot.core.metrics import Metrics
from bot.core.tasks import BackgroundTasks
from bot.logs import library_logger
from bot.slack.platform import SlackPlatform, Workspace
from bot.slack.support.reporter import SupportReporter
from conversations.guide import Guide
from conversations.service import OnboardingService
from conversations.vault import KeyVault
from dentally.client import ClientFactory
from dentally.scopes import ScopeChecker


@dataclass
class BotContext:
    """Everything a Slack listener needs: the shared core, Slack's client and platform, and support's reporter."""

    core: Core
    platform: SlackPlatform
    reporter: SupportReporter
    onboarding_channel: str | None
    kickoff_on_join: bool = True

    @property
    def client(self) -> AsyncWebClient:
        """The Slack Web API client."""
        return self.platform.client

    @property
    def workspace(self) -> Workspace:
        """Facts about Aldense's own install."""
        return self.platform.workspace

    @property
    def service(self) -> OnboardingService:
        """The onboarding service."""
        return self.core.service

    @property
    def guide(self) -> Guide:
        """The guide being run."""
        return self.core.guide

    @property
    def clock(self) -> Callable[[], float]:
        """The service's clock."""
        return self.core.clock

    @property
    def tasks(self) -> BackgroundTasks:
        """Tracked background work."""
        return self.core.tasks

    @property
    def metrics(self) -> Metrics:
        """The process's metrics."""
        return self.core.metrics

    @property
    def vault(self) -> KeyVault | None:
        """Encrypts stored keys."""
        return self.core.vault

    @property
    def checker(self) -> ScopeChecker | None:
        """The Dentally scope checker."""
        return self.core.checker

    @property
    def clients(self) -> ClientFactory | None:
        """Dentally clients per region."""
        return self.core.clients


def build_app(context: BotContext, signing_secret: str | None) -> AsyncApp:
    """The Bolt app with every listener registered.

    Requests are verified before they reach Bolt (see ``bot.slack.endpoint``), so Bolt's own verification — which
    logs a failing body — is off; every listener saves what must survive a crash, then hands the rest to
    ``context.tasks``. Bolt authorizes each request from the facts start-up learnt (``Workspace.authorize``)
    instead of calling ``auth.test`` inline on the first one.
    """
    from bot.slack.listeners import register

    async def authorize(user_id: str | None = None) -> AuthorizeResult:
        return await context.workspace.authorize(user_id)

    ours = context.client
    app = AsyncApp(
        # Bolt takes the token from ``authorize``; handed a client with a token as well, it would warn that the
        # token goes unused. Its per-request clients copy this one's address, session and retries.
        client=AsyncWebClient(
            base_url=ours.base_url,
            timeout=ours.timeout,
            session=ours.session,
            logger=ours.logger,
            retry_handlers=ours.retry_handlers,
        ),
        authorize=authorize,
        logger=library_logger("slack_bolt"),
        signing_secret=signing_secret or "unused-in-socket-mode",
        process_before_response=True,
        request_verification_enabled=False,
        ssl_check_enabled=False,
    )
    register(app, context)
    return app
