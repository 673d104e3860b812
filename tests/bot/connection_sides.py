"""Two clinic users and Aldense staff around one clinic's Dentally connection, written once per platform.

``ClinicSide`` drives a real bot over signed HTTP through each platform's stand-in (the Slack sandbox and driver, or
the Teams connector and activity driver) and reads back what each person sees; support always lives in Slack, so
``Staff`` clicks there for both.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from bot.fakes.slack import SlackApiSandbox, SlackDriver
from bot.fakes.slack.api import Message
from bot.fakes.teams.connector import Sent
from bot.fakes.teams.driver import dialog_card
from bot.slack import blocks, modals
from bot.slack.support import blocks as support_blocks
from tests.bot.harness import ADMIN, CLINIC, NURSE, ONBOARDING, SIGNING_SECRET, STAFF, message_text
from tests.bot.platform_worlds import PlatformWorld, SlackWorld, TeamsWorldView, is_opener

KEY_BUTTONS = ("Enter the key privately", "Try another key", "Use another key")
PEOPLE = ("jane", "priya")


@dataclass(frozen=True, slots=True)
class Said:
    """A message as one person sees it now: its text and the labels of its live buttons."""

    ref: str
    text: str
    buttons: tuple[str, ...]


Later = Callable[[], Awaitable[str]]


class ClinicSide(Protocol):
    """Jane and Priya in one clinic channel on one platform."""

    world: PlatformWorld

    def person(self, who: str) -> str:
        """How the clinic's messages name ``who`` (a mention on Slack, the display name on Teams)."""
        ...

    def user_id(self, who: str) -> str:
        """``who``'s platform user id (as conversation keys and the connection record hold it)."""
        ...

    async def start(self, who: str) -> None:
        """``who`` presses Start on the kick-off."""
        ...

    async def walk_to_key_step(self, who: str) -> None:
        """``who`` starts a guide and presses Done up to the key step."""
        ...

    async def enter_key(self, who: str, key: str, region: str) -> str:
        """``who`` opens the key form from their newest key button, submits; returns what the form showed after."""
        ...

    async def form_region(self, who: str) -> str:
        """Opens the key form from ``who``'s newest key button and returns the region it starts with."""
        ...

    async def open_key_form_late(self, who: str, ref: str, label: str) -> Later:
        """``who`` clicks ``label`` on ``ref`` now (the form opens, and is left); the returned call clicks the same
        button again later, as a client still showing the old message would. It returns what the person was shown.
        """
        ...

    def openers(self, who: str) -> list[str]:
        """The texts of the top-level messages that open ``who``'s guides, oldest first."""
        ...

    def thread(self, who: str) -> list[Said]:
        """The bot's replies in ``who``'s guide thread, oldest first."""
        ...

    def notes(self, who: str) -> list[Said]:
        """What the bot told only ``who``, oldest first."""
        ...

    def in_channel(self, label: str) -> Said | None:
        """The newest top-level message of the bot in the clinic channel with a ``label`` button."""
        ...

    async def press(self, who: str, said: Said, label: str) -> None:
        """``who`` presses ``label`` on a message or a private note."""
        ...

    def press_late(self, who: str, said: Said, label: str) -> Later:
        """A press of ``label`` on ``said`` as it reads now, sent when the returned call runs (whatever the bot
        edits meanwhile); that call returns what ``who`` was then told privately.
        """
        ...


def _labels(message_blocks: list[dict[str, Any]] | None) -> tuple[str, ...]:
    labels = []
    for block in message_blocks or []:
        for element in block.get("elements") or []:
            if element.get("type") == "button":
                labels.append(str(element["text"]["text"]))
    return tuple(labels)


def _action_id(message_blocks: list[dict[str, Any]] | None, label: str) -> str:
    for block in message_blocks or []:
        for element in block.get("elements") or []:
            if element.get("type") == "button" and element["text"]["text"] == label:
                return str(element["action_id"])
    raise AssertionError(f"no button {label!r}")


