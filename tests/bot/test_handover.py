"""Hand-over and take-over mid-guide on Slack and Teams: progress is kept, and the buttons answer the new owner only.

Each scenario drives a real bot over signed HTTP through the platform's stand-in (``tests/bot/platform_worlds.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.core import copy
from bot.core.moves import StepButton
from bot.fakes.slack import SlackApiSandbox
from bot.fakes.slack.workspace import ADMIN, User
from bot.slack import blocks, modals
from conversations.conversation import Conversation, Status
from conversations.events import EndGiverRun, TakeOver
from conversations.service import Handled
from tests.bot.harness import ONBOARDING, message_text
from tests.bot.platform_worlds import PLATFORMS, PlatformWorld, Shown, SlackWorld, platform_world


@pytest.fixture(params=PLATFORMS)
async def world(
    request: pytest.FixtureRequest, api: SlackApiSandbox, state_url: str, dentally_url: str
) -> AsyncIterator[PlatformWorld]:
    async with platform_world(request.param, api, state_url, dentally_url) as opened:
        yield opened


def support_texts(api: SlackApiSandbox) -> list[str]:
    return [message_text(m) for m in api.messages(ONBOARDING, include_replies=True)]


async def state_of(world: PlatformWorld, who: str) -> Conversation:
    state = await world.runtime.core.service.conversation(world.user_key(who))
    assert state is not None
    return state


async def live_step_other_than(world: PlatformWorld, index: int, old: Shown) -> Shown:
    """The live message of step ``index`` that replaced ``old``."""
    return await world.wait_for(
        lambda: next((m for m in world.thread() if m.live and m.step == index and m.ref != old.ref), None)
    )


async def test_a_hand_over_mid_guide_keeps_progress_and_only_the_colleague_can_move_it(
    world: PlatformWorld, api: SlackApiSandbox
) -> None:
    first = await world.start()
    assert await world.click(StepButton.DONE, first) == 200
    second = await world.wait_for(lambda: next((m for m in world.thread() if m.live and m.step == 1), None))

    await world.hand_over(second, "nurse")
    theirs = await live_step_other_than(world, 1, second)
    await world.idle()
    # The giver's step message lost its buttons; the colleague is invited in the same thread.
    assert not next(m for m in world.thread() if m.ref == second.ref).live
    assert any("handed you the Dentally set-up" in m.text for m in world.thread())
    assert world.mentioned_in_thread("nurse")  # the platform notifies the colleague
    giver, receiver = await state_of(world, "admin"), await state_of(world, "nurse")
    assert (giver.status, giver.handed_to) == (Status.ABANDONED, receiver.user)
    assert receiver.taken_from == giver.user
    assert receiver.step_id == giver.step_id
    assert receiver.thread_ref == giver.thread_ref
    first_id = world.runtime.guide.steps[0].id
    assert receiver.steps[first_id].done == giver.steps[first_id].done  # progress kept

    # The giver's click on the colleague's step changes nothing and offers to take it over.
    assert await world.click(StepButton.DONE, theirs) == 200
    await world.wait_for(lambda: any("take it over" in note for note in world.notes_of("admin")))
    await world.idle()
    assert (await state_of(world, "nurse")).step_id == receiver.step_id
    # The colleague's click moves it on.
    assert await world.click_as("nurse", StepButton.DONE, theirs) == 200
    await world.wait_for(lambda: next((m for m in world.thread() if m.live and m.step == 2), None))
    assert (await state_of(world, "nurse")).step_id == world.runtime.guide.steps[2].id

    await world.wait_for(lambda: any("was handed the guide by" in t for t in support_texts(api)))
    await world.wait_for(lambda: any("handed over to" in t for t in support_texts(api)))  # the status card


async def test_take_over_then_take_back_keeps_the_place(world: PlatformWorld, api: SlackApiSandbox) -> None:
    first = await world.start()
    assert await world.click(StepButton.DONE, first) == 200
    second = await world.wait_for(lambda: next((m for m in world.thread() if m.live and m.step == 1), None))

    # A colleague clicks the admin's guide: "not yours", with Take over; they take it.
    assert await world.click_as("nurse", StepButton.DONE, second) == 200
    await world.take_over("nurse")
    theirs = await live_step_other_than(world, 1, second)
    await world.wait_for(lambda: any("has taken over the Dentally set-up" in m.text for m in world.thread()))
    assert (await state_of(world, "admin")).status is Status.ABANDONED
    assert (await state_of(world, "nurse")).step_id == world.runtime.guide.steps[1].id
    await world.wait_for(lambda: any("took over the guide from" in t for t in support_texts(api)))

    # The admin takes it back from the colleague's step message.
    assert await world.click(StepButton.DONE, theirs) == 200
    await world.take_over("admin")
    mine = await live_step_other_than(world, 1, theirs)
    await world.idle()
    back, nurse = await state_of(world, "admin"), await state_of(world, "nurse")
    assert back.in_progress
    assert back.step_id == world.runtime.guide.steps[1].id
    assert (nurse.status, nurse.handed_to) == (Status.ABANDONED, back.user)
    assert await world.click(StepButton.DONE, mine) == 200
    await world.wait_for(lambda: next((m for m in world.thread() if m.live and m.step == 2), None))


async def test_a_replica_that_died_between_the_two_runs_leaves_the_hand_over_for_recovery_to_finish(
    world: PlatformWorld, api: SlackApiSandbox
) -> None:
    first = await world.start()
    assert await world.click(StepButton.DONE, first) == 200
    second = await world.wait_for(lambda: next((m for m in world.thread() if m.live and m.step == 1), None))
    await world.idle()
    service = world.runtime.core.service
    giver = await state_of(world, "admin")

    # What a replica does before it dies mid hand-over: the receiver's run (with its outbox) is saved, nothing else.
    event = TakeOver(giver.user, giver.step_id, giver.thread_ref, dict(giver.steps), giver.started_at, world.clock())
    saved = await service.handle(world.user_key("nurse"), event)
    assert saved.batch is not None
    assert (await state_of(world, "admin")).in_progress  # the giver's run has not ended yet...

    world.clock.advance(service.outbox_grace + 1)
    assert await world.runtime.scheduler.run_once() >= 1
    await world.runtime.core.tasks.drain(5)
    await live_step_other_than(world, 1, second)
    await world.idle()
    # ...and recovery ended it: one guide, the colleague's, with the giver's buttons gone and everyone told.
    handed = await state_of(world, "admin")
    assert (handed.status, handed.handed_to) == (Status.ABANDONED, world.user_key("nurse").user)
    assert not next(m for m in world.thread() if m.ref == second.ref).live
    assert sum("handed you the Dentally set-up" in m.text for m in world.thread()) == 1
    await world.wait_for(lambda: any("was handed the guide by" in t for t in support_texts(api)))
    world.clock.advance(600)
    assert await world.runtime.scheduler.run_once() == 0  # nothing is done twice


async def test_a_late_end_of_the_giver_leaves_a_guide_they_started_afresh_alone(
    world: PlatformWorld, api: SlackApiSandbox
) -> None:
    first = await world.start()
    await world.idle()
    service = world.runtime.core.service
    giver = await state_of(world, "admin")
    # The receiver's run was saved long ago; meanwhile the giver's run ended and they started a new one.
    late = EndGiverRun(giver.user, giver.started_at - 1, world.clock())
    taken = TakeOver(giver.user, giver.step_id, giver.thread_ref, dict(giver.steps), giver.started_at - 1, 0.0)
    assert first.live
    saved = await service.handle(world.user_key("nurse"), taken)
    assert saved.state is not None
    await world.runtime.core.runner.carry_out(Handled(saved.state, (late,)))
    await world.idle()
    assert (await state_of(world, "admin")).in_progress


async def test_slack_refuses_a_hand_over_to_someone_outside_the_channel_in_the_form(
    api: SlackApiSandbox, state_url: str, dentally_url: str
) -> None:
    async with platform_world("slack", api, state_url, dentally_url) as world:
        assert isinstance(world, SlackWorld)
        outsider = api.workspace.add_user(User("U0OUTSIDE", api.workspace.installing_team_id, "kim", "Kim Lee"))
        first = await world.start()
        assert (await world.driver.click(ADMIN, first.ref, blocks.ACTION_HAND_OVER)).status_code == 200
        view = await world.wait_for(lambda: world.driver.open_view(ADMIN))
        # Slack's picker lists the whole workspace; the form says why someone outside the channel can't take it.
        refused = await world.driver.submit_view(ADMIN, view, {modals.BLOCK_COLLEAGUE: outsider.id})
        assert refused.ack == {
            "response_action": "errors",
            "errors": {modals.BLOCK_COLLEAGUE: copy.HAND_OVER_NOT_IN_CHANNEL},
        }
        await world.idle()
        assert (await state_of(world, "admin")).in_progress
        assert not any("handed you the Dentally set-up" in m.text for m in world.thread())
