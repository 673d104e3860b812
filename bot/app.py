"""The composition root's Slack half: builds the Bolt ``AsyncApp`` and the objects its listeners share."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.handoff import Handoff
from bot.logs import library_logger
from bot.metrics import CountingWebClient, Metrics
from bot.pacing import Pacer
from bot.presenter import SlackPresenter
from bot.reporting import SupportReporter
from bot.tasks import BackgroundTasks
from conversations.guide import Guide, Step
from conversations.service import OnboardingService
from conversations.vault import KeyVault
from dentally.client import ClientFactory
from dentally.scopes import ScopeChecker


def slack_client(token: str, api_url: str, metrics: Metrics) -> AsyncWebClient:
    """A Web API client with retries for dropped connections, 429 (honouring Retry-After) and 5xx.

    Call it inside the event loop; the caller closes ``client.session``. One keep-alive session serves every call:
    without it slack_sdk opens (and closes) a session and a connection per call, about a sixth of a click's CPU.
    """
    return CountingWebClient(
        metrics=metrics,
        token=token,
        logger=library_logger("slack_sdk"),
        base_url=api_url if api_url.endswith("/") else api_url + "/",
        timeout=10,
        session=aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)),
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


@dataclass
class Workspace:
    """Facts about Aldense's own install, learnt once from ``auth.test``."""

    client: AsyncWebClient
    team_id: str | None = None
    bot_user_id: str | None = None

    async def ensure(self) -> None:
        """Ask Slack who we are, once."""
        if self.team_id is None:
            response = await self.client.auth_test()
            self.team_id = str(response["team_id"])
            self.bot_user_id = str(response.get("user_id") or "") or None

    async def installing_team(self) -> str:
        """Aldense's team id."""
        await self.ensure()
        assert self.team_id is not None
        return self.team_id


@dataclass
class BotContext:
    """Everything a listener needs, built once by the composition root."""

    client: AsyncWebClient
    service: OnboardingService
    presenter: SlackPresenter
    reporter: SupportReporter
    workspace: Workspace
    tasks: BackgroundTasks
    onboarding_channel: str | None
    kickoff_on_join: bool = True
    clock: Callable[[], float] = field(default=time.time)
    checker: ScopeChecker | None = None
    vault: KeyVault | None = None
    handoff: Handoff | None = None
    clients: ClientFactory | None = None
    metrics: Metrics = field(default_factory=Metrics)
    keepalive_every: float = 7 * 86400.0

    @property
    def guide(self) -> Guide:
        """The guide being run."""
        return self.service.guide


def picture_urls(public_base_url: str | None, guide: Guide) -> Callable[[Step], str | None]:
    """Where Slack fetches a step's picture (``/guide-assets/<file>``), or None when pictures are off."""
    if not public_base_url:
        return lambda step: None
    base = public_base_url.rstrip("/")
    return lambda step: f"{base}/guide-assets/{step.image}?v={guide.version}"


def build_context(
    client: AsyncWebClient,
    service: OnboardingService,
    onboarding_channel: str | None,
    public_base_url: str | None,
    kickoff_on_join: bool = True,
    checker: ScopeChecker | None = None,
    vault: KeyVault | None = None,
    handoff: Handoff | None = None,
    pacer: Pacer | None = None,
    clients: ClientFactory | None = None,
    metrics: Metrics | None = None,
    keepalive_every: float = 7 * 86400.0,
) -> BotContext:
    """Wire the shared objects of the Slack adapter."""
    pictures = picture_urls(public_base_url, service.guide)
    tasks = BackgroundTasks()
    reporter = SupportReporter(client, service, service.guide, onboarding_channel, pictures, pacer, tasks.spawn)
    metrics = metrics or Metrics()
    presenter = SlackPresenter(client, service, reporter, pictures, metrics)
    return BotContext(
        client=client,
        service=service,
        presenter=presenter,
        reporter=reporter,
        workspace=Workspace(client),
        tasks=tasks,
        onboarding_channel=onboarding_channel,
        kickoff_on_join=kickoff_on_join,
        clock=service.clock,
        checker=checker,
        vault=vault,
        handoff=handoff,
        clients=clients,
        metrics=metrics,
        keepalive_every=keepalive_every,
    )


def build_app(context: BotContext, signing_secret: str | None) -> AsyncApp:
    """The Bolt app with every listener registered.

    Requests are verified before they reach Bolt (see ``bot.server``), so Bolt's own verification — which logs
    a failing body — is off; every listener acks first and hands its work to ``context.tasks``.
    """
    from bot.listeners import register

    app = AsyncApp(
        client=context.client,
        logger=library_logger("slack_bolt"),
        signing_secret=signing_secret or "unused-in-socket-mode",
        process_before_response=True,
        request_verification_enabled=False,
        ssl_check_enabled=False,
    )
    register(app, context)
    return app
