"""The Web API sandbox answers a real AsyncWebClient over loopback the way Slack would."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.fakes.slack import SlackApiSandbox, Workspace, validate_blocks, validate_view
from tests.bot.fakes.conftest import FakeClock
from tests.bot.fakes.tiny_app import KEY_MODAL, KICKOFF_BLOCKS

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "Step 1"}}


async def refused(call: Any) -> dict[str, Any]:
    """Await a Web API call that must fail and return Slack's answer."""
    with pytest.raises(SlackApiError) as caught:
        await call
    data: dict[str, Any] = caught.value.response.data
    return data


# --- messages --------------------------------------------------------------------------------------------------


async def test_post_message_returns_ts_and_stores_the_message(api: SlackApiSandbox, client: AsyncWebClient) -> None:
    answer = await client.chat_postMessage(channel="C0CLINIC", text="Hello", blocks=[SECTION])

    assert answer["ok"]
    assert answer["channel"] == "C0CLINIC"
    stored = api.message("C0CLINIC", answer["ts"])
    assert stored.text == "Hello"
    assert stored.user == "U0BOT"
    assert stored.bot_id == "B0BOT"
    assert stored.blocks[0]["block_id"]  # Slack names blocks the app left unnamed
    assert answer["message"]["blocks"] == stored.blocks
    assert [m.ts for m in api.messages("C0CLINIC")] == [answer["ts"]]
    assert api.calls("chat.postMessage")[0].params["text"] == "Hello"


async def test_ts_values_are_unique_and_increasing_even_when_the_clock_stands_still(
    client: AsyncWebClient,
) -> None:
    stamps = [(await client.chat_postMessage(channel="C0CLINIC", text=str(i)))["ts"] for i in range(5)]

    assert stamps == sorted(stamps, key=float)
    assert len(set(stamps)) == 5
    assert all(len(ts.split(".")[1]) == 6 for ts in stamps)


async def test_replies_form_threads(api: SlackApiSandbox, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel="C0CLINIC", text="@Jane is connecting Dentally")
    first = await client.chat_postMessage(channel="C0CLINIC", thread_ts=parent["ts"], text="Step 1")
    # Replying to a reply lands in the same thread, as in Slack.
    second = await client.chat_postMessage(channel="C0CLINIC", thread_ts=first["ts"], text="Step 2")

    assert second["message"]["thread_ts"] == parent["ts"]
    assert [m.text for m in api.thread("C0CLINIC", parent["ts"])] == [
        "@Jane is connecting Dentally",
        "Step 1",
        "Step 2",
    ]
    assert [m.text for m in api.messages("C0CLINIC")] == ["@Jane is connecting Dentally"]
    replies = await client.conversations_replies(channel="C0CLINIC", ts=parent["ts"])
    assert replies["messages"][0]["reply_count"] == 2


async def test_a_reply_to_a_missing_message_is_posted_with_a_warning(
    api: SlackApiSandbox, client: AsyncWebClient
) -> None:
    answer = await client.chat_postMessage(channel="C0CLINIC", thread_ts="1.000001", text="orphan")

    assert answer["ok"]
    assert api.calls("chat.postMessage")[-1].warnings == ["thread_parent_not_found"]
    api.strict_threads = True
    assert (await refused(client.chat_postMessage(channel="C0CLINIC", thread_ts="1.000001", text="x")))[
        "error"
    ] == "thread_not_found"


async def test_update_replaces_the_message_and_keeps_its_history(api: SlackApiSandbox, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="C0CLINIC", text="Step 2/8", blocks=[SECTION])

    updated = await client.chat_update(channel="C0CLINIC", ts=posted["ts"], text="✅ 2/8 Open Settings", blocks=[])

    message = api.message("C0CLINIC", posted["ts"])
    assert updated["ts"] == posted["ts"]
    assert message.text == "✅ 2/8 Open Settings"
    assert message.blocks == []
    assert [(e.text, len(e.blocks)) for e in message.edits] == [("Step 2/8", 1)]
    assert updated["message"]["edited"]["ts"] == message.edits[0].replaced_at