class SlackSide:
    """The clinic on Slack: Jane is ``U0ADMIN``, Priya ``U0NURSE``."""

    def __init__(self, world: SlackWorld) -> None:
        self.world = world
        self.driver = world.driver
        self._ids = {"jane": ADMIN, "priya": NURSE}

    def person(self, who: str) -> str:
        return f"<@{self._ids[who]}>"

    def user_id(self, who: str) -> str:
        return self._ids[who]

    def _kickoff(self) -> Message:
        bot = self.world.api.workspace.bot_user_id
        return next(
            m for m in self.world.api.messages(CLINIC) if m.user == bot and blocks.ACTION_START in _labels_ids(m)
        )

    async def start(self, who: str) -> None:
        await self.driver.click(self._ids[who], self._kickoff(), blocks.ACTION_START)

    async def walk_to_key_step(self, who: str) -> None:
        await self.start(who)
        guide = self.world.runtime.guide
        for index in range(guide.step_count - 1):
            step = await self.driver.wait_for(lambda i=index: self._live_step(who, i))
            await self.driver.click(self._ids[who], step, blocks.ACTION_DONE)
        await self.driver.wait_for(lambda: self._live_step(who, guide.step_count - 1))

    def _live_step(self, who: str, index: int) -> Message | None:
        total = self.world.runtime.guide.step_count
        for message in self.driver.user_thread(CLINIC, self._ids[who])[1:]:
            if f"Step {index + 1} of {total}" in message_text(message) and blocks.ACTION_STUCK in _labels_ids(message):
                return message
        return None

    def _newest_key_button(self, who: str) -> tuple[Message, str]:
        for message in reversed(self.driver.user_thread(CLINIC, self._ids[who])[1:]):
            for label in KEY_BUTTONS:
                if label in _labels(message.blocks):
                    return message, label
        raise AssertionError(f"{who} has no key button in their thread")

    async def _open_form(self, who: str, message: Message, label: str) -> None:
        user = self._ids[who]
        await self.driver.click(user, message, _action_id(message.blocks, label))
        await self.driver.wait_for(lambda: (v := self.driver.open_view(user)) and v.callback_id == modals.KEY_VIEW)

    async def enter_key(self, who: str, key: str, region: str) -> str:
        user = self._ids[who]
        message, label = self._newest_key_button(who)
        await self._open_form(who, message, label)
        await self.driver.submit_view(
            user,
            None,
            {modals.BLOCK_KEY: {modals.ACTION_KEY: key}, modals.BLOCK_REGION: {modals.ACTION_REGION: region}},
        )

        def settled() -> str | None:
            view = self.driver.open_view(user)
            shown = json.dumps(view.payload, ensure_ascii=False) if view else ""
            return shown if view and "Checking with Dentally" not in shown else None

        shown = await self.driver.wait_for(settled, timeout=10)
        await self.world.idle()
        await self.driver.close_view(user)
        return shown

    async def form_region(self, who: str) -> str:
        user = self._ids[who]
        message, label = self._newest_key_button(who)
        await self._open_form(who, message, label)
        view = self.driver.open_view(user)
        assert view is not None
        region = next(b for b in view.payload["blocks"] if b.get("block_id") == modals.BLOCK_REGION)
        await self.driver.close_view(user)
        return str(region["element"]["initial_option"]["value"])

    async def open_key_form_late(self, who: str, ref: str, label: str) -> Later:
        user = self._ids[who]
        message = next(m for m in self.driver.user_thread(CLINIC, user) if m.ts == ref)
        # The message as this person's client still shows it, whatever the bot edits later.
        shown = dataclasses.replace(message, blocks=copy.deepcopy(message.blocks), edits=[])
        action = _action_id(message.blocks, label)
        await self.driver.click(user, shown, action)
        await self.driver.wait_for(lambda: self.driver.open_view(user))
        await self.driver.close_view(user)

        async def again() -> str:
            before = len(self.driver.ephemeral(user, CLINIC))
            await self.driver.click(user, shown, action)
            told = await self.driver.wait_for(lambda: self.driver.ephemeral(user, CLINIC)[before:])
            await self.world.idle()
            view = self.driver.open_view(user)
            assert view is None or view.callback_id != modals.KEY_VIEW, "the key form opened again"
            return told[-1].text

        return again

    def press_late(self, who: str, said: Said, label: str) -> Later:
        user = self._ids[who]
        message = next(m for m in self.driver.user_thread(CLINIC, user) if m.ts == said.ref)
        shown = dataclasses.replace(message, blocks=copy.deepcopy(message.blocks), edits=[])
        action = _action_id(message.blocks, label)

        async def later() -> str:
            before = len(self.driver.ephemeral(user, CLINIC))
            await self.driver.click(user, shown, action)
            told = await self.driver.wait_for(lambda: self.driver.ephemeral(user, CLINIC)[before:])
            return told[-1].text

        return later

    def openers(self, who: str) -> list[str]:
        bot, user = self.world.api.workspace.bot_user_id, self._ids[who]
        return [
            message_text(m)
            for m in self.world.api.messages(CLINIC)
            if m.user == bot and is_opener(m.text) and f"<@{user}>" in m.text
        ]

    def thread(self, who: str) -> list[Said]:
        return [
            Said(m.ts, message_text(m), _labels(m.blocks)) for m in self.driver.user_thread(CLINIC, self._ids[who])[1:]
        ]

    def notes(self, who: str) -> list[Said]:
        return [Said(e.ts, e.text, _labels(e.blocks)) for e in self.driver.ephemeral(self._ids[who], CLINIC)]

    def in_channel(self, label: str) -> Said | None:
        found = [m for m in self.world.api.messages(CLINIC) if label in _labels(m.blocks)]
        return Said(found[-1].ts, message_text(found[-1]), _labels(found[-1].blocks)) if found else None

    async def press(self, who: str, said: Said, label: str) -> None:
        user = self._ids[who]
        found = (
            next((e for e in self.driver.ephemeral(user, CLINIC) if e.ts == said.ref), None)
            or next((m for m in self.driver.user_thread(CLINIC, user) if m.ts == said.ref), None)
            or next(m for m in self.world.api.messages(CLINIC) if m.ts == said.ref)
        )
        await self.driver.click(user, found, _action_id(found.blocks, label))


