"""One view of a clinic's chat, written once per platform: start a guide, press a step's buttons, read the thread.

The guide-move scenarios in ``test_moves_on_every_platform.py`` are written once against ``PlatformWorld``; each
world drives a real bot over HTTP through that platform's stand-in (the Slack sandbox and signed driver, or the
Teams connector and activity driver) and reads back what the platform would show the person.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import httpx

from bot.core import copy
from bot.core.moves import StepButton
from bot.fakes.slack import SlackApiSandbox, SlackDriver, payloads
from bot.fakes.slack.api import Message
from bot.fakes.teams.connector import Sent, TeamsConnector
from bot.fakes.teams.driver import TeamsDriver, TeamsWorld
from bot.runtime import Runtime
from bot.slack import blocks, modals
from bot.teams import cards
from conversations.addresses import ConversationKey
from tests.bot.harness import (
    ADMIN,
    CLINIC,
    NURSE,
    SIGNING_SECRET,
    STAFF,
    MovableClock,
    Scenario,
    action_ids,
    ask_aldense,
    bot_settings,
    choose_trouble,
    message_text,
    offer_troubles,
    running_bot,
    trouble_offers,
)
from tests.bot.teams.harness import LOCAL_AUTH, running_teams_bot, teams_settings

T = TypeVar("T")

PLATFORMS = ("slack", "teams")
# The Slack sandbox's clinic people by the names the worlds use.
SLACK_PEOPLE = {"admin": ADMIN, "nurse": NURSE}
OPENER_WORDS = "is connecting Dentally"
CONNECTED_WORDS = "connected Dentally"  # the opener once the person's key connected the clinic


def is_opener(text: str) -> bool:
    """Whether ``text`` is a guide's thread opener, before or after its key connected the clinic."""
    return OPENER_WORDS in text or CONNECTED_WORDS in text


@dataclass(frozen=True, slots=True)
class Shown:
    """A message as the person sees it now: which step it shows (if any) and whether its buttons are live."""

    ref: str
    text: str
    step: int | None
    live: bool


def step_shown(text: str, total: int) -> int | None:
    """The step (0-based) a message shows, from what it reads: ``Step 2 of 9`` (live) or ``✅ 2/9 Title`` (closed)."""
    live = re.search(rf"\bStep (\d+) of {total}\b", text)
    if live:
        return int(live.group(1)) - 1
    closed = re.search(rf"^\S+ (\d+)/{total} ", text, re.MULTILINE)
    return int(closed.group(1)) - 1 if closed else None