async def test_update_and_delete_refuse_missing_or_foreign_messages(
    api: SlackApiSandbox, client: AsyncWebClient
) -> None:
    typed = api.post_as_user("U0ADMIN", "C0CLINIC", "hi")

    assert (await refused(client.chat_update(channel="C0CLINIC", ts="9.000009", text="x")))["error"] == (
        "message_not_found"
    )
    assert (await refused(client.chat_update(channel="C0CLINIC", ts=typed.ts, text="x")))["error"] == (
        "cant_update_message"
    )
    mine = await client.chat_postMessage(channel="C0CLINIC", text="bye")
    await client.chat_delete(channel="C0CLINIC", ts=mine["ts"])
    assert [m.ts for m in api.messages("C0CLINIC")] == [typed.ts]
    assert (await refused(client.chat_delete(channel="C0CLINIC", ts=mine["ts"])))["error"] == "message_not_found"


async def test_ephemeral_messages_are_seen_only_by_their_user(api: SlackApiSandbox, client: AsyncWebClient) -> None:
    answer = await client.chat_postEphemeral(channel="C0CLINIC", user="U0NURSE", text="This guide is Jane's")

    assert answer["message_ts"]
    assert [e.text for e in api.ephemeral("U0NURSE")] == ["This guide is Jane's"]
    assert api.ephemeral("U0ADMIN") == []
    assert api.messages("C0CLINIC") == []
    outsider = await refused(client.chat_postEphemeral(channel="C0ONBOARD", user="U0ADMIN", text="x"))
    assert outsider["error"] == "user_not_in_channel"


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        ([SECTION] * 51, "must be less than 51 items [json-pointer:/blocks]"),
        ([{"type": "sektion", "text": {"type": "mrkdwn", "text": "x"}}], "unsupported type: sektion"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "[json-pointer:/blocks/0]"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x"}, "acton_id": "a"}], "acton_id"),
        ([{"type": "section", "text": "bare string"}], "must be an object [json-pointer:/blocks/0/text]"),
        (
            [{"type": "actions", "elements": [{"type": "buton"}]}],
            "unsupported type [json-pointer:/blocks/0/elements/0]",
        ),
        ([{"type": "image", "image_url": "https://x.test/a.png"}], "[json-pointer:/blocks/0]"),
    ],
)
async def test_invalid_blocks_are_refused_loudly(
    api: SlackApiSandbox, client: AsyncWebClient, blocks: list[dict[str, Any]], expected: str
) -> None:
    answer = await refused(client.chat_postMessage(channel="C0CLINIC", text="fallback", blocks=blocks))

    assert answer["error"] == "invalid_blocks"
    assert any(expected in e for e in answer["errors"]), answer["errors"]
    assert api.messages("C0CLINIC") == []


def test_valid_blocks_and_views_pass_validation() -> None:
    assert validate_blocks(KICKOFF_BLOCKS) == []
    assert validate_view(KEY_MODAL) == []
    assert validate_view({**KEY_MODAL, "title": {"type": "plain_text", "text": "x" * 25}})


async def test_messages_need_content_a_known_channel_and_membership(client: AsyncWebClient) -> None:
    with pytest.warns(UserWarning, match="text"):  # slack_sdk warns before sending, Slack refuses
        assert (await refused(client.chat_postMessage(channel="C0CLINIC")))["error"] == "no_text"
    assert (await refused(client.chat_postMessage(channel="C0NOPE", text="x")))["error"] == "channel_not_found"
    assert (await refused(client.chat_postMessage(channel="C0CLINIC", text="x" * 40_001)))["error"] == "msg_too_long"


async def test_bot_must_be_in_the_channel_until_it_joins(workspace: Workspace, client: AsyncWebClient) -> None:
    workspace.channels["C0ONBOARD"].members.remove("U0BOT")

    assert (await refused(client.chat_postMessage(channel="C0ONBOARD", text="x")))["error"] == "not_in_channel"
    await client.conversations_join(channel="C0ONBOARD")
    assert (await client.chat_postMessage(channel="C0ONBOARD", text="x"))["ok"]