def _labels_ids(message: Message) -> list[str]:
    ids = []
    for block in message.blocks or []:
        for element in block.get("elements") or []:
            if "action_id" in element:
                ids.append(str(element["action_id"]))
    return ids


class TeamsSide:
    """The clinic on Teams: Jane is the sandbox's ``admin``, Priya its ``nurse``."""

    def __init__(self, world: TeamsWorldView) -> None:
        self.world = world
        self.driver = world.driver
        self.where = world.where
        self._keys = {"jane": "admin", "priya": "nurse"}

    def _member(self, who: str) -> Any:
        return self.driver.world.member(self._keys[who])

    def person(self, who: str) -> str:
        return str(self._member(who).name)

    def user_id(self, who: str) -> str:
        return str(self._member(who).aad_object_id)

    def _kickoff(self) -> Sent:
        return next(m for m in self.driver.in_conversation(self.where) if "Start Dentally setup" in m.titles)

    async def start(self, who: str) -> None:
        response = await self.driver.click(self._keys[who], self.where, self._kickoff(), "Start Dentally setup")
        assert response.status_code == 200

    def _openers(self, who: str) -> list[Sent]:
        name = self.person(who)
        return [
            m
            for m in self.driver.in_conversation(self.where)
            if m.thread is None and m.targeted_to is None and is_opener(m.text) and name in m.text
        ]

    def _opener(self, who: str) -> Sent | None:
        openers = self._openers(who)
        return openers[-1] if openers else None

    def openers(self, who: str) -> list[str]:
        return [m.text for m in self._openers(who)]

    def _replies(self, who: str) -> list[Sent]:
        opener = self._opener(who)
        if opener is None:
            return []
        return [m for m in self.driver.connector.messages(self.where.id, opener.id) if m.targeted_to is None]

    async def walk_to_key_step(self, who: str) -> None:
        await self.start(who)
        guide = self.world.runtime.guide
        for index in range(guide.step_count - 1):
            step = await self.driver.wait_for(lambda i=index: self._live_step(who, i))
            await self.driver.click(self._keys[who], self.where, step, "Done, next step")
        await self.driver.wait_for(lambda: self._live_step(who, guide.step_count - 1))

    def _live_step(self, who: str, index: int) -> Sent | None:
        total = self.world.runtime.guide.step_count
        return next(
            (m for m in self._replies(who) if f"Step {index + 1} of {total}" in m.text and "I'm stuck" in m.titles),
            None,
        )

    def _newest_key_button(self, who: str) -> tuple[Sent, str]:
        for sent in reversed(self._replies(who)):
            for label in KEY_BUTTONS:
                if label in sent.titles:
                    return sent, label
        raise AssertionError(f"{who} has no key button in their conversation")

    async def enter_key(self, who: str, key: str, region: str) -> str:
        sent, label = self._newest_key_button(who)
        opened = await self.driver.click(self._keys[who], self.where, sent, label)
        answered = await self.driver.submit_dialog(
            self._keys[who], self.where, opened.json(), {"api_key": key, "region": region}, sent.thread or sent.id
        )
        await self.world.idle()
        return json.dumps(dialog_card(answered.json()), ensure_ascii=False)

    async def form_region(self, who: str) -> str:
        sent, label = self._newest_key_button(who)
        opened = await self.driver.click(self._keys[who], self.where, sent, label)
        form = dialog_card(opened.json())
        return str(next(e for e in form["body"] if e.get("id") == "region")["value"])

    async def open_key_form_late(self, who: str, ref: str, label: str) -> Later:
        sent = self.driver.connector.sent[ref]
        data = dict((sent.action(label) or {}).get("data") or {})
        thread = sent.thread or sent.id
        first = await self.driver.click(self._keys[who], self.where, sent, label)
        assert "api_key" in json.dumps(first.json())

        async def again() -> str:
            invoke = self.driver.activity(
                "invoke", self._keys[who], self.where, thread, name="task/fetch", value={"data": data}
            )
            answered = await self.driver.post(invoke)
            shown = json.dumps(dialog_card(answered.json()), ensure_ascii=False)
            assert "api_key" not in shown, "the key form opened again"
            return shown

        return again

    def press_late(self, who: str, said: Said, label: str) -> Later:
        sent = self.driver.connector.sent[said.ref]
        data = dict((sent.action(label) or {}).get("data") or {})
        thread = sent.thread or sent.id

        async def later() -> str:
            before = len(self.notes(who))
            submit = self.driver.activity(
                "message", self._keys[who], self.where, thread, value=data, replyToId=sent.id, text=""
            )
            assert (await self.driver.post(submit)).status_code == 200
            told = await self.driver.wait_for(lambda: self.notes(who)[before:])
            return told[-1].text

        return later

    def thread(self, who: str) -> list[Said]:
        return [Said(m.id, m.text, tuple(m.titles)) for m in self._replies(who)]

    def notes(self, who: str) -> list[Said]:
        account = self._member(who).account_id
        return [
            Said(m.id, m.text, tuple(m.titles))
            for m in self.driver.in_conversation(self.where)
            if m.targeted_to == account
        ]

    def in_channel(self, label: str) -> Said | None:
        found = [m for m in self.driver.in_conversation(self.where) if m.thread is None and label in m.titles]
        return Said(found[-1].id, found[-1].text, tuple(found[-1].titles)) if found else None

    async def press(self, who: str, said: Said, label: str) -> None:
        sent = self.driver.connector.sent[said.ref]
        response = await self.driver.click(self._keys[who], self.where, sent, label)
        assert response.status_code == 200


