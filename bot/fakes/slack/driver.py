"""Plays the people in the sandbox: signs Slack-shaped requests, posts them to the bot, and applies Slack's side.

Errors the driver raises when a user could not do what a test asked::

    DriverError
    ├── CommandUnavailable   a clinic user types our slash command (Slack answers "not a valid command")
    ├── ElementNotFound      no such message, view or action_id where the user is looking (also a LookupError)
    ├── SubmissionBlocked    Slack's client refuses the modal (required field empty, too short or too long)
    └── AckRejected          the bot acked a view_submission with something Slack would refuse
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from bot.fakes.slack import payloads
from bot.fakes.slack.api import SlackApiSandbox
from bot.fakes.slack.records import ApiCall, Ephemeral, Message, View
from bot.fakes.slack.workspace import Workspace

JSON = dict[str, Any]
T = TypeVar("T")
ACK_DEADLINE = 3.0


class DriverError(Exception):
    """The driver would not do what was asked, because a Slack user could not."""


class CommandUnavailable(DriverError):
    """Slash commands belong to the installing team; external users cannot run them."""


class ElementNotFound(DriverError, LookupError):
    """The message, view or element is not where the user is looking."""


class SubmissionBlocked(DriverError):
    """Slack's client would block this submission before it reached the app."""


class AckRejected(DriverError):
    """The app acked a view submission with a response Slack would refuse."""

    def __init__(self, problems: list[str], delivery: Delivery) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.delivery = delivery


@dataclass(frozen=True)
class Delivery:
    """One request the driver sent the bot, and how the bot answered."""

    response: httpx.Response
    ack: Any
    payload: Mapping[str, Any]
    body: bytes
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)
    trigger_id: str | None = None
    response_url: str | None = None
    deadline: float = ACK_DEADLINE
    timestamp: int | None = None

    @property
    def status_code(self) -> int:
        """The HTTP status the bot answered with."""
        return self.response.status_code

    @property
    def late(self) -> bool:
        """Whether the bot answered after the deadline (Slack's 3 s), so Slack would have shown the user an error."""
        return self.response.elapsed.total_seconds() > self.deadline

    @property
    def event_id(self) -> str | None:
        """The ``event_id`` of an event delivery."""
        value = self.payload.get("event_id")
        return value if isinstance(value, str) else None


