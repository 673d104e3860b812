"""The platform-neutral objects every platform adapter shares, built once by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.core.deliveries import Deliveries
from bot.core.erasure import Erasure
from bot.core.handoff import Handoff
from bot.core.handoffs import Handoffs
from bot.core.handovers import HandOvers
from bot.core.hours import SupportHours
from bot.core.key_intake import KeyIntake
from bot.core.listening import ThreadListener
from bot.core.metrics import Metrics
from bot.core.moves import GuideMoves
from bot.core.platform import Platforms
from bot.core.runner import EffectRunner
from bot.core.sos import HelpDesk
from bot.core.support import SupportReports
from bot.core.tasks import BackgroundTasks
from conversations.guide import Guide, Step
from conversations.service import OnboardingService
from conversations.vault import KeyVault
from dentally.client import ClientFactory
from dentally.scopes import ScopeChecker


@dataclass
class Core:
    """The service, the platforms, the one effect runner, the guide moves and key intake."""

    service: OnboardingService
    platforms: Platforms
    tasks: BackgroundTasks
    metrics: Metrics
    reports: SupportReports
    runner: EffectRunner
    moves: GuideMoves
    keys: KeyIntake
    deliveries: Deliveries
    listener: ThreadListener
    handovers: HandOvers
    picture_url: Callable[[Step], str | None]
    erasure: Erasure
    checker: ScopeChecker | None = None
    vault: KeyVault | None = None
    clients: ClientFactory | None = None
    handoffs: Handoffs | None = None
    help_desk: HelpDesk | None = None

    @property
    def guide(self) -> Guide:
        """The guide being run."""
        return self.service.guide

    @property
    def clock(self) -> Callable[[], float]:
        """The service's clock."""
        return self.service.clock


def picture_urls(public_base_url: str | None, guide: Guide) -> Callable[[Step], str | None]:
    """Where platforms fetch a step's picture (``/guide-assets/<file>``), or None when pictures are off."""
    if not public_base_url:
        return lambda step: None
    base = public_base_url.rstrip("/")
    return lambda step: f"{base}/guide-assets/{step.image}?v={guide.version}"


def build_core(
    service: OnboardingService,
    platforms: Platforms,
    tasks: BackgroundTasks,
    metrics: Metrics,
    reports: SupportReports,
    picture_url: Callable[[Step], str | None],
    checker: ScopeChecker | None = None,
    vault: KeyVault | None = None,
    handoff: Handoff | None = None,
    clients: ClientFactory | None = None,
    keepalive_every: float = 7 * 86400.0,
    hours: SupportHours | None = None,
    wait_minutes: int | None = None,
) -> Core:
    """Wire the shared objects; platforms are added to ``platforms`` by their adapters."""
    help_desk = HelpDesk(service, platforms, reports, hours, wait_minutes)
    runner = EffectRunner(service, platforms, reports, metrics, help_desk, spawn=tasks.spawn)
    handoffs = Handoffs(service, vault, reports, handoff)
    keys = KeyIntake(
        service, runner, platforms, checker, vault, reports, metrics, handoffs=handoffs, keepalive_every=keepalive_every
    )
    return Core(
        service=service,
        platforms=platforms,
        tasks=tasks,
        metrics=metrics,
        reports=reports,
        runner=runner,
        moves=GuideMoves(service, runner, platforms, tasks, reports),
        keys=keys,
        deliveries=Deliveries(service.store),
        listener=ThreadListener(service, platforms, reports, vault, help_desk),
        handovers=HandOvers(service, runner, platforms, reports),
        picture_url=picture_url,
        erasure=Erasure(service, platforms, reports),
        checker=checker,
        vault=vault,
        clients=clients,
        handoffs=handoffs,
        help_desk=help_desk,
    )
