"""Signed but odd input never gives a 500 or a traceback, and staff are answered even with the state store down."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.fakes.slack import SlackApiSandbox, SlackDriver, payloads
from bot.slack import modals
from bot.slack.support import blocks as support_blocks
from tests.bot.harness import ONBOARDING, SIGNING_SECRET, STAFF, RunningBot, bot_settings, running_bot
from tests.bot.test_http_input import WS, every_logger_at_debug, form, key_submission
from tests.bot.test_store_outage import RedisServer
from tests.bot.test_store_outage import private_redis as private_redis  # a redis-server the test can stop

NESTED = "[" * 5000 + "]" * 5000


@pytest.fixture
def warnings(bot: RunningBot) -> Iterator[list[logging.LogRecord]]:
    with every_logger_at_debug() as capture:
        yield capture.records


def _region_state(selected: Any) -> dict[str, Any]:
    submission = key_submission()
    values = submission["view"]["state"]["values"]
    values[modals.BLOCK_REGION] = {modals.ACTION_REGION: {"type": "static_select", "selected_option": selected}}
    return submission


def _with_metadata(metadata: str) -> dict[str, Any]:
    submission = key_submission()
    submission["view"]["private_metadata"] = metadata
    return submission


def _staff_click(value: str, action_id: str) -> dict[str, Any]:
    return payloads.block_actions(
        WS,
        user=WS.user(STAFF),
        channel=WS.channel(ONBOARDING),
        message_ts="1700000000.000100",
        action=payloads.action_item(
            {"type": "button", "action_id": action_id, "value": value, "text": {"type": "plain_text", "text": "x"}},
            "card:actions",
            "1700000000.000200",
        ),
        trigger_id="1.2.trigger",
        response_url="http://127.0.0.1:9/response/none",
    )


def _reset_submission(metadata: str) -> dict[str, Any]:
    view = support_blocks.reset_confirmation("slack", "C0CLINIC", "Maple Leaf") | {"id": "V0RESET", "hash": "h"}
    view["private_metadata"] = metadata
    return payloads.view_submission(WS, user=WS.user(STAFF), view=view, trigger_id="1.2.trigger")


ODD_INPUTS = {
    "selected_option a string": _region_state("uk"),
    "selected_option a list": _region_state([{"value": "uk"}]),
    "selected_option without value": _region_state({}),
    "key metadata nested thousands deep": _with_metadata(NESTED),
    "key metadata a huge object": _with_metadata(json.dumps({"channel": "C" * 10000, "owner": "U0ADMIN"})),
    "key metadata not JSON": _with_metadata("{not json"),
    "re-check of an empty clinic": _staff_click("", support_blocks.ACTION_RECHECK),
    "re-check of 'slack|'": _staff_click("slack|", support_blocks.ACTION_RECHECK),
    "reset of a clinic with spaces": _staff_click("teams|a b", support_blocks.ACTION_RESET),
    "reset confirmation nested thousands deep": _reset_submission(NESTED),
    "reset confirmation with an empty channel": _reset_submission(json.dumps({"channel": "", "platform": "slack"})),
}


@pytest.mark.parametrize("name", ODD_INPUTS)
async def test_odd_signed_input_gets_a_2xx_or_4xx_and_at_most_one_warning(
    name: str, bot: RunningBot, http: httpx.AsyncClient, warnings: list[logging.LogRecord]
) -> None:
    body, content_type = form(ODD_INPUTS[name])
    headers = payloads.signature_headers(body, SIGNING_SECRET, int(time.time())) | {"Content-Type": content_type}
    answer = await http.post(f"{bot.url}/slack/events", content=body, headers=headers)
    assert answer.status_code < 500
    assert await bot.runtime.core.tasks.drain(10)
    ours = [r for r in warnings if r.levelno >= logging.WARNING and not r.name.startswith("uvicorn")]
    assert [r for r in ours if r.levelno >= logging.ERROR] == []
    assert len(ours) <= 1, [r.getMessage() for r in ours]


async def test_staff_commands_say_the_store_is_unavailable_instead_of_going_silent(
    api: SlackApiSandbox, private_redis: RedisServer, dentally_url: str
) -> None:
    async with (
        httpx.AsyncClient(timeout=10) as http,
        running_bot(bot_settings(api, private_redis.url, dentally_url)) as bot,
    ):
        driver = SlackDriver(bot.url, SIGNING_SECRET, api, http)
        private_redis.stop()
        delivery = await driver.run_command(STAFF, ONBOARDING, "/aldense", "status")
        assert delivery.status_code == 200
        assert await bot.runtime.core.tasks.drain(10)
        replies = [r.body.get("text", "") for r in api.responses()]
        assert any("can't reach its state store" in str(text) for text in replies), replies