async def test_posting_to_a_user_id_lands_in_their_dm(api: SlackApiSandbox, client: AsyncWebClient) -> None:
    answer = await client.chat_postMessage(channel="U0ADMIN", text="A nudge")

    assert answer["channel"] == "D0ADMIN"
    assert [m.text for m in api.messages("D0ADMIN")] == ["A nudge"]


async def test_permalinks_point_into_threads(client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel="C0CLINIC", text="parent")
    reply = await client.chat_postMessage(channel="C0CLINIC", thread_ts=parent["ts"], text="reply")

    link = (await client.chat_getPermalink(channel="C0CLINIC", message_ts=reply["ts"]))["permalink"]

    assert link.startswith("https://aldense.slack.com/archives/C0CLINIC/p" + reply["ts"].replace(".", ""))
    assert f"thread_ts={parent['ts']}" in link


# --- auth and methods ------------------------------------------------------------------------------------------


async def test_unknown_methods_and_bad_tokens_are_refused(api: SlackApiSandbox, client: AsyncWebClient) -> None:
    assert (await refused(client.api_call("chat.fly")))["error"] == "unknown_method"
    stranger = AsyncWebClient(token="xoxb-wrong", base_url=api.api_url)
    assert (await refused(stranger.chat_postMessage(channel="C0CLINIC", text="x")))["error"] == "invalid_auth"
    anonymous = AsyncWebClient(base_url=api.api_url)
    assert (await refused(anonymous.auth_test()))["error"] == "not_authed"
    assert api.messages("C0CLINIC") == []


async def test_form_bodies_and_token_parameters_work_too(api: SlackApiSandbox, http: httpx.AsyncClient) -> None:
    form = {"token": api.workspace.bot_token, "channel": "C0CLINIC", "text": "hi", "blocks": json.dumps([SECTION])}

    answer = (await http.post(f"{api.api_url}chat.postMessage", data=form)).json()

    assert answer["ok"]
    assert api.message("C0CLINIC", answer["ts"]).blocks[0]["text"]["text"] == "Step 1"
    assert api.calls()[-1].token == api.workspace.bot_token
    assert "token" not in api.calls()[-1].params


async def test_auth_test_names_the_installing_team_and_bot(client: AsyncWebClient) -> None:
    answer = await client.auth_test()

    assert (answer["team_id"], answer["user_id"], answer["bot_id"]) == ("T0ALDENSE", "U0BOT", "B0BOT")


async def test_users_info_marks_clinic_users_as_strangers(client: AsyncWebClient) -> None:
    jane = (await client.users_info(user="U0ADMIN"))["user"]
    sam = (await client.users_info(user="U0STAFF"))["user"]
    priya = (await client.users_info(user="U0NURSE"))["user"]

    assert jane["is_stranger"] is True
    assert jane["team_id"] == "T0CLINIC"
    assert "is_stranger" not in sam
    assert sam["profile"]["email"] == "sam@aldense.example"
    assert "email" not in jane["profile"]
    assert jane["profile"]["real_name"] == "Jane Doe"
    assert jane["tz"] == "Europe/London"
    assert jane["tz_offset"] in (0, 3600)
    assert priya["tz"] == "Australia/Sydney"
    assert priya["tz_offset"] in (36000, 39600)
    assert (await refused(client.users_info(user="U0GHOST")))["error"] == "user_not_found"


async def test_conversations_info_shows_slack_connect(client: AsyncWebClient) -> None:
    shared = (await client.conversations_info(channel="C0CLINIC"))["channel"]
    internal = (await client.conversations_info(channel="C0ONBOARD"))["channel"]

    assert shared["is_ext_shared"]
    assert shared["is_shared"]
    assert shared["name"] == "maple-leaf-dental"
    assert shared["connected_team_ids"] == ["T0ALDENSE", "T0CLINIC"]
    assert not internal["is_ext_shared"]
    assert "connected_team_ids" not in internal
    members = await client.conversations_members(channel="C0CLINIC")
    assert members["members"] == ["U0BOT", "U0STAFF", "U0ADMIN", "U0NURSE"]


