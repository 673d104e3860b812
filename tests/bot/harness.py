"""A running bot for end-to-end tests: the real runtime served over HTTP, the Slack sandbox, a signed driver."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.fakes.slack import Ephemeral, SlackApiSandbox, SlackDriver
from bot.fakes.slack.api import Message
from bot.fakes.slack.driver import Delivery
from bot.runtime import Runtime, open_runtime
from bot.serving import serve
from bot.settings import Mode, Settings, load_settings
from bot.slack import blocks
from tests.quick_stop import QUICK_STOP

SIGNING_SECRET = "e2e-signing-secret-0123456789abcdef"
CLINIC = "C0CLINIC"
ONBOARDING = "C0ONBOARD"
ADMIN = "U0ADMIN"
NURSE = "U0NURSE"
STAFF = "U0STAFF"
PUBLIC_BASE_URL = "https://guide.aldense.example"
# A fixed Fernet key so tests can open what the bot stored.
ENCRYPTION_KEY = "qDzrhP0OVVTQlNfQWY3pkBK2ab8WnmAHV6RLwcuY6QM="


def bot_settings(
    api: SlackApiSandbox, state_url: str, dentally_url: str | None = None, mode: Mode = "http", **overrides: Any
) -> Settings:
    """Settings of a bot talking to ``api`` and the Dentally sandbox at ``dentally_url``, state at ``state_url``."""
    values: dict[str, Any] = {
        "server__key_encryption_keys": ENCRYPTION_KEY,
        "dentally__api_url": f"{dentally_url}/{{region}}" if dentally_url else None,
        "slack__bot_token": api.workspace.bot_token,
        "slack__signing_secret": SIGNING_SECRET,
        "slack__api_url": api.api_url,
        "support__onboarding_channel": ONBOARDING,
        "server__state_url": state_url,
        "server__public_base_url": PUBLIC_BASE_URL,
        # Tests click far faster than people and the stand-in enforces no limits unless a test switches them on:
        # calls still go through the scheduler (priorities, 429 pauses), which spends no budget; cards fold at once.
        "support__outbound_budgets": False,
        "support__support_card_seconds": 0.0,
    }
    values.update(overrides)
    return load_settings(mode, **values)


@dataclass
class RunningBot:
    """The bot's runtime and the URL it is served at."""

    runtime: Runtime
    url: str


@contextlib.asynccontextmanager
async def running_bot(settings: Settings, clock: Callable[[], float] | None = None) -> AsyncIterator[RunningBot]:
    """Serve the real bot on loopback; on exit stop serving, then drain its background work."""
    kwargs: dict[str, Any] = {"clock": clock} if clock else {}
    async with open_runtime(settings, **kwargs) as runtime, serve(runtime.http_app, poll_seconds=QUICK_STOP) as url:
        await runtime.slack.workspace.ensure()  # as `aldense-guide run` does before it takes requests
        yield RunningBot(runtime, url)


class Scenario:
    """Helpers that read like the steps of a test."""

    def __init__(self, api: SlackApiSandbox, driver: SlackDriver, tmp_path: Path) -> None:
        self.api = api
        self.driver = driver
        self.tmp_path = tmp_path

    async def kickoff(self, channel: str = CLINIC) -> Message:
        """Run ``/aldense onboard`` as staff and return the kick-off message."""
        before = len(self.api.messages(channel))
        await self.driver.run_command(STAFF, ONBOARDING, "/aldense", f"onboard <#{channel}|clinic>", escape=False)
        return await self.driver.wait_for(
            lambda: len(self.api.messages(channel)) > before and self.api.messages(channel)[-1]
        )

    async def latest_step(self, user: str, channel: str = CLINIC, title: str | None = None) -> Message:
        """Wait for the newest message in the user's thread (with ``title`` when given)."""

        def found() -> Message | None:
            latest = self.driver.latest_in_user_thread(channel, user)
            if latest is None or not has_buttons(latest):
                return None
            return latest if title is None or title in message_text(latest) else None

        return await self.driver.wait_for(found)

    async def idle(self, bot: RunningBot) -> None:
        """Wait until the bot has finished the work it acknowledged."""
        await bot.runtime.core.tasks.drain(10)


