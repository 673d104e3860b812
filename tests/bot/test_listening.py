"""The bot listens where it runs guides, on Slack and Teams alike: a pasted key is flagged, a question reaches support.

Each scenario drives a real bot over signed HTTP through the platform's stand-in (``tests/bot/platform_worlds.py``);
support lives in the Slack sandbox's onboarding channel for both platforms.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr

from bot.core import copy
from bot.fakes.slack import SlackApiSandbox
from conversations.clinic import Clinic, StoredCredential
from tests.bot.harness import ADMIN, CLINIC, ONBOARDING, every_logger_at, message_text
from tests.bot.platform_worlds import PLATFORMS, PlatformWorld, SlackWorld, TeamsWorldView, platform_world

# Shaped like a Doorkeeper token (43 url-safe characters); distinctive, so any leak of a piece of it is found.
PASTED = "PastedK3y_w9Zr2W-vY8pLm3KdT9sHf4JbN6cXe1uAo"
WARNING_WORDS = "looks like a Dentally API key"
QUESTION = "I don't have a Developer tab <!here> & <https://evil.example|click> — what do I do?"


@pytest.fixture(params=PLATFORMS)
async def world(
    request: pytest.FixtureRequest, api: SlackApiSandbox, state_url: str, dentally_url: str
) -> AsyncIterator[PlatformWorld]:
    async with platform_world(request.param, api, state_url, dentally_url) as opened:
        yield opened


@pytest.fixture
def every_logger_at_debug(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    with every_logger_at(logging.DEBUG):
        yield caplog


def support_texts(api: SlackApiSandbox) -> list[str]:
    """Every message in Aldense's onboarding channel (cards and their threads), oldest first."""
    return [message_text(m) for m in api.messages(ONBOARDING, include_replies=True)]


def pieces(secret: str, size: int = 8) -> set[str]:
    return {secret[index : index + size] for index in range(len(secret) - size + 1)}


def assert_nowhere(secret: str, *texts: str) -> None:
    for text in texts:
        assert not [piece for piece in pieces(secret) if piece in text], text[:200]


async def store_connection(world: PlatformWorld, key: str) -> None:
    """The clinic is connected with ``key`` (stored encrypted, as a verified check leaves it)."""
    core = world.runtime.core
    assert core.vault is not None
    credential = StoredCredential(
        ciphertext=core.vault.encrypt(SecretStr(key)),
        fingerprint=key[-4:],
        region="uk",
        scopes=("user:read",),
        verified_at=world.clock(),
        verified_by=world.key.user,
    )

    def connect(clinic: Clinic) -> Clinic:
        return clinic.model_copy(update={"credential": credential})

    await core.service.update_clinic(world.key.platform, world.key.channel, connect)


async def test_a_key_pasted_at_the_top_level_gets_a_warning_in_its_thread_and_support_the_fingerprint(
    world: PlatformWorld, api: SlackApiSandbox, every_logger_at_debug: pytest.LogCaptureFixture
) -> None:
    await world.start()  # the clinic has a guide, so it has a support thread
    root = await world.type(f"here's the key: {PASTED}", in_thread=False)

    warning = await world.wait_for(lambda: next((t for t in world.bot_replies(root) if WARNING_WORDS in t), None))
    assert "Settings → Developer → Personal tokens" in warning.replace("**", "").replace("*", "")
    assert PASTED[-4:] in warning
    assert copy.KEY_EXPOSED_STORED.split(".")[0] not in warning  # not the clinic's stored key
    note = await world.wait_for(lambda: next((t for t in support_texts(api) if "pasted a Dentally key" in t), None))
    assert f"`…{PASTED[-4:]}`" in note
    assert "not the clinic's stored key" in note
    await world.idle()
    clinic = await world.runtime.core.service.clinic(world.key.platform, world.key.channel)
    assert clinic is None or clinic.credential is None
    assert_nowhere(PASTED, *world.bot_replies(root), *support_texts(api), every_logger_at_debug.text)


async def test_a_pasted_key_that_is_the_stored_one_marks_the_connection_compromised(
    world: PlatformWorld, api: SlackApiSandbox, every_logger_at_debug: pytest.LogCaptureFixture
) -> None:
    await world.start()
    await store_connection(world, PASTED)
    root = await world.type(PASTED)  # in the guide's thread

    warning = await world.wait_for(lambda: next((t for t in world.bot_replies(root) if WARNING_WORDS in t), None))
    assert "connects your practice to Aldense" in warning
    assert "Set up a new key privately" in _buttons_of(world, root)
    note = await world.wait_for(lambda: next((t for t in support_texts(api) if "pasted a Dentally key" in t), None))
    assert "It is the clinic's stored key" in note
    await world.idle()
    clinic = await world.runtime.core.service.clinic(world.key.platform, world.key.channel)
    assert clinic is not None
    assert clinic.credential is not None
    assert clinic.credential.exposed_at is not None
    card = await world.wait_for(lambda: next((t for t in support_texts(api) if "was pasted in the channel" in t), None))
    assert f"`…{PASTED[-4:]}`" in card
    assert_nowhere(PASTED, *world.bot_replies(root), *support_texts(api), every_logger_at_debug.text)