def _parse_ack(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def _mentions(message: Message, user: str) -> bool:
    return f"<@{user}>" in message.text or f"<@{user}>" in json.dumps(message.blocks)


class SlackDriver:
    """Acts for users against a bot served over HTTP, with the api sandbox standing in for Slack.

    Args:
        bot_url: The bot's base URL (``http://127.0.0.1:PORT``).
        signing_secret: The secret the bot verifies requests with.
        api: The served api sandbox (it issues trigger_ids and response_urls, and is what users "see").
        http: The client to post with.
        path: Where the bot takes Slack requests.
        clock: Unix time for signature timestamps and event times.
        ack_deadline: Seconds Slack waits for an answer; a later ack is ignored, as Slack ignores it.
    """

    def __init__(
        self,
        bot_url: str,
        signing_secret: str,
        api: SlackApiSandbox,
        http: httpx.AsyncClient,
        *,
        path: str = "/slack/events",
        clock: Callable[[], float] = time.time,
        ack_deadline: float = ACK_DEADLINE,
    ) -> None:
        self.url = bot_url.rstrip("/") + path
        self.ack_deadline = ack_deadline
        self.api = api
        self._secret = signing_secret
        self._http = http
        self._clock = clock

    @property
    def workspace(self) -> Workspace:
        """The world the api sandbox models."""
        return self.api.workspace

    # -- raw delivery ------------------------------------------------------------------------------------------

    async def deliver(
        self,
        body: bytes,
        content_type: str,
        *,
        headers: Mapping[str, str] | None = None,
        signing_secret: str | None = None,
        timestamp: int | None = None,
    ) -> httpx.Response:
        """Sign and post a raw body; pass another ``signing_secret`` or an old ``timestamp`` to forge.

        Args:
            body: The bytes to post.
            content_type: Its content type.
            headers: Extra headers (retry headers, say).
            signing_secret: Sign with this instead of the bot's secret.
            timestamp: Sign with this Unix time instead of the clock's.
        """
        stamp = int(self._clock()) if timestamp is None else timestamp
        signed = payloads.signature_headers(body, signing_secret or self._secret, stamp)
        sent = {"Content-Type": content_type, **signed, **(headers or {})}
        return await self._http.post(self.url, content=body, headers=sent)

    async def _send(
        self,
        payload: Mapping[str, Any],
        encoded: tuple[bytes, str],
        *,
        headers: Mapping[str, str] | None = None,
        trigger_id: str | None = None,
        response_url: str | None = None,
    ) -> Delivery:
        body, content_type = encoded
        stamp = int(self._clock())
        response = await self.deliver(body, content_type, headers=headers, timestamp=stamp)
        return Delivery(
            response,
            _parse_ack(response),
            payload,
            body,
            content_type,
            dict(headers or {}),
            trigger_id,
            response_url,
            self.ack_deadline,
            stamp,
        )

    async def replay(self, delivery: Delivery) -> httpx.Response:
        """Send a captured request again byte for byte, signature and timestamp included (what an attacker can)."""
        return await self.deliver(
            delivery.body, delivery.content_type, headers=delivery.headers, timestamp=delivery.timestamp
        )

    def _action_ts(self) -> str:
        return f"{self._clock():.6f}"

    # -- commands and interactions -----------------------------------------------------------------------------

    async def run_command(
        self, user: str, channel: str, command: str, text: str = "", *, escape: bool = True, force: bool = False
    ) -> Delivery:
        """Type a slash command, and show its ack's text (if any) the way Slack does.

        Args:
            user: Who types it.
            channel: Where.
            command: e.g. ``/aldense``.
            text: What follows the command; ``#channel`` and ``@user`` are escaped unless ``escape=False``.
            escape: Mirror the manifest's ``should_escape: true``.
            force: Send even for an external user (to test the bot's own guard).

        Raises:
            CommandUnavailable: for an external user without ``force``.
        """
        ws = self.workspace
        if ws.is_external(user) and not force:
            raise CommandUnavailable(f"{command} is not a valid command for {user} of team {ws.user(user).team_id}")
        where = ws.channel(channel)
        trigger_id = self.api.issue_trigger(user)
        response_url = self.api.issue_response_url(channel=where.id, user=user)
        fields = payloads.slash_command(
            ws,
            user=ws.user(user),
            channel=where,
            command=command,
            text=payloads.escape_command_text(ws, text) if escape else text,
            response_url=response_url,
            trigger_id=trigger_id,
        )
        delivery = await self._send(
            fields, payloads.command_body(fields), trigger_id=trigger_id, response_url=response_url
        )
        if delivery.status_code == 200 and delivery.ack and not delivery.late:
            reply = delivery.ack if isinstance(delivery.ack, dict) else {"text": str(delivery.ack)}
            self.api.apply_response(response_url.rsplit("/", 1)[1], reply, source="ack")
        return delivery

    def _find_message(self, user: str, message: Message | Ephemeral | str) -> Message | Ephemeral:
        if isinstance(message, Message | Ephemeral):
            return message
        found: Message | Ephemeral | None = self.api.find_message(message)
        if found is None:
            found = next((e for e in self.api.ephemeral(user) if e.ts == message), None)
        if found is None:
            raise ElementNotFound(f"no message with ts {message} is visible to {user}")
        return found

    async def click(
        self, user: str, message: Message | Ephemeral | str, action_id: str, *, value: Any = None
    ) -> Delivery:
        """Click a button (or pick ``value`` in a select, overflow or radio group) in a message.

        Args:
            user: Who clicks.
            message: The message, an ephemeral message, or a ts.
            action_id: The element's ``action_id``.
            value: The option value to pick, for elements that are not buttons.

        Raises:
            ElementNotFound: if the user cannot see the message or it has no such element.
        """
        ws = self.workspace
        target = self._find_message(user, message)
        channel = ws.channel(target.channel)
        is_ephemeral = isinstance(target, Ephemeral)
        if (is_ephemeral and target.user != user) or user not in channel.members or target.deleted:
            raise ElementNotFound(f"{user} cannot see message {target.ts} in {channel.id}")
        found = payloads.find_action(target.blocks, action_id)
        if found is None:
            raise ElementNotFound(
                f"message {target.ts} has no {action_id!r}; it has {payloads.action_ids(target.blocks)}"
            )
        block_id, element = found
        thread_ts = target.thread_ts if target.thread_ts and target.thread_ts != target.ts else None
        trigger_id = self.api.issue_trigger(user)
        response_url = self.api.issue_response_url(
            channel=channel.id, user=user, message_ts=target.ts, thread_ts=thread_ts, is_ephemeral=is_ephemeral
        )
        payload = payloads.block_actions(
            ws,
            user=ws.user(user),
            channel=channel,
            message_ts=target.ts,
            action=payloads.action_item(element, block_id, self._action_ts(), value),
            trigger_id=trigger_id,
            response_url=response_url,
            message=None if isinstance(target, Ephemeral) else self.api.message_json(target),
            thread_ts=thread_ts,
            posted_by=None if isinstance(target, Ephemeral) else target.team,
        )
        return await self._send(
            payload, payloads.interactivity_body(payload), trigger_id=trigger_id, response_url=response_url
        )

    def _find_view(self, user: str, view: View | str | None) -> View:
        if view is None:
            found = self.api.open_view(user)
            if found is None:
                raise ElementNotFound(f"{user} has no modal open")
            return found
        found = view if isinstance(view, View) else self.api.view(view)
        visible = [v.id for v in self.api.modal_stack(user)[-1:]] + [h.id for h in [self.api.home(user)] if h]
        if found.user != user or found.id not in visible:
            raise ElementNotFound(f"{user} is not looking at view {found.id}")
        return found

    async def click_in_view(
        self,
        user: str,
        view: View | str | None,
        action_id: str,
        *,
        value: Any = None,
        values: Mapping[str, Any] | None = None,
    ) -> Delivery:
        """Click (or pick ``value`` in) an element of the user's open modal or App Home.

        Args:
            user: Who clicks.
            view: The view, its id, or ``None`` for the modal on top.
            action_id: The element's ``action_id``.
            value: The option value to pick, for elements that are not buttons.
            values: Input typed beforehand, ``{block_id: {action_id: value}}``.
        """
        ws = self.workspace
        target = self._find_view(user, view)
        found = payloads.find_action(target.blocks, action_id)
        if found is None:
            raise ElementNotFound(f"view {target.id} has no {action_id!r}; it has {payloads.action_ids(target.blocks)}")
        self.api.set_view_state(target.id, payloads.state_values(target.blocks, target.state_values, values or {}))
        trigger_id = self.api.issue_trigger(user)
        payload = payloads.view_block_actions(
            ws,
            user=ws.user(user),
            view=target.to_slack(),
            action=payloads.action_item(found[1], found[0], self._action_ts(), value),
            trigger_id=trigger_id,
        )
        return await self._send(payload, payloads.interactivity_body(payload), trigger_id=trigger_id)

    async def submit_view(
        self,
        user: str,
        view: View | str | None = None,
        values: Mapping[str, Any] | None = None,
        *,
        client_checks: bool = True,
    ) -> Delivery:
        """Fill in and submit a modal, then apply the bot's ack (close, update, push, clear or show errors).

        Args:
            user: Who submits.
            view: The modal, its id, or ``None`` for the one on top.
            values: ``{block_id: {action_id: value}}`` (or ``{block_id: value}`` for a one-element block); text for
                text inputs, the option ``value`` for selects and radio buttons.
            client_checks: Refuse, as Slack's client does, empty required inputs and text outside min/max length.

        Raises:
            SubmissionBlocked: if the client checks fail.
            AckRejected: if the bot answered with a response Slack would refuse.
        """
        ws = self.workspace
        target = self._find_view(user, view)
        if target.type != "modal":
            raise ElementNotFound(f"view {target.id} is an App Home, which cannot be submitted")
        state = payloads.state_values(target.blocks, target.state_values, values or {})
        if client_checks:
            _check_inputs(target.blocks, state)
        self.api.set_view_state(target.id, state)
        trigger_id = self.api.issue_trigger(user)
        payload = payloads.view_submission(ws, user=ws.user(user), view=target.to_slack(), trigger_id=trigger_id)
        delivery = await self._send(payload, payloads.interactivity_body(payload), trigger_id=trigger_id)
        # Slack ignores a late or failed ack and leaves the modal open with an error.
        if delivery.status_code == 200 and not delivery.late:
            problems = self.api.apply_view_ack(target.id, delivery.ack)
            if problems:
                raise AckRejected(problems, delivery)
        return delivery

    async def close_view(self, user: str, view: View | str | None = None, *, clear: bool = False) -> Delivery | None:
        """Close a modal (``clear`` closes the whole stack); the bot hears of it only with ``notify_on_close``."""
        target = self._find_view(user, view)
        self.api.close_view(target.id, clear=clear)
        if not target.payload.get("notify_on_close"):
            return None
        ws = self.workspace
        payload = payloads.view_closed(ws, user=ws.user(user), view=target.to_slack(), is_cleared=clear)
        return await self._send(payload, payloads.interactivity_body(payload))

    # -- events ------------------------------------------------------------------------------------------------

    async def send_event(
        self,
        event: JSON,
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
    ) -> Delivery:
        """Deliver any inner event in an Events API envelope (channel and actor read from the event).

        Args:
            event: The inner event (``event["channel"]`` and ``event["user"]`` shape the envelope).
            event_id: Reuse an id to imitate Slack re-sending; a fresh one by default.
            retry_num: Add ``X-Slack-Retry-Num``/``X-Slack-Retry-Reason``.
            retry_reason: The retry reason.
        """
        ws = self.workspace
        channel = ws.channels.get(str(event.get("channel", "")))
        actor = ws.users.get(str(event.get("user", "")))
        envelope = payloads.event_callback(
            ws,
            event,
            # Unique across drivers (several may serve one sandbox, one per replica), as Slack's ids are.
            event_id=event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            event_time=int(self._clock()),
            channel=channel,
            actor_team_id=actor.team_id if actor else None,
        )
        headers = payloads.retry_headers(retry_num, retry_reason) if retry_num else None
        return await self._send(envelope, payloads.json_body(envelope), headers=headers)

    async def redeliver(
        self, delivery: Delivery, *, retry_num: int = 1, retry_reason: str = "http_timeout"
    ) -> Delivery:
        """Send an earlier event again, same body and ``event_id``, as Slack's retry ``retry_num``."""
        headers = payloads.retry_headers(retry_num, retry_reason)
        return await self._send(delivery.payload, (delivery.body, delivery.content_type), headers=headers)

    async def post_message(self, user: str, channel: str, text: str, *, thread_ts: str | None = None) -> Delivery:
        """Have a person post a message (it appears in the channel) and deliver the ``message`` event."""
        ws = self.workspace
        message = self.api.post_as_user(user, channel, text, thread_ts=thread_ts)
        event = payloads.message_event(
            user=ws.user(user), channel=ws.channel(channel), text=text, ts=message.ts, thread_ts=thread_ts
        )
        return await self.send_event(event)

    async def mention(self, user: str, channel: str, text: str, *, thread_ts: str | None = None) -> Delivery:
        """Have a person @-mention the bot: Slack delivers ``app_mention`` and, to an app subscribed to
        ``message.channels``/``message.groups`` (ours is), the ``message`` event of the same message too.

        Returns:
            The ``app_mention`` delivery.
        """
        ws = self.workspace
        mention = f"<@{ws.bot_user_id}>"
        text = text if mention in text else f"{mention} {text}"
        message = self.api.post_as_user(user, channel, text, thread_ts=thread_ts)
        event = payloads.message_event(
            user=ws.user(user), channel=ws.channel(channel), text=text, ts=message.ts, thread_ts=thread_ts, mention=True
        )
        delivered = await self.send_event(event)
        plain = payloads.message_event(
            user=ws.user(user), channel=ws.channel(channel), text=text, ts=message.ts, thread_ts=thread_ts
        )
        await self.send_event(plain)
        return delivered

    async def edit_message(self, user: str, channel: str, ts: str, text: str) -> Delivery:
        """Have a person edit their message and deliver the ``message_changed`` event (which the bot ignores)."""
        ws = self.workspace
        message = next(m for m in self.api.messages(channel, include_replies=True) if m.ts == ts)
        old = message.text
        message.text = text
        event = payloads.message_changed_event(
            user=ws.user(user),
            channel=ws.channel(channel),
            ts=ts,
            old_text=old,
            new_text=text,
            edit_ts=self._action_ts(),
        )
        return await self.send_event(event)

    async def echo_bot_message(self, channel: str, ts: str) -> Delivery:
        """Deliver the ``message`` event Slack sends for one of the bot's own posts (``bot_id`` set)."""
        ws = self.workspace
        message = next(m for m in self.api.messages(channel, include_replies=True) if m.ts == ts)
        event = payloads.bot_message_event(
            bot=ws.user(ws.bot_user_id),
            app_id=ws.app_id,
            channel=ws.channel(channel),
            text=message.text,
            ts=message.ts,
            thread_ts=message.thread_ts,
        )
        return await self.send_event(event)

    async def join_channel(self, user: str, channel: str, *, inviter: str | None = None) -> Delivery:
        """Add a person to a channel and deliver ``member_joined_channel`` (and the ``channel_join`` message)."""
        ws = self.workspace
        self.api.add_member(channel, user)
        event = payloads.member_joined_channel_event(
            user=ws.user(user), channel=ws.channel(channel), event_ts=self._action_ts(), inviter=inviter
        )
        delivered = await self.send_event(event)
        joined = payloads.channel_join_event(user=ws.user(user), channel=ws.channel(channel), ts=self._action_ts())
        await self.send_event(joined)
        return delivered

    async def open_home(self, user: str) -> Delivery:
        """Have a person open the app's Home tab (``app_home_opened``, with the published view if any)."""
        ws = self.workspace
        home = self.api.home(user)
        event = payloads.app_home_opened_event(
            user=ws.user(user),
            channel=ws.im_channel(user),
            event_ts=self._action_ts(),
            view=home.to_slack() if home else None,
        )
        return await self.send_event(event)

    async def url_verification(self, challenge: str = "sandbox-challenge") -> Delivery:
        """Send Slack's ``url_verification`` handshake."""
        payload = payloads.url_verification(self.workspace, challenge)
        return await self._send(payload, payloads.json_body(payload))

    # -- waiting and looking -----------------------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[], T | Awaitable[T]], timeout: float = 5.0) -> T:  # noqa: ASYNC109
        """Wait until ``predicate()`` returns something truthy, and return it.

        The bot answers Slack first and calls the Web API afterwards, so tests wait for the calls' effects. The
        predicate is re-checked whenever the api sandbox changes (and at least every 50 ms).

        Raises:
            TimeoutError: after ``timeout`` seconds, listing the last Web API calls.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            since = self.api.version
            outcome = predicate()
            result = await outcome if inspect.isawaitable(outcome) else outcome
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = [f"{c.method} ok={c.ok} {c.error or ''}".strip() for c in self.api.calls()[-10:]]
                raise TimeoutError(f"condition not met within {timeout}s; last Web API calls: {recent}")
            await self.api.wait_for_change(since, min(remaining, 0.05))

    def messages(self, channel: str) -> list[Message]:
        """Top-level messages in a channel, oldest first."""
        return self.api.messages(channel)

    def thread(self, channel: str, thread_ts: str) -> list[Message]:
        """A thread's parent and replies, oldest first."""
        return self.api.thread(channel, thread_ts)

    def user_thread(self, channel: str, user: str) -> list[Message]:
        """The newest thread whose top-level bot message mentions ``user`` (their guide), parent first."""
        bot = self.workspace.bot_user_id
        parents = [m for m in self.api.messages(channel) if m.user == bot and _mentions(m, user)]
        return self.api.thread(channel, parents[-1].ts) if parents else []

    def latest_in_user_thread(self, channel: str, user: str) -> Message | None:
        """The newest reply in the user's guide thread (see :meth:`user_thread`), if any."""
        thread = self.user_thread(channel, user)
        return thread[-1] if len(thread) > 1 else None

    def ephemeral(self, user: str, channel: str | None = None) -> list[Ephemeral]:
        """Ephemeral messages shown to a user, oldest first."""
        return self.api.ephemeral(user, channel)

    def open_view(self, user: str) -> View | None:
        """The modal on top of the user's stack, if any."""
        return self.api.open_view(user)

    def home(self, user: str) -> View | None:
        """The user's App Home view, if published."""
        return self.api.home(user)

    def calls(self, method: str | None = None) -> list[ApiCall]:
        """Recorded Web API calls (of one method)."""
        return self.api.calls(method)


def _check_inputs(blocks: list[JSON], state: JSON) -> None:
    """Refuse what Slack's client refuses before sending: empty required inputs, text outside min/max length."""
    for block in blocks:
        element = block.get("element")
        if block.get("type") != "input" or not isinstance(element, dict):
            continue
        entry = state.get(str(block.get("block_id")), {}).get(str(element.get("action_id")), {})
        chosen = [v for k, v in entry.items() if k != "type" and v not in (None, "", [])]
        label = block.get("label", {}).get("text", block.get("block_id"))
        if not chosen:
            if not block.get("optional"):
                raise SubmissionBlocked(f"{label!r} is required")
            continue
        text = entry.get("value")
        if isinstance(text, str):
            if len(text) < int(element.get("min_length", 0)):
                raise SubmissionBlocked(f"{label!r} needs at least {element['min_length']} characters")
            if len(text) > int(element.get("max_length", 3000)):
                raise SubmissionBlocked(f"{label!r} allows at most {element['max_length']} characters")