def message_text(message: Message) -> str:
    """Every text of a message and its blocks, joined — what a person would read."""
    parts = [message.text]
    for block in message.blocks:
        text = block.get("text")
        if isinstance(text, dict):
            parts.append(str(text.get("text", "")))
        for element in block.get("elements", []) or []:
            if isinstance(element, dict) and isinstance(element.get("text"), str):
                parts.append(element["text"])
            elif isinstance(element, dict) and isinstance(element.get("text"), dict):
                parts.append(str(element["text"].get("text", "")))
        if block.get("type") == "image":
            parts.append(str(block.get("alt_text", "")))
    return "\n".join(parts)


def has_buttons(message: Message) -> bool:
    """Whether the message still offers buttons."""
    return any(block.get("type") == "actions" for block in message.blocks)


def action_ids(message: Message) -> list[str]:
    """The action ids of every button in a message."""
    return [
        str(element.get("action_id"))
        for block in message.blocks
        if block.get("type") == "actions"
        for element in block.get("elements", [])
    ]


@contextlib.contextmanager
def every_logger_at(level: int) -> Iterator[None]:
    """Every logger known now at ``level`` for the block; after it, each is back at its own level.

    Left at DEBUG, the libraries' loggers (httpx, httpcore, redis, the Teams SDK) would make every later test in the
    run build and handle their debug lines: the proof matrix alone took five times as long after such a test.
    """
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    saved = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.setLevel(level)
    try:
        yield
    finally:
        for logger, before in saved:
            logger.setLevel(before)


@contextlib.asynccontextmanager
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for driving the bot."""
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


class MovableClock:
    """Real time plus an offset a test moves forward; the bot, its signature check and the driver share it."""

    def __init__(self, at: float | None = None) -> None:
        import time

        self.offset = 0.0 if at is None else at - time.time()

    def __call__(self) -> float:
        import time

        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.offset += seconds

    def set(self, at: float) -> None:
        """Jump to ``at`` (Unix seconds), then let time run on from there."""
        import time

        self.offset = at - time.time()


def trouble_offers(driver: SlackDriver, user: str, channel: str = CLINIC) -> list[Ephemeral]:
    """The private lists of troubles I'm stuck showed ``user``, oldest first."""
    return [
        e
        for e in driver.ephemeral(user, channel)
        if any(str(b.get("block_id", "")).startswith("troubles:") for b in e.blocks)
    ]


async def offer_troubles(driver: SlackDriver, user: str, step: Message | str, channel: str = CLINIC) -> Ephemeral:
    """``user`` presses I'm stuck on ``step``; returns the private list of troubles it shows."""
    before = len(trouble_offers(driver, user, channel))
    assert (await driver.click(user, step, blocks.ACTION_STUCK)).status_code == 200

    def shown() -> Ephemeral | None:
        offers = trouble_offers(driver, user, channel)
        return offers[-1] if len(offers) > before else None

    return await driver.wait_for(shown)  # type: ignore[arg-type]


async def ask_aldense(driver: SlackDriver, user: str, step: Message | str, channel: str = CLINIC) -> Delivery:
    """I'm stuck on ``step``, then "Still stuck — ask Aldense" on the troubles it offers; returns that click."""
    offer = await offer_troubles(driver, user, step, channel)
    return await driver.click(user, offer, blocks.ACTION_ASK_ALDENSE)


async def choose_trouble(driver: SlackDriver, user: str, offer: Ephemeral, trouble_id: str) -> Delivery:
    """``user`` picks trouble ``trouble_id`` on the private list ``offer``."""
    action = next(
        str(element["action_id"])
        for block in offer.blocks
        for element in block.get("elements", []) or []
        if str(element.get("value", "")).endswith(f"|{trouble_id}")
    )
    return await driver.click(user, offer, action)