async def test_team_info_knows_both_sides(client: AsyncWebClient) -> None:
    assert (await client.team_info())["team"]["name"] == "Aldense"
    assert (await client.team_info(team="T0CLINIC"))["team"]["name"] == "Maple Leaf Dental"


# --- faults ----------------------------------------------------------------------------------------------------


async def test_rate_limits_are_retried_by_slack_sdk(api: SlackApiSandbox) -> None:
    api.fail("chat.postMessage", status=429, retry_after=0)
    client = AsyncWebClient(
        token=api.workspace.bot_token,
        base_url=api.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )

    answer = await client.chat_postMessage(channel="C0CLINIC", text="eventually")

    assert answer["ok"]
    assert [(c.status, c.error) for c in api.calls("chat.postMessage")] == [(429, "ratelimited"), (200, None)]
    assert len(api.messages("C0CLINIC")) == 1


async def test_a_rate_limit_carries_retry_after(api: SlackApiSandbox, http: httpx.AsyncClient) -> None:
    api.fail("chat.postMessage", status=429, retry_after=7)
    headers = {"Authorization": f"Bearer {api.workspace.bot_token}"}

    response = await http.post(f"{api.api_url}chat.postMessage", json={"channel": "C0CLINIC"}, headers=headers)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"


async def test_faults_can_be_server_errors_or_slack_errors_and_can_last(
    api: SlackApiSandbox, client: AsyncWebClient
) -> None:
    api.fail("views.open", error="expired_trigger_id")
    api.fail(status=503, times=None)

    assert (await refused(client.views_open(trigger_id="x", view=KEY_MODAL)))["error"] == "expired_trigger_id"
    for _ in range(2):
        with pytest.raises(SlackApiError) as caught:
            await client.auth_test()
        assert caught.value.response.status_code == 503
    api.clear_faults()
    assert (await client.auth_test())["ok"]


async def test_latency_delays_answers(api: SlackApiSandbox, client: AsyncWebClient) -> None:
    api.set_latency(0.2, "auth.test")
    loop = asyncio.get_running_loop()

    started = loop.time()
    await client.auth_test()

    assert loop.time() - started >= 0.2


# --- views -----------------------------------------------------------------------------------------------------


async def test_views_open_update_and_push_follow_the_trigger(
    api: SlackApiSandbox, client: AsyncWebClient, clock: FakeClock
) -> None:
    opened = (await client.views_open(trigger_id=api.issue_trigger("U0ADMIN"), view=KEY_MODAL))["view"]

    assert opened["id"]
    assert opened["hash"]
    assert opened["app_installed_team_id"] == "T0ALDENSE"
    assert opened["team_id"] == "T0CLINIC"
    assert api.open_view("U0ADMIN") is api.view(opened["id"])
    checking = {**KEY_MODAL, "blocks": [SECTION], "submit": None}
    updated = (await client.views_update(view_id=opened["id"], hash=opened["hash"], view=checking))["view"]
    assert updated["id"] == opened["id"]
    assert updated["hash"] != opened["hash"]
    stale = await refused(client.views_update(view_id=opened["id"], hash=opened["hash"], view=checking))
    assert stale["error"] == "hash_conflict"
    pushed = (await client.views_push(trigger_id=api.issue_trigger("U0ADMIN"), view=KEY_MODAL))["view"]
    assert pushed["previous_view_id"] == opened["id"]
    assert pushed["root_view_id"] == opened["id"]
    assert [v.id for v in api.modal_stack("U0ADMIN")] == [opened["id"], pushed["id"]]


