"""Small typed wrappers over the Slack Web API calls the bot makes, so errors are read in one place."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

logger = logging.getLogger(__name__)

# What Slack answers when it could not fetch an image_url (python-slack-sdk#1782: sometimes even a reachable one).
PICTURE_ERRORS = frozenset({"invalid_blocks", "downloading_image_failed"})


def slack_error(exc: SlackApiError) -> str:
    """The ``error`` code of a failed call (``ratelimited``, ``channel_not_found``, …)."""
    response = getattr(exc, "response", None)
    data = getattr(response, "data", None)
    if isinstance(data, dict):
        return str(data.get("error") or "unknown_error")
    return "unknown_error"


def picture_refused(exc: SlackApiError) -> bool:
    """Whether Slack refused a message as it does when it cannot fetch a picture (then send it without)."""
    return slack_error(exc) in PICTURE_ERRORS


async def post(
    client: AsyncWebClient,
    channel: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    thread_ts: str | None = None,
    broadcast: bool = False,
) -> str:
    """Post a message and return its ``ts``."""
    kwargs: dict[str, Any] = {"channel": channel, "text": text, "unfurl_links": False, "unfurl_media": False}
    if blocks is not None:
        kwargs["blocks"] = blocks
    if thread_ts:
        kwargs["thread_ts"] = thread_ts
        if broadcast:
            kwargs["reply_broadcast"] = True
    response = await client.chat_postMessage(**kwargs)
    return str(response["ts"])


async def update(
    client: AsyncWebClient, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None
) -> None:
    """Replace the text and blocks of a message."""
    await client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks or [])


async def ephemeral(
    client: AsyncWebClient,
    channel: str,
    user: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    thread_ts: str | None = None,
) -> None:
    """Show ``user`` a message only they can see; a failure is logged, never raised (it is only a courtesy)."""
    kwargs: dict[str, Any] = {"channel": channel, "user": user, "text": text}
    if blocks is not None:
        kwargs["blocks"] = blocks
    if thread_ts:
        kwargs["thread_ts"] = thread_ts
    try:
        await client.chat_postEphemeral(**kwargs)
    except SlackApiError as exc:
        logger.warning("chat.postEphemeral to %s failed: %s", channel, slack_error(exc))


async def permalink(client: AsyncWebClient, channel: str, ts: str) -> str | None:
    """A link to a message, or None when Slack will not give one."""
    try:
        response = await client.chat_getPermalink(channel=channel, message_ts=ts)
    except SlackApiError as exc:
        logger.warning("chat.getPermalink failed: %s", slack_error(exc))
        return None
    link = response.get("permalink")
    return str(link) if link else None
