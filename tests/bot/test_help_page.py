"""A human page that works, and a quiet support thread: end to end over signed HTTP, on Slack and on Teams.

I'm stuck pages the on-call people in Aldense's Slack and tells the clinic support's hours and usual wait in their
own time; the request stays open on the card and in App Home until a staff member presses Resolved or answers in
the clinic's thread; pressing again adds a line and pages nobody. A clean run leaves a handful of thread posts.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.core.copy import STILL_STUCK
from bot.core.moves import StepButton
from bot.fakes.slack import Message, SlackApiSandbox
from bot.slack.support import blocks as support_blocks
from conversations.conversation import Conversation
from dentally.sandbox import sample_keys
from tests.bot.connection_sides import ClinicSide, Said, side_of
from tests.bot.harness import ADMIN, NURSE, ONBOARDING, STAFF, action_ids, message_text
from tests.bot.platform_worlds import PLATFORMS, PlatformWorld, Shown, TeamsWorldView, platform_world
from tests.bot.test_key_check import GUIDE

KEYS = sample_keys()
ON_CALL = "S0ONCALL,U0SAM"
HOURS = "Mon-Fri 09:00-17:30 Europe/London"
SUPPORT_SETTINGS = {
    "support__support_mention": ON_CALL,
    "support__support_hours": HOURS,
    "support__support_expected_wait_minutes": 15,
}
# London is on UTC in early March 2026: Thursday 5th 10:00 is in hours, Friday 6th 18:00 is after them.
THURSDAY_10 = datetime(2026, 3, 5, 10, 0, tzinfo=UTC).timestamp()
FRIDAY_18 = datetime(2026, 3, 6, 18, 0, tzinfo=UTC).timestamp()


@pytest.fixture(params=PLATFORMS)
async def world(
    request: pytest.FixtureRequest, api: SlackApiSandbox, state_url: str, dentally_url: str
) -> AsyncIterator[PlatformWorld]:
    async with platform_world(request.param, api, state_url, dentally_url, **SUPPORT_SETTINGS) as opened:
        opened.clock.set(THURSDAY_10)
        yield opened


@pytest.fixture
def clinic(world: PlatformWorld) -> ClinicSide:
    return side_of(world)


class Support:
    """Aldense's onboarding channel in the Slack sandbox, whatever the clinic's platform."""

    def __init__(self, world: PlatformWorld, api: SlackApiSandbox) -> None:
        self.world = world
        self.api = api

    def cards(self) -> list[Message]:
        return [m for m in self.api.messages(ONBOARDING) if not m.is_reply]

    def card(self) -> Message:
        [card] = self.cards()
        return card

    def first_line(self) -> str:
        """The card's first block, as read."""
        return str(self.card().blocks[0]["text"]["text"])

    def replies(self) -> list[Message]:
        return [r for c in self.cards() for r in self.api.thread(ONBOARDING, c.ts) if r.is_reply]

    def pages(self) -> list[Message]:
        return [r for r in self.replies() if ":sos:" in r.text and "is stuck on" in r.text]

    def pressed_again(self) -> list[Message]:
        return [r for r in self.replies() if "pressed again" in r.text]

    async def resolve(self, page: Message) -> None:
        delivered = await self.world.support.click(STAFF, page, support_blocks.ACTION_HELP_GIVEN)
        assert delivered.status_code == 200
        await self.world.wait_for(lambda: "Resolved by" in message_text(self.page_now(page)) or None)
        await self.world.idle()

    def page_now(self, page: Message) -> Message:
        return next(r for r in self.replies() if r.ts == page.ts)

    async def home(self) -> str:
        """Open App Home as staff and read what was published for it."""
        driver = self.world.support
        await driver.open_home(STAFF)
        await self.world.idle()
        home = driver.home(STAFF)
        assert home is not None
        return json.dumps(home.payload, ensure_ascii=False)


@pytest.fixture
def support(world: PlatformWorld, api: SlackApiSandbox) -> Support:
    return Support(world, api)


async def state_of(world: PlatformWorld) -> Conversation:
    state = await world.runtime.core.service.conversation(world.key)
    assert state is not None
    return state


def confirmations(world: PlatformWorld) -> list[Shown]:
    return [m for m in world.thread() if "asked the Aldense team" in m.text]


async def stuck_on_first_step(world: PlatformWorld, support: Support) -> Shown:
    first = await world.start()
    await world.idle()
    assert await world.ask_aldense(first) == 200
    await world.wait_for(lambda: support.pages() and confirmations(world))
    await world.idle()
    return first


