"""Redis going away mid-guide: clicks are still acknowledged, users are told, /readyz fails, nothing is lost."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from bot.core import copy
from bot.fakes.slack import SlackApiSandbox, SlackDriver
from bot.slack import blocks
from conversations.addresses import ConversationKey
from tests.bot.harness import ADMIN, CLINIC, SIGNING_SECRET, RunningBot, Scenario, bot_settings, running_bot
from tests.bot.test_key_check import GUIDE


class RedisServer:
    """A private redis-server that keeps its data across a restart (append-only file), so it can go away."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            reason = "redis-server is not on PATH; the outage test needs its own server to stop"
            if os.environ.get("CI") == "true":
                pytest.fail(reason)
            pytest.skip(reason)
        self.binary = binary
        self.directory = directory
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def bot_on_private_redis(
    api: SlackApiSandbox, private_redis: RedisServer, dentally_url: str
) -> AsyncIterator[RunningBot]:
    async with running_bot(bot_settings(api, private_redis.url, dentally_url)) as running:
        yield running


async def test_redis_stopping_mid_guide_loses_nothing(
    api: SlackApiSandbox, private_redis: RedisServer, bot_on_private_redis: RunningBot
) -> None:
    bot = bot_on_private_redis
    async with httpx.AsyncClient(timeout=10) as http:
        driver = SlackDriver(bot.url, SIGNING_SECRET, api, http)
        scenario = Scenario(api, driver, None)  # type: ignore[arg-type]
        await driver.click(ADMIN, await scenario.kickoff(), blocks.ACTION_START)
        first = await scenario.latest_step(ADMIN)
        await bot.runtime.core.tasks.drain(5)

        private_redis.stop()
        started = time.monotonic()
        delivery = await driver.click(ADMIN, first, blocks.ACTION_DONE)
        assert delivery.response.status_code == 200
        assert time.monotonic() - started < 2.5  # acknowledged within Slack's 3 seconds
        told = await driver.wait_for(lambda: driver.ephemeral(ADMIN, CLINIC))
        assert told[-1].text == copy.TEMPORARILY_UNAVAILABLE
        assert (await http.get(f"{bot.url}/readyz")).status_code == 503
        assert (await http.get(f"{bot.url}/healthz")).status_code == 200

        private_redis.start()
        second = await driver.wait_for(
            lambda: (m := driver.latest_in_user_thread(CLINIC, ADMIN)) and GUIDE.steps[1].title in m.text and m,
            timeout=20,
        )
        assert second.ts != first.ts
        await bot.runtime.core.tasks.drain(10)
        assert (await http.get(f"{bot.url}/readyz")).status_code == 200
    state = await bot.runtime.core.service.conversation(ConversationKey("slack", "T0ALDENSE", CLINIC, ADMIN))
    assert state is not None
    assert GUIDE.index_of(state.step_id) == 1
    assert len([m for m in driver.user_thread(CLINIC, ADMIN) if GUIDE.steps[1].title in m.text]) == 1


async def test_due_work_waits_out_an_outage(private_redis: RedisServer, bot_on_private_redis: RunningBot) -> None:
    scheduler = bot_on_private_redis.runtime.scheduler
    private_redis.stop()
    loop = asyncio.create_task(scheduler.run_forever(0.05))
    await asyncio.sleep(0.3)
    assert not loop.done()  # an unreachable store only postpones due work
    private_redis.start()
    await asyncio.sleep(0.2)
    assert not loop.done()
    loop.cancel()
