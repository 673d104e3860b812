"""The playground's composition: Slack sandbox, Dentally sandbox, the real bot and the page, all on loopback.

Four servers run in one event loop, each on its own loopback port, as they would be four separate services::

    page  (--port, default 8080)  the web page; acts through the signing driver ──► bot /slack/events
    bot   (free port)             bot.runtime's HTTP app, unchanged: /slack/events, /guide-assets/…
    slack (free port)             bot.fakes.slack's Slack-compatible Web API; the bot's SLACK_API_URL
    dentally (free port)          dentally.sandbox with its sample keys; the bot's DENTALLY_API_URL

Nothing needs an account: the bot token, signing secret and encryption key are made up for the run.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.fakes.slack import SlackApiSandbox, SlackDriver, Workspace
from bot.fakes.slack.workspace import ADMIN, CLINIC_CHANNEL, ONBOARD_CHANNEL, STAFF
from bot.playground.page import PlaygroundPage
from bot.runtime import Runtime, open_runtime
from bot.serving import serve
from bot.settings import Settings, load_settings
from conversations.vault import new_secret
from dentally.sandbox import Sandbox, SandboxKey, sample_keys, switches_for

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8080
KICKOFF_TIMEOUT = 10.0


@dataclass
class Playground:
    """A running playground: where each part is served, and handles on them for tests and scripts."""

    url: str
    bot_url: str
    slack_url: str
    dentally_url: str
    state_url: str
    api: SlackApiSandbox
    dentally: Sandbox
    runtime: Runtime
    driver: SlackDriver
    page: PlaygroundPage
    sample_keys: dict[str, SandboxKey]

    def describe(self) -> str:
        """What the CLI prints: the page's URL first, then where everything else runs."""
        return "\n".join(
            [
                f"Aldense Guide playground: {self.url}",
                f"  bot           {self.bot_url}/slack/events",
                f"  Slack sandbox {self.slack_url}/api/",
                f"  Dentally      {self.dentally_url}/{{region}}/v1/",
                f"  state         {self.state_url}",
            ]
        )


class _Late:
    """An ASGI app that answers 503 until the real app is set: the bot's URL must exist before the bot is built."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if self.app is None:
            await send({"type": "http.response.start", "status": 503, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"starting"})
            return
        await self.app(scope, receive, send)


def playground_settings(
    api: SlackApiSandbox,
    *,
    bot_url: str,
    dentally_url: str,
    state_url: str,
    signing_secret: str,
    guide: Path | None = None,
    quick: bool = False,
) -> Settings:
    """The bot's settings for a playground run; they win over the environment, so no real service is reached.

    Args:
        api: The Slack sandbox (its URL and the bot token it accepts).
        bot_url: Where the bot is served; step pictures are fetched from its ``/guide-assets/``.
        dentally_url: The Dentally sandbox.
        state_url: The embedded store.
        signing_secret: The secret the driver signs with.
        guide: A guide file to preview instead of the built-in one.
        quick: Spend no platform budget and refresh status cards at once (tests that click faster than a person).
    """
    overrides: dict[str, Any] = {
        "slack__bot_token": api.workspace.bot_token,
        "slack__signing_secret": signing_secret,
        "slack__app_token": None,
        "slack__api_url": api.api_url,
        "support__onboarding_channel": ONBOARD_CHANNEL,
        "support__handoff_url": None,
        "support__handoff_secret": None,
        "dentally__api_url": f"{dentally_url}/{{region}}",
        "server__state_url": state_url,
        "server__public_base_url": bot_url,
        "server__key_encryption_keys": new_secret(),
        "server__guide_path": str(guide) if guide else None,
    }
    if quick:
        overrides |= {"support__outbound_budgets": False, "support__support_card_seconds": 0.0}
    return load_settings("playground", **overrides)


@contextlib.asynccontextmanager
async def open_playground(
    *,
    port: int = DEFAULT_PORT,
    guide: Path | None = None,
    state: Path | None = None,
    kickoff: bool = True,
    quick: bool = False,
    dentally_modes: Sequence[str] = (),
    rate_limits: bool = False,
) -> AsyncIterator[Playground]:
    """Start everything on loopback; on exit stop the page first, then the bot (draining its work), then the rest.

    Args:
        port: The page's port (0 picks a free one).
        guide: A guide file to preview instead of the built-in Dentally guide.
        state: A SQLite file to keep state in (it survives restarts); a temporary one when omitted.
        kickoff: Have Aldense staff run ``/aldense onboard`` for the sample clinic once everything is up.
        quick: Spend no platform budget and refresh status cards at once (tests that click faster than a person;
            the playground itself spends Slack's budgets as production does).
        dentally_modes: Dentally sandbox modes to switch on (``dentally.sandbox.MODES``); the cooperative
            Dentally when empty. Sample key ``over_granted`` shows "couldn't prove" even then.
        rate_limits: Have the Slack stand-in enforce Slack's rate limits (``aldense-guide playground`` does,
            unless ``--no-rate-limits``; tests that click faster than a person leave them off).

    Raises:
        SettingsError: A setting the playground derives is refused (for example a bad guide path).
        GuideError: The guide file is invalid.
    """
    async with contextlib.AsyncExitStack() as stack:
        if state is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="aldense-playground-"))
            state = Path(folder) / "state.sqlite3"
        state_url = f"sqlite:///{state.resolve()}"
        api = SlackApiSandbox(Workspace(), rate_limits=rate_limits)
        slack_url = await stack.enter_async_context(api.serve(LOOPBACK))
        dentally = Sandbox(switches=switches_for(dentally_modes))
        dentally_url = await stack.enter_async_context(serve(dentally, LOOPBACK))
        late = _Late()
        bot_url = await stack.enter_async_context(serve(late, LOOPBACK))
        secret = secrets.token_hex(16)
        settings = playground_settings(
            api,
            bot_url=bot_url,
            dentally_url=dentally_url,
            state_url=state_url,
            signing_secret=secret,
            guide=guide,
            quick=quick,
        )
        runtime = await stack.enter_async_context(open_runtime(settings))
        late.app = runtime.http_app
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
        driver = SlackDriver(bot_url, secret, api, http)
        keys = sample_keys()
        page = PlaygroundPage(driver, [CLINIC_CHANNEL, ONBOARD_CHANNEL], ADMIN, keys)
        url = await stack.enter_async_context(serve(page.app, LOOPBACK, port))
        stack.callback(page.close)  # runs before the page's server stops, so long-polls end at once
        playground = Playground(
            url, bot_url, slack_url, dentally_url, state_url, api, dentally, runtime, driver, page, keys
        )
        if kickoff:
            await _kick_off(playground)
        yield playground


async def _kick_off(playground: Playground) -> None:
    """Post the sample clinic's kick-off the way staff do, unless the clinic channel already has messages."""
    api, driver = playground.api, playground.driver
    if api.messages(CLINIC_CHANNEL):
        return
    clinic = api.workspace.channel(CLINIC_CHANNEL)
    delivery = await driver.run_command(STAFF, ONBOARD_CHANNEL, "/aldense", f"onboard #{clinic.name}")
    try:
        await driver.wait_for(lambda: api.messages(CLINIC_CHANNEL), timeout=KICKOFF_TIMEOUT)
    except TimeoutError:
        logger.warning("the bot posted no kick-off in #%s (it answered %s)", clinic.name, delivery.status_code)
