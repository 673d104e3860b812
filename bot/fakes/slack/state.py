"""The sandbox's memory of what users see (messages, ephemerals, views), its triggers, and the change log."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Callable
from typing import Any

from bot.fakes.slack.ids import stable_id, with_ids
from bot.fakes.slack.records import (
    JSON,
    Change,
    Ephemeral,
    Message,
    MessageVersion,
    Trigger,
    View,
)
from bot.fakes.slack.workspace import Workspace


class State:
    """What users see and the ids handed out, shared by the sandbox's facade, Web API methods and response_urls.

    Every change, Web API calls included, is logged through :meth:`change`, which numbers it and wakes pollers. All
    of it is changed only between awaits, so it is consistent within one event loop.

    Args:
        workspace: The world.
        clock: Unix time source, for ``ts`` values, hashes and the change log.
        max_changes: How many change-log entries to keep for pollers.
    """

    def __init__(self, workspace: Workspace, clock: Callable[[], float], max_changes: int) -> None:
        self.workspace = workspace
        self.clock = clock
        self.seq = 0
        self.log: deque[Change] = deque(maxlen=max_changes)
        self.closing = False
        self.messages: dict[str, dict[str, Message]] = {}
        self.ephemeral: list[Ephemeral] = []
        self.views: dict[str, View] = {}
        self.stacks: dict[str, list[str]] = {}
        self.homes: dict[str, str] = {}
        self.triggers: dict[str, Trigger] = {}
        self._ids = itertools.count(1)
        self._last_micros = 0
        self._wakeup: asyncio.Event | None = None

    # -- numbering ---------------------------------------------------------------------------------------------

    def next_id(self) -> int:
        """The next number of the one counter behind trigger_ids, response_urls, view ids and view hashes."""
        return next(self._ids)

    def next_ts(self) -> str:
        """A fresh message ``ts``."""
        # Slack's ts is seconds.microseconds and unique per channel; keep it strictly increasing even when the
        # clock stands still (a fake clock) or steps back.
        micros = max(int(self.clock() * 1_000_000), self._last_micros + 1)
        self._last_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def new_hash(self, view_id: str) -> str:
        """A fresh ``hash`` for a view, as Slack issues on every change to it."""
        return f"{int(self.clock())}.{stable_id(f'{view_id}:{self.next_id()}')}"

    # -- the change log ----------------------------------------------------------------------------------------

    def change(self, kind: str, **data: Any) -> None:
        """Log a change and wake whoever waits for one."""
        self.seq += 1
        self.log.append(Change(self.seq, kind, self.clock(), data))
        self.wake()

    def wake(self) -> None:
        """Answer every pending :meth:`wait_for_change` now."""
        if self._wakeup is not None:
            self._wakeup.set()
            self._wakeup = None

    async def wait_for_change(self, since: int, timeout: float) -> int:  # noqa: ASYNC109 - a poll bound, not a deadline
        """Wait until :attr:`seq` passes ``since`` or ``timeout`` seconds go by; return it."""
        if self.seq > since or timeout <= 0 or self.closing:
            return self.seq
        if self._wakeup is None:
            self._wakeup = asyncio.Event()
        wakeup = self._wakeup
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout)
        return self.seq

    # -- messages ----------------------------------------------------------------------------------------------

    def channel_messages(self, channel: str, *, include_replies: bool = False) -> list[Message]:
        """Messages in a channel, oldest first: the top level only, unless ``include_replies``."""
        found = self.messages.get(channel, {}).values()
        return [m for m in found if not m.deleted and (include_replies or not m.is_reply or m.reply_broadcast)]

    def thread(self, channel: str, thread_ts: str) -> list[Message]:
        """A thread's parent (when it exists) followed by its replies, oldest first."""
        found = self.messages.get(channel, {}).values()
        return [m for m in found if not m.deleted and (m.ts == thread_ts or m.thread_ts == thread_ts)]

    def find_message(self, ts: str) -> Message | None:
        """Find a live message by ``ts`` in any channel."""
        for channel in self.messages.values():
            if ts in channel and not channel[ts].deleted:
                return channel[ts]
        return None

    def message_json(self, message: Message) -> JSON:
        """A message as Slack returns it in history and interaction payloads, with its thread summary."""
        data = message.to_slack()
        replies = [m for m in self.thread(message.channel, message.ts) if m.ts != message.ts]
        if replies and not message.is_reply:
            data |= {
                "thread_ts": message.ts,
                "reply_count": len(replies),
                "reply_users": sorted({m.user for m in replies}),
                "latest_reply": replies[-1].ts,
            }
        return data

    def store(self, message: Message) -> None:
        """Add a message to its channel."""
        self.messages.setdefault(message.channel, {})[message.ts] = message
        self.change("message", channel=message.channel, ts=message.ts, thread_ts=message.thread_ts)

    def edit(self, message: Message, text: str | None, blocks: list[JSON] | None) -> None:
        """Change a message's text and/or blocks, keeping what it said before in its ``edits``."""
        ts = self.next_ts()
        message.edits.append(MessageVersion(message.text, message.blocks, ts))
        if text is not None:
            message.text = text
        if blocks is not None:
            # Like Slack: omitted blocks are kept, an empty list removes them.
            message.blocks = with_ids(blocks, f"{message.channel}:{message.ts}:{ts}")
        self.change("message_updated", channel=message.channel, ts=message.ts)

    def add_ephemeral(
        self, channel: str, user: str, text: str | None, blocks: list[JSON] | None, thread_ts: str | None, source: str
    ) -> Ephemeral:
        """Show ``user`` a message only they see."""
        ts = self.next_ts()
        ephemeral = Ephemeral(channel, user, ts, text or "", with_ids(blocks or [], f"e:{ts}"), thread_ts, source)
        self.ephemeral.append(ephemeral)
        self.change("ephemeral", channel=channel, user=user, ts=ts)
        return ephemeral

    # -- views -------------------------------------------------------------------------------------------------

    def home(self, user: str) -> View | None:
        """The App Home view published for a user, if any."""
        view_id = self.homes.get(user)
        return self.views[view_id] if view_id else None

    def new_view(self, user: str, payload: JSON, *, root: str | None, previous: str | None) -> View:
        """Issue a view id for ``payload`` shown to ``user``, block and action ids filled in."""
        ws = self.workspace
        view_id = f"V{self.next_id():08d}"
        payload = {**payload, "blocks": with_ids(payload.get("blocks", []), view_id)}
        view = View(
            view_id,
            user,
            ws.user(user).team_id,  # a clinic user's view carries the clinic's team
            ws.app_id,
            ws.bot.bot_id or "",
            ws.installing_team_id,
            payload,
            self.new_hash(view_id),
            root or view_id,
            previous,
            payload.get("external_id") or None,
        )
        self.views[view_id] = view
        return view

    def replace_view(self, view: View, payload: JSON) -> None:
        """Show ``payload`` in place of a view, keeping its id and clearing its errors."""
        view.history.append(view.payload)
        view.payload = {**payload, "blocks": with_ids(payload.get("blocks", []), f"{view.id}:{view.hash}")}
        view.external_id = payload.get("external_id") or view.external_id
        view.hash = self.new_hash(view.id)
        view.errors = {}
        self.change("view_updated", user=view.user, view=view.id)

    def push_view(self, user: str, payload: JSON) -> View:
        """Put a new modal on top of the user's stack (the caller checks the stack's limit)."""
        stack = self.stacks.setdefault(user, [])
        view = self.new_view(user, payload, root=stack[0] if stack else None, previous=stack[-1] if stack else None)
        stack.append(view.id)
        self.change("view_pushed", user=user, view=view.id)
        return view