async def test_views_update_by_external_id(api: SlackApiSandbox, client: AsyncWebClient) -> None:
    view = {**KEY_MODAL, "external_id": "guide:C0CLINIC:U0ADMIN"}
    await client.views_open(trigger_id=api.issue_trigger("U0ADMIN"), view=view)

    await client.views_update(external_id="guide:C0CLINIC:U0ADMIN", view={**view, "blocks": [SECTION]})

    shown = api.open_view("U0ADMIN")
    assert shown is not None
    assert shown.blocks[0]["text"]["text"] == "Step 1"
    again = await refused(client.views_open(trigger_id=api.issue_trigger("U0NURSE"), view=view))
    assert again["error"] == "duplicate_external_id"


async def test_trigger_ids_expire_after_three_seconds_and_work_once(
    api: SlackApiSandbox, client: AsyncWebClient, clock: FakeClock
) -> None:
    late = api.issue_trigger("U0ADMIN")
    clock.now += 3.5
    used = api.issue_trigger("U0ADMIN")
    await client.views_open(trigger_id=used, view=KEY_MODAL)

    assert (await refused(client.views_open(trigger_id=late, view=KEY_MODAL)))["error"] == "expired_trigger_id"
    assert (await refused(client.views_open(trigger_id=used, view=KEY_MODAL)))["error"] == "exchanged_trigger_id"
    assert (await refused(client.views_open(trigger_id="1.2.3", view=KEY_MODAL)))["error"] == "invalid_trigger_id"


async def test_invalid_views_are_refused_with_invalid_arguments(api: SlackApiSandbox, client: AsyncWebClient) -> None:
    bad = {**KEY_MODAL, "title": {"type": "plain_text", "text": "A title far too long for Slack"}}

    answer = await refused(client.views_open(trigger_id=api.issue_trigger("U0ADMIN"), view=bad))

    assert answer["error"] == "invalid_arguments"
    assert "title" in answer["errors"][0]
    assert api.open_view("U0ADMIN") is None


async def test_views_publish_keeps_one_home_per_user(api: SlackApiSandbox, client: AsyncWebClient) -> None:
    home = {"type": "home", "blocks": [SECTION]}

    first = (await client.views_publish(user_id="U0STAFF", view=home))["view"]
    second = (await client.views_publish(user_id="U0STAFF", view={**home, "blocks": [SECTION, SECTION]}))["view"]

    assert first["id"] == second["id"]
    assert len(second["blocks"]) == 2
    shown = api.home("U0STAFF")
    assert shown is not None
    assert shown.type == "home"
    assert api.home("U0ADMIN") is None
    modal = await refused(client.views_publish(user_id="U0STAFF", view=KEY_MODAL))
    assert modal["error"] == "invalid_arguments"


# --- response_url ----------------------------------------------------------------------------------------------


async def test_response_urls_answer_ephemerally_in_channel_or_in_place(
    api: SlackApiSandbox, client: AsyncWebClient, http: httpx.AsyncClient
) -> None:
    original = await client.chat_postMessage(channel="C0CLINIC", text="Start?", blocks=KICKOFF_BLOCKS)
    url = api.issue_response_url(channel="C0CLINIC", user="U0ADMIN", message_ts=original["ts"])

    assert (await http.post(url, json={"text": "Only you see this"})).text == "ok"
    assert (await http.post(url, json={"text": "Everyone", "response_type": "in_channel"})).text == "ok"
    assert (await http.post(url, json={"text": "Started", "replace_original": True})).text == "ok"

    assert [e.text for e in api.ephemeral("U0ADMIN")] == ["Only you see this"]
    assert [m.text for m in api.messages("C0CLINIC")] == ["Started", "Everyone"]
    assert [r.outcome for r in api.responses()] == ["ephemeral", "in_channel", "replaced"]
    await http.post(url, json={"delete_original": True})
    assert [m.text for m in api.messages("C0CLINIC")] == ["Everyone"]
    assert (await http.post(url, json={"text": "fifth"})).status_code == 200
    assert (await http.post(url, json={"text": "sixth"})).status_code == 404  # five uses, as in Slack


async def test_response_urls_validate_blocks(api: SlackApiSandbox, http: httpx.AsyncClient) -> None:
    url = api.issue_response_url(channel="C0CLINIC", user="U0ADMIN")

    response = await http.post(url, json={"text": "x", "blocks": [{"type": "sektion"}]})

    assert (response.status_code, response.text) == (400, "invalid_blocks")


