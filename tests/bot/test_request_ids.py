"""Every request gets an id: in the X-Request-Id header, in its log lines and in the background work it starts."""

from __future__ import annotations

import re

import httpx
import pytest

from bot.fakes.slack import SlackApiSandbox, SlackDriver
from bot.slack import blocks
from conversations.guide import load_guide
from tests.bot.harness import ADMIN, CLINIC, RunningBot, Scenario
from tests.bot.shipped import ShippedLogs

GUIDE = load_guide()
FRESH = re.compile(r"[0-9a-f]{32}")


async def test_each_request_gets_its_own_fresh_id(bot: RunningBot, http: httpx.AsyncClient) -> None:
    answers = [await http.get(bot.url + "/healthz"), await http.get(bot.url + "/healthz")]
    answers.append(await http.post(bot.url + "/slack/events", content=b"{}"))  # refused, still identified
    answers.append(await http.get(bot.url + "/no-such-page"))
    ids = [answer.headers["x-request-id"] for answer in answers]
    assert [answer.status_code for answer in answers] == [200, 200, 401, 404]
    assert all(FRESH.fullmatch(rid) for rid in ids)
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    "given", ["3f2a9c1e-8b7d-4e6f-a5c4-1b2d3e4f5a6b", "01HZY3N8Q4K5V7W9X2B6C8D0EF", "lb:1234.abcd_EF-9", "x" * 128]
)
async def test_a_well_formed_incoming_id_is_kept(bot: RunningBot, http: httpx.AsyncClient, given: str) -> None:
    answer = await http.get(bot.url + "/healthz", headers={"X-Request-Id": given})
    assert answer.headers.get_list("x-request-id") == [given]


@pytest.mark.parametrize(
    "given",
    [
        b"short",  # under 8 characters
        b"x" * 129,  # over 128
        b"has space in it",
        b"<!channel> hello",
        b"a/b/c/d/e/f/g/h",
        b"payload=%7B%22k%22%7D",
        b"caf\xc3\xa9-1234567",  # not ASCII
        b"",
    ],
)
async def test_anything_else_is_never_echoed_and_gets_a_fresh_id(
    bot: RunningBot, http: httpx.AsyncClient, given: bytes
) -> None:
    answer = await http.get(bot.url + "/healthz", headers=[(b"X-Request-Id", given)])
    echoed = answer.headers.get_list("x-request-id")
    assert len(echoed) == 1
    assert FRESH.fullmatch(echoed[0])
    assert given.decode("latin-1") not in echoed[0] or not given


async def test_two_ids_are_one_too_many(bot: RunningBot, http: httpx.AsyncClient) -> None:
    headers = [(b"X-Request-Id", b"first-id-12345"), (b"X-Request-Id", b"second-id-12345")]
    answer = await http.get(bot.url + "/healthz", headers=headers)
    echoed = answer.headers.get_list("x-request-id")
    assert len(echoed) == 1
    assert FRESH.fullmatch(echoed[0])


async def test_a_clicks_background_work_logs_with_the_clicks_request_id(
    bot: RunningBot, driver: SlackDriver, scenario: Scenario, api: SlackApiSandbox, shipped_logs: ShippedLogs
) -> None:
    await driver.click(ADMIN, await scenario.kickoff(), blocks.ACTION_START)
    step_one = await scenario.latest_step(ADMIN, title=GUIDE.steps[0].title)
    await scenario.idle(bot)  # the start's own posts (support's report among them) are done
    # The next step is posted in the background after the ack; Slack refusing its picture makes that work log.
    api.fail("chat.postMessage", error="invalid_blocks")
    delivery = await driver.click(ADMIN, step_one, blocks.ACTION_DONE)
    rid = delivery.response.headers["x-request-id"]
    await scenario.latest_step(ADMIN, title=GUIDE.steps[1].title)
    await scenario.idle(bot)
    said = "a message was sent without its picture"
    if shipped_logs.format == "text":
        [line] = [line for line in shipped_logs.text().splitlines() if said in line]
        assert f"request_id={rid} platform=slack channel={CLINIC} user={ADMIN} conversation=" in line
        return
    [line] = [line for line in shipped_logs.records() if said in line["message"]]
    assert (line["request_id"], line["platform"], line["channel"], line["user"]) == (rid, "slack", CLINIC, ADMIN)
    assert line["conversation"].endswith(f":{CLINIC}:{ADMIN}")