def _buttons_of(world: PlatformWorld, root: str) -> list[str]:
    """The button labels of the bot's replies under ``root``."""
    if isinstance(world, TeamsWorldView):
        return [title for m in world.driver.connector.messages(world.where.id, root) for title in m.titles]
    assert isinstance(world, SlackWorld)
    return [
        str(element["text"]["text"])
        for message in world.api.thread(CLINIC, root)[1:]
        for block in message.blocks
        if block.get("type") == "actions"
        for element in block["elements"]
    ]


async def test_a_question_typed_in_the_guide_thread_reaches_support_escaped(
    world: PlatformWorld, api: SlackApiSandbox, every_logger_at_debug: pytest.LogCaptureFixture
) -> None:
    await world.start()
    await world.type(QUESTION)

    note = await world.wait_for(lambda: next((t for t in support_texts(api) if "Developer tab" in t), None))
    # Escaped: the clinic cannot mention @here or forge a link in Aldense's channel.
    assert "&lt;!here&gt;" in note
    assert "&lt;https://evil.example|click&gt;" in note
    assert "&amp;" in note
    assert "<!here>" not in note
    assert "wrote in their Dentally guide thread" in note
    told = await world.wait_for(lambda: next((t for t in world.notes() if "a person will answer" in t), None))
    assert "Aldense team" in told
    # What the clinic typed is in no log line, at any level, of any logger.
    assert "Developer tab" not in every_logger_at_debug.text
    assert "evil.example" not in every_logger_at_debug.text


async def test_a_top_level_message_without_a_key_is_left_alone(world: PlatformWorld, api: SlackApiSandbox) -> None:
    await world.start()
    before = len(world.notes())
    root = await world.type("Morning all — coffee's in the kitchen", in_thread=False)
    await world.idle()
    await world.idle()
    assert world.bot_replies(root) == []
    assert len(world.notes()) == before
    assert not [t for t in support_texts(api) if "coffee" in t]


@pytest.mark.parametrize("platform", ["slack"])
async def test_slack_edits_joins_and_the_bots_own_messages_are_ignored(
    platform: str,
    api: SlackApiSandbox,
    state_url: str,
    dentally_url: str,
    every_logger_at_debug: pytest.LogCaptureFixture,
) -> None:
    async with platform_world(platform, api, state_url, dentally_url) as opened:
        world = opened
        assert isinstance(world, SlackWorld)
        await world.start()
        thread = world.openers()[-1].ref
        # The bot's own step message, echoed by Slack as a ``message`` event with ``bot_id``, in the guide thread.
        step = world.thread()[-1]
        await world.driver.echo_bot_message(CLINIC, step.ref)
        # An edit that adds a key: Slack sends ``message_changed``; only new messages are read.
        said = await world.driver.post_message(ADMIN, CLINIC, "ok", thread_ts=thread)
        assert said.status_code == 200
        await world.idle()
        await world.idle()
        forwarded = [t for t in support_texts(api) if "wrote in their Dentally guide thread" in t]
        assert len(forwarded) == 1  # the "ok" only
        await world.driver.edit_message(ADMIN, CLINIC, str(said.payload["event"]["ts"]), f"ok {PASTED}")
        await world.driver.join_channel("U0NURSE", CLINIC)
        await world.idle()
        await world.idle()
        assert [t for t in world.bot_replies(thread) if WARNING_WORDS in t] == []
        assert len([t for t in support_texts(api) if "wrote in their Dentally guide thread" in t]) == 1
    # Every message event had a listener: Bolt never warned "Unhandled request", and nothing typed was logged.
    assert "Unhandled request" not in every_logger_at_debug.text
    assert "no listener" not in every_logger_at_debug.text
    assert_nowhere(PASTED, every_logger_at_debug.text)


async def test_a_key_pasted_before_anyone_started_a_guide_still_reaches_support(
    world: PlatformWorld, api: SlackApiSandbox, every_logger_at_debug: pytest.LogCaptureFixture
) -> None:
    root = await world.type(f"is this what you need? {PASTED}", in_thread=False)

    await world.wait_for(lambda: next((t for t in world.bot_replies(root) if WARNING_WORDS in t), None))
    note = await world.wait_for(
        lambda: next(
            (message_text(m) for m in api.messages(ONBOARDING) if "pasted a Dentally key" in message_text(m)), None
        )
    )
    assert f"`…{PASTED[-4:]}`" in note
    assert_nowhere(PASTED, *support_texts(api), every_logger_at_debug.text)