class PlatformWorld(Protocol):
    """A clinic channel on one platform with one clinic admin, and a bot serving it."""

    name: str
    runtime: Runtime
    clock: MovableClock
    support: SlackDriver
    """Aldense staff's Slack (the onboarding channel), where support works whatever the clinic's platform."""

    @property
    def key(self) -> ConversationKey:
        """The admin's guide's key in the clinic channel."""
        ...

    async def kickoff(self) -> None:
        """Aldense staff post the kick-off card in the clinic channel (the bot learns the channel)."""
        ...

    async def press_start(self) -> int:
        """The admin presses Start on the kick-off; returns the HTTP status the bot answered with."""
        ...

    async def start(self) -> Shown:
        """The admin presses Start on the kick-off; returns the live step 1 once it is shown."""
        ...

    async def click(self, button: StepButton, on: Shown) -> int:
        """The admin presses ``button`` on the message ``on``; returns the HTTP status the bot answered with."""
        ...

    async def say_help(self) -> None:
        """The admin asks the bot for help (their first contact) and waits for the private answer."""
        ...

    async def offer_troubles(self, on: Shown) -> str:
        """The admin presses I'm stuck on ``on``; returns the text of the private list of troubles once shown."""
        ...

    def trouble_offers(self) -> list[str]:
        """The private lists of troubles the admin was shown, oldest first."""
        ...

    def note_buttons(self) -> list[str]:
        """The buttons of the latest private message to the admin."""
        ...

    @property
    def bot_url(self) -> str:
        """Where the bot is served (its ``/slack/events``, ``/metrics``, ...)."""
        ...

    async def choose_trouble(self, trouble_id: str) -> int:
        """The admin picks ``trouble_id`` on the latest private list of troubles; returns the HTTP status."""
        ...

    async def still_stuck(self) -> int:
        """The admin presses "Still stuck — ask Aldense" on the latest private list or answer; the HTTP status."""
        ...

    async def ask_aldense(self, on: Shown) -> int:
        """I'm stuck on ``on``, then "Still stuck — ask Aldense" on the troubles it offers."""
        ...

    async def start_by_words_delivered_twice(self, at_once: bool) -> None:
        """The admin says ``start``; the platform delivers that very message twice (a retry of the same id).

        ``at_once``: the retry arrives while the first delivery is still being answered; else after its answer.
        """
        ...

    async def type(self, text: str, in_thread: bool = True) -> str:
        """The admin types ``text`` in their guide's thread (else at the top level, without mentioning the bot).

        Returns:
            The root of the thread the text is in (the typed message itself at the top level).
        """
        ...

    def bot_replies(self, root: str) -> list[str]:
        """What the bot posted for everyone under ``root``, oldest first."""
        ...

    async def staff_reply(self, text: str) -> None:
        """Aldense staff type ``text`` in the admin's guide thread (a person answering in the clinic's channel)."""
        ...

    def mentioned_in_thread(self, who: str) -> bool:
        """Whether a message the bot posted in the admin's thread @-mentions ``who`` (the platform notifies them)."""
        ...

    def user_key(self, who: str) -> ConversationKey:
        """The guide key of ``who`` (``admin`` or ``nurse``) in the clinic channel."""
        ...

    async def hand_over(self, on: Shown, to: str) -> None:
        """The admin presses "Someone else has the Dentally login" on ``on`` and picks ``to`` (``nurse``)."""
        ...

    async def hand_over_from_note(self, to: str) -> None:
        """The admin presses "Someone else has the Dentally login" on their latest private message, picks ``to``."""
        ...

    async def click_as(self, who: str, button: StepButton, on: Shown) -> int:
        """``who`` (``admin`` or ``nurse``) presses ``button`` on ``on``."""
        ...

    async def take_over(self, who: str) -> None:
        """``who`` presses "Take over" on the private "not yours" answer they were given last."""
        ...

    def notes_of(self, who: str) -> list[str]:
        """What the bot told only ``who``, oldest first."""
        ...

    def platform_down(self) -> None:
        """The platform stops taking the bot's posts (it answers 503) until ``platform_up``."""
        ...

    def platform_up(self) -> None:
        """The platform takes the bot's posts again."""
        ...

    def openers(self) -> list[Shown]:
        """The admin's thread openers in the channel, oldest first."""
        ...

    def thread(self) -> list[Shown]:
        """Every message the bot posted under any of the admin's openers, oldest first."""
        ...

    def notes(self) -> list[str]:
        """What the bot told only the admin, oldest first."""
        ...

    async def wait_for(self, found: Callable[[], T | None], timeout: float = 10.0) -> T:  # noqa: ASYNC109
        """Wait until ``found()`` is truthy and return it."""
        ...

    async def idle(self) -> None:
        """Wait until the bot has finished the work it acknowledged."""
        ...


