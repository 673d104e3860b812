"""Socket Mode (development): Bolt's aiohttp Socket Mode handler, connected for as long as a block runs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from bot.logs import library_logger


@contextlib.asynccontextmanager
async def socket_mode(bolt: AsyncApp, app_token: str) -> AsyncIterator[AsyncSocketModeHandler]:
    """Connect ``bolt`` to Slack over Socket Mode for the block, then close the connection.

    The link comes from ``apps.connections.open`` at the app client's address (``SLACK_API_URL``); slack_sdk's client
    moves to a new link whenever Slack asks it to (``disconnect``) or the connection drops.
    """
    handler = AsyncSocketModeHandler(bolt, app_token, logger=library_logger("socket_mode"))
    await handler.connect_async()  # type: ignore[no-untyped-call]
    try:
        yield handler
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
