"""The playground's JSON endpoints, without a browser: what each person is shown, and acts reaching the bot."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot import cli
from bot.fakes.slack.api import Message
from bot.playground import Playground, open_playground
from bot.slack import blocks, modals
from conversations.guide import DEFAULT_GUIDE, load_guide
from dentally.sandbox import sample_keys
from tests.bot.harness import ADMIN, CLINIC, NURSE, ONBOARDING, STAFF, action_ids, has_buttons

GUIDE = load_guide()
TOTAL = GUIDE.step_count


@pytest.fixture
async def playground(tmp_path: Path) -> AsyncIterator[Playground]:
    # Steps are clicked far faster than a person would, so no budget is spent and cards refresh at once.
    async with open_playground(port=0, state=tmp_path / "state.sqlite3", quick=True) as running:
        yield running


@pytest.fixture
async def page(playground: Playground) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=playground.url, timeout=15) as client:
        yield client


async def snapshot(page: httpx.AsyncClient, user: str, **params: Any) -> dict[str, Any]:
    response = await page.get("/playground/snapshot", params={"as": user, **params})
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


async def act(page: httpx.AsyncClient, kind: str, user: str, **body: Any) -> httpx.Response:
    return await page.post(f"/playground/act/{kind}", json={"as": user, **body})


def channel(snap: dict[str, Any], channel_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in snap["channels"] if c["id"] == channel_id)
    return found


async def key_step(playground: Playground, user: str = ADMIN) -> Message:
    """Walk ``user`` to the last step through the bot, the quick way, and return its message."""
    driver, api = playground.driver, playground.api
    await driver.click(user, api.messages(CLINIC)[0], blocks.ACTION_START)
    for index in range(TOTAL - 1):
        step = await driver.wait_for(
            lambda i=index: (
                (m := driver.latest_in_user_thread(CLINIC, user))
                and has_buttons(m)
                and f"Step {i + 1} of" in str(m.blocks)
                and m
            )
        )
        await driver.click(user, step, blocks.ACTION_DONE)
    last: Message = await driver.wait_for(
        lambda: (m := driver.latest_in_user_thread(CLINIC, user)) and blocks.ACTION_ENTER_KEY in action_ids(m) and m
    )
    return last


async def test_world_names_people_and_sample_keys_but_not_their_values(page: httpx.AsyncClient) -> None:
    world = (await page.get("/playground/world")).json()
    assert world["channel_order"] == [CLINIC, ONBOARDING]
    assert world["default_user"] == ADMIN
    roles = {user["id"]: user["role"] for user in world["users"].values()}
    assert roles[ADMIN] == "clinic admin"
    assert roles[NURSE] == "clinic user"
    assert roles[STAFF] == "Aldense staff"
    assert world["users"][ADMIN]["external"] is True
    assert world["channels"][CLINIC]["is_ext_shared"] is True
    names = {key["name"] for key in world["sample_keys"]}
    assert {"all_scopes", "missing_appointment_delete", "over_granted"} <= names
    # The menu lets a demo show every verdict, "couldn't prove" included.
    over = next(key for key in world["sample_keys"] if key["name"] == "over_granted")
    assert "couldn't prove" in over["description"]
    listing = json.dumps(world)
    assert all(key.key not in listing for key in sample_keys().values())


async def test_the_sample_key_endpoint_gives_one_value_for_the_clipboard(page: httpx.AsyncClient) -> None:
    answer = (await page.get("/playground/sample-keys/all_scopes")).json()
    assert answer["key"] == sample_keys()["all_scopes"].key
    assert (await page.get("/playground/sample-keys/nope")).status_code == 404


async def test_the_page_and_its_scripts_are_served_locally_under_a_strict_policy(page: httpx.AsyncClient) -> None:
    index = await page.get("/")
    assert index.status_code == 200
    policy = index.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "default-src 'self'" in policy
    assert "http" not in index.text.replace("http-equiv", "")  # no CDN or remote asset
    for name in ("app.js", "blocks.js", "mrkdwn.js", "style.css"):
        assert (await page.get(f"/static/{name}")).status_code == 200


async def test_a_foreign_host_header_is_refused(page: httpx.AsyncClient) -> None:
    response = await page.get("/playground/world", headers={"host": "attacker.example"})
    assert response.status_code == 400


async def test_the_kickoff_is_posted_by_staff_at_start(page: httpx.AsyncClient) -> None:
    admin = await snapshot(page, ADMIN)
    clinic = channel(admin, CLINIC)
    assert clinic["can_see"] is True
    assert len(clinic["messages"]) == 1
    assert blocks.ACTION_START in json.dumps(clinic["messages"][0]["blocks"])
    # The clinic admin is not in Aldense's internal channel, so the page shows them nothing of it.
    assert channel(admin, ONBOARDING) == {"id": ONBOARDING, "can_see": False, "messages": []}
    staff = await snapshot(page, STAFF)
    confirmation = [m for m in channel(staff, ONBOARDING)["messages"] if m["ephemeral"]]
    assert len(confirmation) == 1
    assert "Kick-off posted" in confirmation[0]["text"]


async def test_a_click_reaches_the_bot_as_a_signed_slack_request_from_the_clinic_team(
    page: httpx.AsyncClient, playground: Playground
) -> None:
    kickoff = channel(await snapshot(page, ADMIN), CLINIC)["messages"][0]
    answer = await act(page, "click", ADMIN, ts=kickoff["ts"], action_id=blocks.ACTION_START)
    assert answer.status_code == 200
    record = answer.json()["request"]
    assert record["kind"] == "block_actions"
    assert record["detail"] == blocks.ACTION_START
    assert record["team"] == "T0CLINIC"  # Slack Connect: the clicker's own team, not the installing one
    assert record["status"] == 200
    thread = await playground.driver.wait_for(lambda: playground.driver.user_thread(CLINIC, ADMIN)[1:])
    snap = await snapshot(page, ADMIN)
    opener = next(m for m in channel(snap, CLINIC)["messages"] if m["ts"] == thread[0].thread_ts)
    assert f"Step 1 of {TOTAL}" in json.dumps(opener["replies"])


async def test_the_snapshot_long_poll_waits_for_a_change(page: httpx.AsyncClient) -> None:
    version = (await snapshot(page, ADMIN))["version"]
    started = time.monotonic()
    quiet = await snapshot(page, ADMIN, since=version, wait=0.3)
    assert quiet["version"] == version
    assert time.monotonic() - started >= 0.25
    kickoff = channel(quiet, CLINIC)["messages"][0]
    waiting = asyncio.create_task(snapshot(page, ADMIN, since=version, wait=10))
    await asyncio.sleep(0.05)
    await act(page, "click", ADMIN, ts=kickoff["ts"], action_id=blocks.ACTION_START)
    moved = await asyncio.wait_for(waiting, 5)
    assert moved["version"] > version


async def test_bad_snapshot_and_act_requests_get_clear_answers(page: httpx.AsyncClient) -> None:
    assert (await page.get("/playground/snapshot", params={"as": "U0BOT"})).status_code == 400
    assert (await page.get("/playground/snapshot", params={"since": "x"})).status_code == 400
    assert (await act(page, "dance", ADMIN)).status_code == 404
    assert (await act(page, "click", ADMIN)).json()["error"] == "ts is required"
    missing = await act(page, "click", ADMIN, ts="1.000001", action_id=blocks.ACTION_START)
    assert missing.status_code == 404
    form = await page.post("/playground/act/click", data={"as": ADMIN})
    assert form.status_code == 415  # only JSON, which a cross-site form cannot send without a preflight


async def test_slash_commands_belong_to_the_installing_team(page: httpx.AsyncClient) -> None:
    refused = await act(page, "command", ADMIN, channel=CLINIC, text="/aldense help")
    assert refused.status_code == 403
    assert "/aldense is not a valid command" in refused.json()["error"]
    accepted = await act(page, "command", STAFF, channel=ONBOARDING, text="/aldense help")
    assert accepted.status_code == 200
    assert accepted.json()["request"]["kind"] == "slash_command"
    outside = await act(page, "command", ADMIN, channel=ONBOARDING, text="/aldense help")
    assert outside.status_code == 403  # not a member of Aldense's internal channel


async def test_a_mention_reaches_the_bot_and_its_reply_is_only_for_the_author(
    page: httpx.AsyncClient, playground: Playground
) -> None:
    answer = await act(page, "message", NURSE, channel=CLINIC, text="<@U0BOT> help")
    assert answer.json()["request"]["detail"] == "app_mention"
    await playground.driver.wait_for(lambda: playground.api.ephemeral(NURSE, CLINIC))
    nurse = channel(await snapshot(page, NURSE), CLINIC)["messages"]
    assert any(m["ephemeral"] and "I walk you through" in m["text"] for m in nurse)
    admin = channel(await snapshot(page, ADMIN), CLINIC)["messages"]
    assert not any(m["ephemeral"] for m in admin)
    assert any(m["user"] == NURSE and m["text"] == "<@U0BOT> help" for m in admin)


async def test_a_reply_in_a_thread_is_shown_in_that_thread(page: httpx.AsyncClient, playground: Playground) -> None:
    kickoff = channel(await snapshot(page, STAFF), CLINIC)["messages"][0]
    answer = await act(page, "message", STAFF, channel=CLINIC, text="Shout if you need us", thread_ts=kickoff["ts"])
    assert answer.json()["request"]["detail"] == "message"
    seen = channel(await snapshot(page, ADMIN), CLINIC)["messages"]
    assert [m["ts"] for m in seen] == [kickoff["ts"]]
    assert [(r["user"], r["text"]) for r in seen[0]["replies"]] == [(STAFF, "Shout if you need us")]


async def test_opening_app_home_sends_app_home_opened(page: httpx.AsyncClient) -> None:
    answer = await act(page, "home", STAFF)
    assert answer.status_code == 200
    assert answer.json()["request"]["detail"] == "app_home_opened"


async def test_the_key_modal_errors_show_inline_and_typed_text_never_comes_back(
    page: httpx.AsyncClient, playground: Playground
) -> None:
    last = await key_step(playground)
    opened = await act(page, "click", ADMIN, ts=last.ts, action_id=blocks.ACTION_ENTER_KEY)
    assert opened.status_code == 200
    await playground.driver.wait_for(lambda: playground.api.open_view(ADMIN))
    modal = (await snapshot(page, ADMIN))["modal"]
    assert modal["callback_id"] == "key_entry"
    assert "state" not in modal
    assert "private_metadata" not in modal
    junk = "not a key, only some words"
    refused = await act(page, "submit", ADMIN, view_id=modal["id"], values={"key": {"key_value": junk}})
    assert refused.status_code == 200
    after = await snapshot(page, ADMIN)
    assert set(after["modal"]["errors"]) == {"key"}
    assert after["modal"]["revision"] == modal["revision"]  # the same form, so the page keeps what was typed
    assert junk not in json.dumps(after)
    empty = await act(page, "submit", ADMIN, view_id=modal["id"], values={"key": {"key_value": ""}})
    assert empty.status_code == 422  # Slack's own client blocks an empty required field

    key = sample_keys()["all_scopes"].key
    values = {"region": {"region_choice": "uk"}, "key": {"key_value": key}}
    checked = await act(page, "submit", ADMIN, view_id=modal["id"], values=values)
    assert checked.status_code == 200
    await playground.driver.wait_for(
        lambda: (view := playground.api.open_view(ADMIN)) and "Checking" not in json.dumps(view.blocks), timeout=15
    )
    await playground.runtime.core.tasks.drain(10)
    for person in (ADMIN, NURSE, STAFF):
        assert key not in json.dumps(await snapshot(page, person))


@pytest.mark.parametrize(("modes", "name"), [((), "over_granted"), (("lookup-first",), "all_scopes")])
async def test_the_playground_can_show_couldnt_prove(tmp_path: Path, modes: tuple[str, ...], name: str) -> None:
    async with open_playground(port=0, state=tmp_path / "state.sqlite3", quick=True, dentally_modes=modes) as running:
        assert running.dentally.switches.lookup_before_scope is ("lookup-first" in modes)
        last = await key_step(running)
        await running.driver.click(ADMIN, last, blocks.ACTION_ENTER_KEY)
        await running.driver.wait_for(lambda: running.api.open_view(ADMIN))
        key = sample_keys()[name].key
        values = {modals.BLOCK_KEY: {modals.ACTION_KEY: key}, modals.BLOCK_REGION: {modals.ACTION_REGION: "uk"}}
        await running.driver.submit_view(ADMIN, None, values)
        result = await running.driver.wait_for(
            lambda: next(
                (
                    m
                    for m in running.driver.user_thread(CLINIC, ADMIN)
                    if "couldn't prove the key's permissions" in json.dumps(m.blocks)
                ),
                None,
            ),
            timeout=15,
        )
        assert "Dentally is connected" not in json.dumps(result.blocks)
        assert running.dentally.counts.writes == 0


async def test_closing_a_modal_removes_it(page: httpx.AsyncClient, playground: Playground) -> None:
    last = await key_step(playground)
    await act(page, "click", ADMIN, ts=last.ts, action_id=blocks.ACTION_ENTER_KEY)
    await playground.driver.wait_for(lambda: playground.api.open_view(ADMIN))
    modal = (await snapshot(page, ADMIN))["modal"]
    assert (await act(page, "close", ADMIN, view_id=modal["id"])).status_code == 200
    assert (await snapshot(page, ADMIN))["modal"] is None


async def test_another_guide_file_can_be_previewed(tmp_path: Path) -> None:
    folder = tmp_path / "guide"
    shutil.copytree(DEFAULT_GUIDE.parent, folder)
    path = folder / "guide.yaml"
    path.write_text(path.read_text().replace("title: Connect Dentally to Aldense", "title: Preview of a new guide"))
    async with open_playground(port=0, guide=path) as running:
        kickoff = running.api.messages(CLINIC)[0]
        assert "Preview of a new guide" in json.dumps(kickoff.blocks)


def test_the_command_refuses_a_port_in_use() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert cli.main(["playground", "--port", str(port)]) == 2


async def test_with_slacks_limits_on_as_the_command_runs_it_a_guide_still_walks_to_the_key_step(
    tmp_path: Path,
) -> None:
    # ``aldense-guide playground`` runs with the limits on (its --no-rate-limits turns them off).
    async with open_playground(port=0, state=tmp_path / "state.sqlite3", rate_limits=True) as running:
        assert running.api.rate_limits
        last = await key_step(running)
        thread = running.driver.user_thread(CLINIC, ADMIN)
        assert sum(f"Step {TOTAL} of" in str(m.blocks) for m in thread) == 1
        assert blocks.ACTION_ENTER_KEY in action_ids(last)