class SlackWorld:
    """The clinic on Slack: the Web API sandbox and a driver that signs what it sends."""

    name = "slack"

    def __init__(self, runtime: Runtime, clock: MovableClock, api: SlackApiSandbox, driver: SlackDriver) -> None:
        self.runtime = runtime
        self.clock = clock
        self.api = api
        self.driver = driver
        self.support = driver
        self._kickoff: Message | None = None

    @property
    def key(self) -> ConversationKey:
        """The admin's guide in the clinic channel of Aldense's workspace."""
        return ConversationKey("slack", self.api.workspace.installing_team_id, CLINIC, ADMIN)

    async def kickoff(self) -> None:
        """``/aldense onboard #clinic`` by staff."""
        self._kickoff = await Scenario(self.api, self.driver, None).kickoff()  # type: ignore[arg-type]

    async def press_start(self) -> int:
        """Start on the kick-off."""
        assert self._kickoff is not None, "kickoff() first"
        return (await self.driver.click(ADMIN, self._kickoff, blocks.ACTION_START)).status_code

    async def start(self) -> Shown:
        """Start on the kick-off, then wait for a live step 1."""
        assert await self.press_start() == 200
        return await self.wait_for(lambda: next((m for m in self.thread() if m.live and m.step == 0), None))

    async def click(self, button: StepButton, on: Shown) -> int:
        """A signed ``block_actions`` for the button."""
        action = {
            StepButton.DONE: blocks.ACTION_DONE,
            StepButton.BACK: blocks.ACTION_BACK,
            StepButton.STUCK: blocks.ACTION_STUCK,
        }[button]
        return (await self.driver.click(ADMIN, on.ref, action)).status_code

    async def say_help(self) -> None:
        """``@Aldense Guide help``, answered with an ephemeral."""
        await self.driver.mention(ADMIN, CLINIC, "help")
        await self.wait_for(self.notes)

    async def offer_troubles(self, on: Shown) -> str:
        """I'm stuck on the step message; the troubles arrive as an ephemeral."""
        return (await offer_troubles(self.driver, ADMIN, on.ref)).text

    def trouble_offers(self) -> list[str]:
        """Ephemerals listing troubles."""
        return [e.text for e in trouble_offers(self.driver, ADMIN)]

    def note_buttons(self) -> list[str]:
        """The buttons of the admin's latest ephemeral."""
        latest = self.driver.ephemeral(ADMIN, CLINIC)[-1]
        return [str(e["text"]["text"]) for b in latest.blocks for e in b.get("elements", []) or [] if "text" in e]

    @property
    def bot_url(self) -> str:
        """The driver's URL without its path."""
        return self.driver.url.removesuffix("/slack/events")

    async def choose_trouble(self, trouble_id: str) -> int:
        """The trouble's button on the latest ephemeral list."""
        return (
            await choose_trouble(self.driver, ADMIN, trouble_offers(self.driver, ADMIN)[-1], trouble_id)
        ).status_code

    async def still_stuck(self) -> int:
        """The button on the latest ephemeral that offers it."""
        offer = next(
            e for e in reversed(self.driver.ephemeral(ADMIN, CLINIC)) if blocks.ACTION_ASK_ALDENSE in str(e.blocks)
        )
        return (await self.driver.click(ADMIN, offer, blocks.ACTION_ASK_ALDENSE)).status_code

    async def ask_aldense(self, on: Shown) -> int:
        """Both clicks, through the harness."""
        return (await ask_aldense(self.driver, ADMIN, on.ref)).status_code

    async def start_by_words_delivered_twice(self, at_once: bool) -> None:
        """``@Aldense Guide start``, and Slack's retry of that event (same ``event_id``, ``X-Slack-Retry-Num``)."""
        if not at_once:
            first = await self.driver.mention(ADMIN, CLINIC, "start")
            retry = await self.driver.redeliver(first, retry_num=1)
        else:
            ws = self.api.workspace
            text = f"<@{ws.bot_user_id}> start"
            said = self.api.post_as_user(ADMIN, CLINIC, text)
            event = payloads.message_event(
                user=ws.user(ADMIN), channel=ws.channel(CLINIC), text=text, ts=said.ts, mention=True
            )
            first, retry = await asyncio.gather(
                self.driver.send_event(event, event_id="Ev0STARTTWICE"),
                self.driver.send_event(event, event_id="Ev0STARTTWICE", retry_num=1),
            )
        assert (first.status_code, retry.status_code) == (200, 200)
        assert retry.event_id == first.event_id

    async def type(self, text: str, in_thread: bool = True) -> str:
        """A ``message`` event as Slack sends it (``channel_type``, ``team``/``user_team``, ``thread_ts``)."""
        thread = self.openers()[-1].ref if in_thread else None
        delivery = await self.driver.post_message(ADMIN, CLINIC, text, thread_ts=thread)
        assert delivery.status_code == 200
        return thread or str(delivery.payload["event"]["ts"])

    async def staff_reply(self, text: str) -> None:
        """A ``message`` event from Aldense's own workspace in the admin's thread."""
        delivery = await self.driver.post_message(STAFF, CLINIC, text, thread_ts=self.openers()[-1].ref)
        assert delivery.status_code == 200

    def mentioned_in_thread(self, who: str) -> bool:
        """A ``<@U…>`` in the raw text of a thread reply."""
        user = self.user_key(who).user
        return any(f"<@{user}>" in m.text for o in self.openers() for m in self.api.thread(CLINIC, o.ref)[1:])

    def bot_replies(self, root: str) -> list[str]:
        """The bot's replies in the thread under ``root``."""
        bot = self.api.workspace.bot_user_id
        return [message_text(m) for m in self.api.thread(CLINIC, root)[1:] if m.user == bot]

    def user_key(self, who: str) -> ConversationKey:
        """``who``'s guide in the clinic channel."""
        return ConversationKey("slack", self.api.workspace.installing_team_id, CLINIC, SLACK_PEOPLE[who])

    async def hand_over(self, on: Shown, to: str) -> None:
        """The button opens a modal with a user picker; the admin picks and submits."""
        assert (await self.driver.click(ADMIN, on.ref, blocks.ACTION_HAND_OVER)).status_code == 200
        view = await self.wait_for(lambda: self.driver.open_view(ADMIN))
        submitted = await self.driver.submit_view(ADMIN, view, {modals.BLOCK_COLLEAGUE: SLACK_PEOPLE[to]})
        assert submitted.status_code == 200

    async def hand_over_from_note(self, to: str) -> None:
        """The hand-over button of the latest ephemeral opens the same modal."""
        note = self.driver.ephemeral(ADMIN, CLINIC)[-1]
        assert (await self.driver.click(ADMIN, note, blocks.ACTION_HAND_OVER)).status_code == 200
        view = await self.wait_for(lambda: self.driver.open_view(ADMIN))
        submitted = await self.driver.submit_view(ADMIN, view, {modals.BLOCK_COLLEAGUE: SLACK_PEOPLE[to]})
        assert submitted.status_code == 200

    async def click_as(self, who: str, button: StepButton, on: Shown) -> int:
        """A signed ``block_actions`` from ``who``."""
        action = {
            StepButton.DONE: blocks.ACTION_DONE,
            StepButton.BACK: blocks.ACTION_BACK,
            StepButton.STUCK: blocks.ACTION_STUCK,
        }[button]
        return (await self.driver.click(SLACK_PEOPLE[who], on.ref, action)).status_code

    async def take_over(self, who: str) -> None:
        """ "Take over" on the latest ephemeral that offers it."""
        user = SLACK_PEOPLE[who]
        offer = await self.wait_for(
            lambda: next(
                (e for e in reversed(self.driver.ephemeral(user, CLINIC)) if blocks.ACTION_TAKE_OVER in str(e.blocks)),
                None,
            )
        )
        assert (await self.driver.click(user, offer, blocks.ACTION_TAKE_OVER)).status_code == 200

    def notes_of(self, who: str) -> list[str]:
        """Ephemerals shown to ``who`` in the clinic channel."""
        return [e.text for e in self.driver.ephemeral(SLACK_PEOPLE[who], CLINIC)]

    def platform_down(self) -> None:
        """``chat.postMessage`` answers 503 (the bot's Slack client retries, then gives up)."""
        self.api.fail("chat.postMessage", status=503, times=None)

    def platform_up(self) -> None:
        """Every planned fault is forgotten."""
        self.api.clear_faults()

    def _shown(self, message: Message) -> Shown:
        text = message_text(message)
        return Shown(
            message.ts,
            text,
            step_shown(text, self.runtime.guide.step_count),
            bool({blocks.ACTION_DONE, blocks.ACTION_STUCK} & set(action_ids(message))),
        )

    def openers(self) -> list[Shown]:
        """Top-level bot messages that open a guide for the admin."""
        bot = self.api.workspace.bot_user_id
        return [
            self._shown(m)
            for m in self.api.messages(CLINIC)
            if m.user == bot and is_opener(m.text) and f"<@{ADMIN}>" in m.text
        ]

    def thread(self) -> list[Shown]:
        """The replies under every opener."""
        return [self._shown(m) for opener in self.openers() for m in self.api.thread(CLINIC, opener.ref)[1:]]

    def notes(self) -> list[str]:
        """Ephemerals shown to the admin in the clinic channel."""
        return [e.text for e in self.driver.ephemeral(ADMIN, CLINIC)]

    async def wait_for(self, found: Callable[[], T | None], timeout: float = 10.0) -> T:  # noqa: ASYNC109
        """Re-checked whenever the sandbox changes."""
        return await self.driver.wait_for(found, timeout)  # type: ignore[arg-type]

    async def idle(self) -> None:
        """Drain the bot's background work (twice: work can spawn work)."""
        await self.runtime.core.tasks.drain(10)
        await self.runtime.core.tasks.drain(10)


