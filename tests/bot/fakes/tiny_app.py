"""A tiny Bolt app with one listener of each kind, served over HTTP so the driver can be tested end to end."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SIGNING_SECRET = "sandbox-signing-secret"

REGION_OPTIONS: list[dict[str, Any]] = [
    {"text": {"type": "plain_text", "text": "UK & Ireland"}, "value": "uk"},
    {"text": {"type": "plain_text", "text": "Australia & New Zealand"}, "value": "au"},
]

KEY_MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "key_modal",
    "notify_on_close": True,
    "private_metadata": "C0CLINIC",
    "title": {"type": "plain_text", "text": "Dentally key"},
    "submit": {"type": "plain_text", "text": "Check"},
    "blocks": [
        {
            "type": "input",
            "block_id": "region",
            "label": {"type": "plain_text", "text": "Region"},
            "element": {"type": "static_select", "action_id": "region", "options": REGION_OPTIONS},
        },
        {
            "type": "input",
            "block_id": "key",
            "label": {"type": "plain_text", "text": "API key"},
            "element": {"type": "plain_text_input", "action_id": "key", "min_length": 4, "max_length": 80},
        },
        {
            "type": "actions",
            "block_id": "tools",
            "elements": [
                {"type": "button", "action_id": "detect", "text": {"type": "plain_text", "text": "Detect region"}}
            ],
        },
    ],
}

KICKOFF_BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "Let's connect Dentally (about 5 minutes)."}},
    {
        "type": "actions",
        "block_id": "kickoff",
        "elements": [
            {
                "type": "button",
                "action_id": "start",
                "value": "guide-1",
                "style": "primary",
                "text": {"type": "plain_text", "text": "Start Dentally setup"},
            },
            {"type": "button", "action_id": "post_reply", "text": {"type": "plain_text", "text": "Reply later"}},
            {"type": "button", "action_id": "replace", "text": {"type": "plain_text", "text": "Replace me"}},
        ],
    },
]


class TinyApp:
    """A Bolt ``AsyncApp`` whose listeners record what they saw and make the Web API calls a real bot would."""

    def __init__(self, api_url: str, token: str) -> None:
        self.client = AsyncWebClient(token=token, base_url=api_url)
        self.bolt = AsyncApp(client=self.client, signing_secret=SIGNING_SECRET, process_before_response=True)
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self.headers: list[dict[str, Any]] = []
        self.url = ""
        self._tasks: set[asyncio.Task[None]] = set()
        handler = AsyncSlackRequestHandler(self.bolt)

        async def endpoint(request: Request) -> Response:
            return await handler.handle(request)

        self.asgi = Starlette(routes=[Route("/slack/events", endpoint, methods=["POST"])])
        self._listen()

    def kinds(self) -> list[str]:
        """What the listeners saw, in order."""
        return [kind for kind, _ in self.seen]

    async def drain(self) -> None:
        """Wait for background work the listeners started."""
        await asyncio.gather(*self._tasks)

    def _later(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _listen(self) -> None:
        app = self.bolt

        @app.command("/aldense")
        async def command(ack: Any, command: dict[str, Any], respond: Any) -> None:
            self.seen.append(("command", command))
            if command["text"] == "respond":
                await ack()
                await respond(text="Answered through the response_url")
            else:
                await ack(f"You said: {command['text']}")

        @app.action("start")
        async def start(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
            await ack()
            self.seen.append(("start", body))
            await client.views_open(trigger_id=body["trigger_id"], view=KEY_MODAL)

        @app.action("post_reply")
        async def post_reply(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
            await ack()
            self.seen.append(("post_reply", body))
            container = body["container"]

            async def reply() -> None:
                await asyncio.sleep(0.05)  # like real work done after the ack
                await client.chat_postMessage(
                    channel=container["channel_id"], thread_ts=container["message_ts"], text="Step 1"
                )

            self._later(reply())

        @app.action("replace")
        async def replace(ack: Any, body: dict[str, Any], respond: Any) -> None:
            await ack()
            self.seen.append(("replace", body))
            await respond(replace_original=True, text="Replaced")

        @app.action("region")
        async def region(ack: Any, body: dict[str, Any]) -> None:
            await ack()
            self.seen.append(("region", body))

        @app.action("detect")
        async def detect(ack: Any, body: dict[str, Any]) -> None:
            await ack()
            self.seen.append(("detect", body))

        @app.view("key_modal")
        async def submitted(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
            self.seen.append(("submitted", body))
            key = view["state"]["values"]["key"]["key"]["value"]
            if key == "bogus":
                await ack(response_action="errors", errors={"no_such_block": "nope"})
            elif not key.startswith("sk_"):
                await ack(response_action="errors", errors={"key": "That does not look like a Dentally key"})
            elif key == "sk_update":
                checking = {**KEY_MODAL, "blocks": [KICKOFF_BLOCKS[0]], "submit": None}
                await ack(response_action="update", view=checking)
            else:
                await ack()

        @app.view_closed("key_modal")
        async def closed(ack: Any, body: dict[str, Any]) -> None:
            await ack()
            self.seen.append(("closed", body))

        @app.event("app_mention")
        async def mentioned(body: dict[str, Any], context: Any, request: Any) -> None:
            self.seen.append(("app_mention", body))
            self.headers.append(dict(request.headers))

        @app.event("member_joined_channel")
        async def joined(event: dict[str, Any], client: AsyncWebClient) -> None:
            self.seen.append(("joined", event))
            await client.chat_postMessage(channel=event["channel"], text="Welcome", blocks=KICKOFF_BLOCKS)

        @app.event("app_home_opened")
        async def home(event: dict[str, Any], client: AsyncWebClient) -> None:
            self.seen.append(("home", event))
            view = {"type": "home", "blocks": [KICKOFF_BLOCKS[0]]}
            await client.views_publish(user_id=event["user"], view=view)