async def test_im_stuck_pages_the_on_call_people_and_promises_the_hours_and_the_wait(
    world: PlatformWorld, support: Support
) -> None:
    await stuck_on_first_step(world, support)
    [page] = support.pages()
    assert page.text.startswith("<!subteam^S0ONCALL> <@U0SAM> :sos:")  # Slack notifies the on-call group and Sam
    assert page.reply_broadcast is True
    assert action_ids(page) == [support_blocks.ACTION_HELP_GIVEN]
    [told] = confirmations(world)
    assert "Aldense support is in now; someone usually answers within 15 minutes." in told.text
    assert support.first_line().startswith(":sos: *Waiting for help* since <!date^")
    assert (await state_of(world)).stuck_at == pytest.approx(THURSDAY_10, abs=60)


async def test_after_hours_the_clinic_is_told_when_support_is_back_in_their_own_time(
    world: PlatformWorld, support: Support
) -> None:
    world.clock.set(FRIDAY_18)
    await stuck_on_first_step(world, support)
    [told] = confirmations(world)
    # Both stand-ins say the admin is in London (Slack's users.info ``tz``, Teams' ``localTimezone``).
    assert (
        "Aldense support is away now and back Monday 09:00 your time (hours: Mon-Fri 09:00-17:30 Europe/London)."
        in told.text
    )
    assert len(support.pages()) == 1  # out of hours the page still goes out: someone on call may see it


async def test_pressing_again_adds_a_line_never_a_page_and_resolved_closes_it_on_the_card_and_app_home(
    world: PlatformWorld, support: Support
) -> None:
    first = await stuck_on_first_step(world, support)
    assert ":sos:" in await support.home()

    world.clock.advance(20 * 60)
    assert await world.click(StepButton.DONE, first) == 200  # moving on keeps the request open
    second = await world.wait_for(lambda: next((m for m in world.thread() if m.live and m.step == 1), None))
    assert await world.ask_aldense(second) == 200
    await world.wait_for(support.pressed_again)
    await world.idle()
    assert len(support.pages()) == 1
    [again] = support.pressed_again()
    assert (again.reply_broadcast, "<@" in again.text, "<!subteam" in again.text) == (False, False, False)
    assert len(confirmations(world)) == 1
    assert support.first_line().startswith(":sos: *Waiting for help*")

    await support.resolve(support.pages()[0])
    page = support.page_now(support.pages()[0])
    assert f"Resolved by <@{STAFF}> after 20 min" in message_text(page)
    assert support_blocks.ACTION_HELP_GIVEN not in action_ids(page)
    assert (await state_of(world)).stuck_at is None
    await world.wait_for(lambda: "Waiting for help" not in message_text(support.card()) or None)
    home = await support.home()
    assert ":sos:" not in home
    assert "waiting for help" not in home


async def test_a_staff_reply_in_the_clinics_thread_closes_the_request(world: PlatformWorld, support: Support) -> None:
    await stuck_on_first_step(world, support)
    world.clock.advance(7 * 60)
    await world.staff_reply("Hi! Use the Dentally login of the practice owner; I'll stay here.")
    closed = await world.wait_for(lambda: [r for r in support.replies() if "answered in their thread" in r.text])
    await world.idle()
    assert "waited 7 min" in closed[0].text

    def answered_page() -> Message | None:
        page = support.page_now(support.pages()[0])
        return page if "answered in their thread" in message_text(page) else None

    page = await world.wait_for(answered_page)
    assert support_blocks.ACTION_HELP_GIVEN not in action_ids(page)  # nothing left to resolve
    assert "answered in their thread after 7 min" in message_text(page)
    assert (await state_of(world)).stuck_at is None
    assert "Waiting for help" not in message_text(support.card())
    assert not [r for r in support.replies() if "wrote in their Dentally guide thread" in r.text]  # staff's own words


async def test_a_clean_run_leaves_a_handful_of_posts_in_supports_thread(
    world: PlatformWorld, clinic: ClinicSide, support: Support
) -> None:
    await clinic.walk_to_key_step("jane")
    shown = await clinic.enter_key("jane", KEYS["all_scopes"].key, "uk")
    assert "Dentally is connected" in shown
    await world.idle()
    posts = [r.text for r in support.replies()]
    # Started, key received, key check, connected: every step's progress is on the card instead.
    assert len(posts) <= 4, posts
    assert [p.split()[0] for p in posts] == [":arrow_forward:", ":key:", ":mag:", ":link:"], posts
    assert not [p for p in posts if "finished" in p]
    card = message_text(support.card())
    assert f"{GUIDE.step_count - 1}: " in card  # time per step on the card
    assert support.first_line().startswith(":tooth:")  # nothing needs attention