class TeamsWorldView:
    """The clinic on Teams: a channel shared with the clinic's tenant, the loopback connector and activity driver."""

    name = "teams"

    def __init__(self, runtime: Runtime, clock: MovableClock, driver: TeamsDriver, support: SlackDriver) -> None:
        self.runtime = runtime
        self.clock = clock
        self.driver = driver
        self.support = support
        self.where = driver.world.shared
        self.admin = driver.world.member("admin")
        self._kickoff: Sent | None = None

    @property
    def key(self) -> ConversationKey:
        """The admin's guide in the shared channel; Aldense's tenant is the installing team."""
        return ConversationKey("teams", self.driver.world.aldense_tenant, self.where.id, self.admin.aad_object_id)

    async def kickoff(self) -> None:
        """Staff say ``onboard`` in the shared channel."""
        response = await self.driver.say("staff", self.where, "onboard")
        assert response.status_code == 200
        self._kickoff = await self.wait_for(
            lambda: next(
                (m for m in self.driver.in_conversation(self.where) if "Start Dentally setup" in m.titles), None
            )
        )

    async def press_start(self) -> int:
        """Start on the kick-off card."""
        assert self._kickoff is not None, "kickoff() first"
        return (await self.driver.click("admin", self.where, self._kickoff, "Start Dentally setup")).status_code

    async def start(self) -> Shown:
        """Start on the kick-off card, then wait for a live step 1."""
        assert await self.press_start() == 200
        return await self.wait_for(lambda: next((m for m in self.thread() if m.live and m.step == 0), None))

    async def click(self, button: StepButton, on: Shown) -> int:
        """An ``Action.Submit`` from the card, as a message activity replying to it."""
        title = {StepButton.DONE: "Done, next step", StepButton.BACK: "Back", StepButton.STUCK: "I'm stuck"}[button]
        card = self.driver.connector.sent[on.ref]
        return (await self.driver.click("admin", self.where, card, title)).status_code

    async def say_help(self) -> None:
        """``@Aldense Guide help``, answered with a targeted message."""
        response = await self.driver.say("admin", self.where, "help")
        assert response.status_code == 200
        await self.wait_for(self.notes)

    def _offers(self) -> list[Sent]:
        return [
            m
            for m in self.driver.in_conversation(self.where)
            if m.targeted_to == self.admin.account_id and copy.STILL_STUCK in m.titles and "Common problems" in m.text
        ]

    async def offer_troubles(self, on: Shown) -> str:
        """I'm stuck on the card; the troubles arrive as a targeted card."""
        before = len(self._offers())
        assert await self.click(StepButton.STUCK, on) == 200
        return (await self.wait_for(lambda: self._offers()[before:] or None))[-1].text

    def trouble_offers(self) -> list[str]:
        """Targeted cards listing troubles."""
        return [m.text for m in self._offers()]

    def note_buttons(self) -> list[str]:
        """The buttons of the latest targeted message to the admin."""
        sent = [m for m in self.driver.in_conversation(self.where) if m.targeted_to == self.admin.account_id]
        return list(sent[-1].titles)

    @property
    def bot_url(self) -> str:
        """The driver's bot URL."""
        return self.driver.bot_url

    async def choose_trouble(self, trouble_id: str) -> int:
        """The trouble's button (titled with its label) on the latest targeted list."""
        offer = self._offers()[-1]
        steps = self.runtime.guide.steps
        label = next(t.label for s in steps for t in s.troubles if t.id == trouble_id and t.label in offer.titles)
        return (await self.driver.click("admin", self.where, offer, label)).status_code

    async def still_stuck(self) -> int:
        """The button on the latest targeted card that offers it."""
        offer = next(
            m
            for m in reversed(self.driver.in_conversation(self.where))
            if m.targeted_to == self.admin.account_id and copy.STILL_STUCK in m.titles
        )
        return (await self.driver.click("admin", self.where, offer, copy.STILL_STUCK)).status_code

    async def ask_aldense(self, on: Shown) -> int:
        """Both clicks."""
        await self.offer_troubles(on)
        return await self.still_stuck()

    async def start_by_words_delivered_twice(self, at_once: bool) -> None:
        """``@Aldense Guide start`` delivered twice with the same activity id (the Bot Framework redelivering)."""
        activity = self.driver.activity(
            "message", "admin", self.where, text="<at>Aldense Guide</at> start", textFormat="plain"
        )
        if at_once:
            first, retry = await asyncio.gather(self.driver.post(activity), self.driver.post(activity))
        else:
            first = await self.driver.post(activity)
            retry = await self.driver.post(activity)
        assert (first.status_code, retry.status_code) == (200, 200)

    async def type(self, text: str, in_thread: bool = True) -> str:
        """A channel message without a mention (it reaches the bot through ``ChannelMessage.Read.Group``)."""
        thread = self.openers()[-1].ref if in_thread else None
        activity = self.driver.activity("message", "admin", self.where, thread=thread, text=text, textFormat="plain")
        assert (await self.driver.post(activity)).status_code == 200
        return thread or str(activity["id"])

    async def staff_reply(self, text: str) -> None:
        """A channel message from Aldense's tenant in the admin's thread."""
        thread = self.openers()[-1].ref
        activity = self.driver.activity("message", "staff", self.where, thread=thread, text=text, textFormat="plain")
        assert (await self.driver.post(activity)).status_code == 200

    def mentioned_in_thread(self, who: str) -> bool:
        """A mention entity naming ``who``'s account on an untargeted thread reply."""
        account = self.driver.world.member(who).account_id
        return any(
            entity.get("type") == "mention" and (entity.get("mentioned") or {}).get("id") == account
            for opener in self.openers()
            for m in self.driver.connector.messages(self.where.id, opener.ref)
            if m.targeted_to is None
            for entity in m.body.get("entities") or []
        )

    def bot_replies(self, root: str) -> list[str]:
        """The untargeted messages the bot posted in the thread under ``root``."""
        return [m.text for m in self.driver.connector.messages(self.where.id, root) if m.targeted_to is None]

    def user_key(self, who: str) -> ConversationKey:
        """``who``'s guide in the shared channel."""
        member = self.driver.world.member(who)
        return ConversationKey("teams", self.driver.world.aldense_tenant, self.where.id, member.aad_object_id)

    async def hand_over(self, on: Shown, to: str) -> None:
        """The button opens a dialog (``task/fetch``) listing the channel's members; the admin picks and submits."""
        card = self.driver.connector.sent[on.ref]
        opened = await self.driver.click("admin", self.where, card, copy.HAND_OVER_BUTTON)
        assert opened.status_code == 200
        colleague = self.driver.world.member(to).aad_object_id
        submitted = await self.driver.submit_dialog(
            "admin", self.where, opened.json(), {cards.INPUT_COLLEAGUE: colleague}, thread=card.thread
        )
        assert submitted.status_code == 200

    async def hand_over_from_note(self, to: str) -> None:
        """The hand-over button of the latest targeted card opens the same dialog."""
        sent = [m for m in self.driver.in_conversation(self.where) if m.targeted_to == self.admin.account_id]
        note = sent[-1]
        opened = await self.driver.click("admin", self.where, note, copy.HAND_OVER_BUTTON)
        assert opened.status_code == 200
        colleague = self.driver.world.member(to).aad_object_id
        submitted = await self.driver.submit_dialog(
            "admin", self.where, opened.json(), {cards.INPUT_COLLEAGUE: colleague}, thread=note.thread
        )
        assert submitted.status_code == 200

    async def click_as(self, who: str, button: StepButton, on: Shown) -> int:
        """An ``Action.Submit`` from ``who``."""
        title = {StepButton.DONE: "Done, next step", StepButton.BACK: "Back", StepButton.STUCK: "I'm stuck"}[button]
        card = self.driver.connector.sent[on.ref]
        return (await self.driver.click(who, self.where, card, title)).status_code

    async def take_over(self, who: str) -> None:
        """ "Take over" on the latest targeted message to ``who`` that offers it."""
        account = self.driver.world.member(who).account_id
        offer = await self.wait_for(
            lambda: next(
                (
                    m
                    for m in reversed(self.driver.in_conversation(self.where))
                    if m.targeted_to == account and copy.TAKE_OVER_BUTTON in m.titles
                ),
                None,
            )
        )
        assert (await self.driver.click(who, self.where, offer, copy.TAKE_OVER_BUTTON)).status_code == 200

    def notes_of(self, who: str) -> list[str]:
        """Targeted messages to ``who``."""
        account = self.driver.world.member(who).account_id
        return [m.text for m in self.driver.in_conversation(self.where) if m.targeted_to == account]

    def platform_down(self) -> None:
        """The connector answers every call with 503."""
        self.driver.connector.refuse_with = 503

    def platform_up(self) -> None:
        """The connector answers again."""
        self.driver.connector.refuse_with = None

    def _shown(self, sent: Sent) -> Shown:
        return Shown(
            sent.id,
            sent.text,
            step_shown(sent.text, self.runtime.guide.step_count),
            sent.action("Done, next step") is not None or sent.action("I'm stuck") is not None,
        )

    def openers(self) -> list[Shown]:
        """Top-level, untargeted messages that open a guide for the admin."""
        return [
            self._shown(m)
            for m in self.driver.in_conversation(self.where)
            if m.thread is None and m.targeted_to is None and is_opener(m.text) and self.admin.name in m.text
        ]

    def thread(self) -> list[Shown]:
        """The untargeted replies under every opener."""
        return [
            self._shown(m)
            for opener in self.openers()
            for m in self.driver.connector.messages(self.where.id, opener.ref)
            if m.targeted_to is None
        ]

    def notes(self) -> list[str]:
        """Targeted messages to the admin."""
        return [m.text for m in self.driver.in_conversation(self.where) if m.targeted_to == self.admin.account_id]

    async def wait_for(self, found: Callable[[], T | None], timeout: float = 10.0) -> T:  # noqa: ASYNC109
        """Polled (the connector records synchronously)."""
        return await self.driver.wait_for(found, timeout)

    async def idle(self) -> None:
        """Drain the bot's background work (twice: work can spawn work)."""
        await self.runtime.core.tasks.drain(10)
        await self.runtime.core.tasks.drain(10)