def test_response_urls_need_a_served_sandbox() -> None:
    with pytest.raises(RuntimeError, match="not being served"):
        SlackApiSandbox().issue_response_url(channel="C0CLINIC", user="U0ADMIN")


# --- JSON endpoints for a browser page -------------------------------------------------------------------------


async def test_json_endpoints_show_what_users_see(
    api: SlackApiSandbox, client: AsyncWebClient, http: httpx.AsyncClient
) -> None:
    parent = await client.chat_postMessage(channel="C0CLINIC", text="parent")
    await client.chat_postMessage(channel="C0CLINIC", thread_ts=parent["ts"], text="reply")
    await client.views_open(trigger_id=api.issue_trigger("U0ADMIN"), view=KEY_MODAL)
    base = f"{api.url}/_sandbox"

    messages = (await http.get(f"{base}/channels/C0CLINIC/messages")).json()
    thread = (await http.get(f"{base}/channels/C0CLINIC/messages", params={"thread_ts": parent["ts"]})).json()
    views = (await http.get(f"{base}/users/U0ADMIN/views")).json()
    calls = (await http.get(f"{base}/calls", params={"method": "chat.postMessage"})).json()
    state = (await http.get(f"{base}/state")).json()

    assert [m["text"] for m in messages["messages"]] == ["parent"]
    assert messages["messages"][0]["reply_count"] == 1
    assert [m["text"] for m in thread["messages"]] == ["parent", "reply"]
    assert views["modals"][0]["callback_id"] == "key_modal"
    assert views["home"] is None
    assert len(calls["calls"]) == 2
    assert calls["calls"][0]["token"] == "…" + api.workspace.bot_token[-4:]
    assert state["version"] == api.version
    assert {c["id"] for c in state["channels"]} >= {"C0CLINIC", "C0ONBOARD"}


async def test_changes_can_be_long_polled(
    api: SlackApiSandbox, http: httpx.AsyncClient, client: AsyncWebClient
) -> None:
    since = api.version
    poll = asyncio.create_task(http.get(f"{api.url}/_sandbox/changes", params={"since": since, "wait": 5}))
    await asyncio.sleep(0.05)
    assert not poll.done()

    await client.chat_postMessage(channel="C0CLINIC", text="news")

    changes = (await asyncio.wait_for(poll, 2)).json()
    assert changes["version"] > since
    assert "message" in [c["kind"] for c in changes["changes"]]


async def test_faults_and_latency_can_be_set_over_http(api: SlackApiSandbox, http: httpx.AsyncClient) -> None:
    base = f"{api.url}/_sandbox"

    added = await http.post(f"{base}/faults", json={"method": "chat.update", "status": 429, "retry_after": 2})
    await http.post(f"{base}/latency", json={"seconds": 0.01})
    bad = await http.post(f"{base}/faults", json={"status": 200})

    assert added.json()["fault"]["method"] == "chat.update"
    assert bad.status_code == 400
    assert (await http.get(f"{base}/state")).json()["faults"][0]["retry_after"] == 2
    await http.delete(f"{base}/faults")
    assert (await http.get(f"{base}/state")).json()["faults"] == []


async def test_stopping_the_server_answers_pending_long_polls(http: httpx.AsyncClient) -> None:
    sandbox = SlackApiSandbox()
    loop = asyncio.get_running_loop()
    async with sandbox.serve() as url:
        poll = asyncio.create_task(http.get(f"{url}/_sandbox/changes", params={"since": 99, "wait": 10}))
        await asyncio.sleep(0.05)
        stopping = loop.time()

    assert (await poll).status_code == 200
    assert loop.time() - stopping < 2


async def test_bad_query_parameters_get_400(api: SlackApiSandbox, http: httpx.AsyncClient) -> None:
    response = await http.get(f"{api.url}/_sandbox/changes", params={"since": "soon"})

    assert response.status_code == 400