async def test_step_posts_come_back_with_the_setting_and_back_posts_no_duplicate(
    api: SlackApiSandbox, state_url: str, dentally_url: str
) -> None:
    async with platform_world(
        "slack", api, state_url, dentally_url, support__support_step_posts=True, **SUPPORT_SETTINGS
    ) as world:
        support = Support(world, api)
        first = await world.start()
        assert await world.click(StepButton.DONE, first) == 200
        second = await world.wait_for(lambda: next((m for m in world.thread() if m.live and m.step == 1), None))
        assert await world.click(StepButton.BACK, second) == 200
        again = await world.wait_for(lambda: next((m for m in world.thread() if m.live and m.step == 0), None))
        assert await world.click(StepButton.DONE, again) == 200
        third = await world.wait_for(lambda: next((m for m in world.thread() if m.live and m.step == 1), None))
        assert await world.click(StepButton.DONE, third) == 200
        await world.wait_for(lambda: next((m for m in world.thread() if m.live and m.step == 2), None))
        await world.idle()
        finished = [r.text for r in support.replies() if "finished" in r.text]
        assert [f"step {n}/{GUIDE.step_count}" in text for n, text in zip((1, 2), finished, strict=True)] == [
            True,
            True,
        ]


async def ask_a_person(world: PlatformWorld, clinic: ClinicSide, who: str, step: Said) -> None:
    """``who`` presses I'm stuck on ``step``, then "Still stuck — ask Aldense" on the troubles it offers."""
    await clinic.press(who, step, "I'm stuck")
    offer = await world.wait_for(
        lambda: next((n for n in reversed(clinic.notes(who)) if STILL_STUCK in n.buttons), None)
    )
    await clinic.press(who, offer, STILL_STUCK)


def replace_offer(clinic: ClinicSide) -> Said | None:
    return next((n for n in clinic.notes("priya") if "Replace the key" in n.buttons), None)


def live_with(clinic: ClinicSide, who: str, label: str) -> Said | None:
    return next((s for s in reversed(clinic.thread(who)) if label in s.buttons), None)


async def test_the_cards_first_line_says_what_needs_attention_in_each_state(
    world: PlatformWorld, clinic: ClinicSide, support: Support
) -> None:
    # A refused key: needs a new key.
    await clinic.walk_to_key_step("jane")
    await clinic.enter_key("jane", KEYS["missing_appointment_delete"].key, "uk")
    await world.idle()
    await world.wait_for(lambda: support.first_line().startswith(":x: *Needs a new key*") or None)

    # Stuck on the key step as well: waiting for help comes first.
    stuck = live_with(clinic, "jane", "I'm stuck")
    assert stuck is not None
    await ask_a_person(world, clinic, "jane", stuck)
    await world.wait_for(lambda: support.first_line().startswith(":sos: *Waiting for help*") or None)
    assert ":x: *Needs a new key*" in support.first_line()

    # Connected: a connection closes the request, and nothing needs anyone.
    shown = await clinic.enter_key("jane", KEYS["all_scopes"].key, "uk")
    assert "Dentally is connected" in shown
    await world.idle()
    await world.wait_for(lambda: support.first_line().startswith(":tooth:") or None)
    assert ":white_check_mark: Connected" in message_text(support.card())

    # A key of another practice, held for staff: the pending replacement leads, before "Connected".
    await clinic.start("priya")
    note = await world.wait_for(
        lambda: next((n for n in clinic.notes("priya") if "Replace the key" in n.buttons), None)
    )
    await clinic.press("priya", note, "Replace the key")
    await world.wait_for(lambda: live_with(clinic, "priya", "Enter the key privately"))
    await clinic.enter_key("priya", KEYS["au_all_scopes"].key, "au")
    await world.idle()
    await world.wait_for(lambda: support.first_line().startswith(":warning: *Replacement key waiting") or None)
    card = message_text(support.card())
    assert card.index("Replacement key waiting") < card.index(":white_check_mark: Connected")


async def test_status_counts_a_verified_clinic_as_verified_and_lists_it_while_someone_there_waits(
    world: PlatformWorld, clinic: ClinicSide, support: Support, api: SlackApiSandbox
) -> None:
    await clinic.walk_to_key_step("jane")
    assert "Dentally is connected" in await clinic.enter_key("jane", KEYS["all_scopes"].key, "uk")
    await clinic.start("priya")
    note = await world.wait_for(
        lambda: next((n for n in clinic.notes("priya") if "Replace the key" in n.buttons), None)
    )
    await clinic.press("priya", note, "Replace the key")
    stuck = await world.wait_for(lambda: live_with(clinic, "priya", "I'm stuck"))
    await ask_a_person(world, clinic, "priya", stuck)
    await world.wait_for(support.pages)
    await world.idle()

    await world.support.run_command(STAFF, ONBOARDING, "/aldense", "status", escape=False)
    body = await world.wait_for(
        lambda: next((json.dumps(r.body) for r in reversed(api.responses()) if "verified" in json.dumps(r.body)), None)
    )
    assert "0 clinic(s) in progress" in body
    assert "1 verified" in body
    assert "1 waiting for help" in body
    assert "Maple Leaf Dental" in body

    home = await support.home()
    waiting = home[home.index("Stuck or idle longest") : home.index("Connections")]
    assert ":sos: *Maple Leaf Dental*" in waiting
    assert "waiting for help" in waiting

    if isinstance(world, TeamsWorldView):  # Teams staff ask the bot itself, in a 1:1 chat: the same counts
        teams = world.driver
        chat = teams.world.chat_with("staff")
        await teams.say("staff", chat, "status", mention=False)
        listing = await world.wait_for(
            lambda: next((m.text for m in teams.in_conversation(chat) if "verified" in m.text), None)
        )
        assert "0 clinic(s) in progress · 1 verified · 🆘 1 waiting for help" in listing
        await teams.say("staff", chat, "status maple", mention=False)
        detail = await world.wait_for(
            lambda: next((m.text for m in teams.in_conversation(chat) if "time per step" in m.text), None)
        )
        assert "time per step 1: " in detail