@contextlib.asynccontextmanager
async def slack_world(
    api: SlackApiSandbox, state_url: str, dentally_url: str, **overrides: Any
) -> AsyncIterator[SlackWorld]:
    """A Slack-only bot on ``state_url``, its clock movable (the driver signs with the same clock)."""
    clock = MovableClock()
    async with (
        httpx.AsyncClient(timeout=10) as http,
        running_bot(bot_settings(api, state_url, dentally_url, **overrides), clock) as bot,
    ):
        driver = SlackDriver(bot.url, SIGNING_SECRET, api, http, clock=clock)
        yield SlackWorld(bot.runtime, clock, api, driver)


@contextlib.asynccontextmanager
async def teams_world(
    api: SlackApiSandbox, state_url: str, dentally_url: str, **overrides: Any
) -> AsyncIterator[TeamsWorldView]:
    """A bot with Teams on (support stays in the Slack sandbox) on ``state_url``, its clock movable."""
    clock = MovableClock()
    people = TeamsWorld()
    connector = TeamsConnector(LOCAL_AUTH.token, people.roster())
    async with (
        connector.serve(),
        httpx.AsyncClient(timeout=10) as http,
        running_teams_bot(teams_settings(api, state_url, dentally_url, people, **overrides), clock=clock) as bot,
    ):
        support = SlackDriver(bot.url, SIGNING_SECRET, api, http, clock=clock)
        yield TeamsWorldView(bot.runtime, clock, TeamsDriver(bot.url, connector, people, http), support)


@contextlib.asynccontextmanager
async def platform_world(
    name: str, api: SlackApiSandbox, state_url: str, dentally_url: str, **overrides: Any
) -> AsyncIterator[PlatformWorld]:
    """The world of platform ``name`` (``slack`` or ``teams``), with the kick-off already posted.

    ``overrides`` are settings (``support__support_hours=…``) for the bot.
    """
    opening = slack_world if name == "slack" else teams_world
    async with opening(api, state_url, dentally_url, **overrides) as world:
        await world.kickoff()
        yield world