def side_of(world: PlatformWorld) -> ClinicSide:
    """The clinic side of ``world``."""
    if isinstance(world, SlackWorld):
        return SlackSide(world)
    assert isinstance(world, TeamsWorldView)
    return TeamsSide(world)


class Staff:
    """Aldense support in Slack (for clinics of every platform): the held-key alert and the status card."""

    def __init__(self, api: SlackApiSandbox, driver: SlackDriver) -> None:
        self.api = api
        self.driver = driver

    def thread_messages(self) -> list[Message]:
        return [m for parent in self.api.messages(ONBOARDING) for m in self.api.thread(ONBOARDING, parent.ts)[1:]]

    def thread_texts(self) -> list[str]:
        return [message_text(m) for m in self.thread_messages()]

    def card(self) -> Message:
        cards = [m for m in self.api.messages(ONBOARDING) if m.blocks and "card:outcome" in json.dumps(m.blocks)]
        assert len(cards) == 1, [message_text(c) for c in cards]
        return cards[0]

    def card_outcome(self) -> str:
        block = next(b for b in self.card().blocks or [] if b.get("block_id") == "card:outcome")
        return str(block["text"]["text"])

    def card_people(self) -> str:
        block = next(b for b in self.card().blocks or [] if b.get("block_id") == "card:people")
        return str(block["text"]["text"])

    async def held_alert(self) -> Message:
        def found() -> Message | None:
            return next((m for m in self.thread_messages() if support_blocks.ACTION_ACCEPT_KEY in _labels_ids(m)), None)

        return await self.driver.wait_for(found)

    async def decide(self, user: str, accepted: bool) -> None:
        alert = await self.held_alert()
        action = support_blocks.ACTION_ACCEPT_KEY if accepted else support_blocks.ACTION_REJECT_KEY
        await self.driver.click(user, alert, action)


def staff_of(world: PlatformWorld, api: SlackApiSandbox, http: httpx.AsyncClient) -> Staff:
    """Support's Slack for ``world`` (on Teams a Slack driver for the same bot: support lives in Slack)."""
    if isinstance(world, SlackWorld):
        return Staff(api, world.driver)
    assert isinstance(world, TeamsWorldView)
    return Staff(api, SlackDriver(world.driver.bot_url, SIGNING_SECRET, api, http, clock=world.clock))


__all__ = ["PEOPLE", "STAFF", "ClinicSide", "Said", "Staff", "side_of", "staff_of"]