async def test_without_the_persons_zone_the_time_names_the_zone_it_is_in(
    api: SlackApiSandbox, state_url: str, dentally_url: str
) -> None:
    """Slack Connect profiles of another organisation may carry no ``tz``: the time is never called "your time"."""
    for person in (ADMIN, NURSE):
        api.workspace.user(person).tz_hidden = True
    async with platform_world("slack", api, state_url, dentally_url, **SUPPORT_SETTINGS) as world:
        world.clock.set(FRIDAY_18)
        support, clinic = Support(world, api), side_of(world)
        # Nothing known of the clinic yet: support's own zone, named.
        await stuck_on_first_step(world, support)
        [told] = confirmations(world)
        assert "back Monday 09:00 Europe/London time" in told.text
        assert "your time" not in told.text

        # Connected in Australia & New Zealand: the region's main zone, named (Monday 09:00 London is 20:00 there).
        await support.resolve(support.pages()[0])
        await clinic.walk_to_key_step("jane")
        assert "Dentally is connected" in await clinic.enter_key("jane", KEYS["au_all_scopes"].key, "au")
        await clinic.start("priya")
        await clinic.press("priya", await world.wait_for(lambda: replace_offer(clinic)), "Replace the key")
        stuck = await world.wait_for(lambda: live_with(clinic, "priya", "I'm stuck"))
        await ask_a_person(world, clinic, "priya", stuck)
        told_priya = await world.wait_for(
            lambda: next((s for s in clinic.thread("priya") if "asked the Aldense team" in s.text), None)
        )
        assert "back Monday 20:00 Australia/Sydney time" in told_priya.text


async def test_when_the_practice_name_is_unknown_the_card_shows_the_dentally_user_and_practice_id(
    world: PlatformWorld, clinic: ClinicSide, support: Support
) -> None:
    await clinic.walk_to_key_step("jane")
    # The five required scopes and nothing else: Dentally never tells the practice's name.
    assert "Dentally is connected" in await clinic.enter_key("jane", KEYS["no_clinic_scopes"].key, "uk")
    await world.idle()
    record = await world.runtime.core.service.clinic(world.name, world.key.channel)
    assert record is not None
    assert record.name is None
    assert record.connection is not None
    identity = record.connection.identity
    outcome = await world.wait_for(
        lambda: next(
            (str(b["text"]["text"]) for b in support.card().blocks if b.get("block_id") == "card:outcome"), None
        )
    )
    assert f"Dentally {identity.user_name} (user {identity.user_id} · administrator)" in outcome
    assert f"practice id {identity.practice_id}" in outcome
    [dentally_line] = [line for line in outcome.splitlines() if line.startswith("Dentally ")]
    assert "@" not in dentally_line  # the retention rule drops the e-mail address: it is never shown
    assert "@" not in json.dumps(record.last_check)


async def test_resolved_is_refused_to_a_clinic_user_and_the_request_stays_open(
    api: SlackApiSandbox, state_url: str, dentally_url: str
) -> None:
    async with platform_world("slack", api, state_url, dentally_url, **SUPPORT_SETTINGS) as world:
        support = Support(world, api)
        await stuck_on_first_step(world, support)
        api.add_member(ONBOARDING, ADMIN)  # a clinic user invited to the internal channel by mistake
        await world.support.click(ADMIN, support.pages()[0], support_blocks.ACTION_HELP_GIVEN)
        note = await world.support.wait_for(lambda: world.support.ephemeral(ADMIN, ONBOARDING))
        assert "Only the Aldense team" in note[-1].text
        await world.idle()
        assert (await state_of(world)).stuck_at is not None
        assert support_blocks.ACTION_HELP_GIVEN in action_ids(support.page_now(support.pages()[0]))
