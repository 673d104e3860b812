"""``aldense-guide forget`` and ``export``: a clinic's data erased, or shown for an access request, from the shell.

Both read ``STATE_URL`` like ``run``. With Slack (or Teams) credentials set, ``forget`` also retires the clinic's
status card and, with ``--tell-clinic``, tells the clinic; without them it erases the stored data alone.

Exit codes: 0 done, 1 nothing is stored for that channel, 2 the store cannot be reached or holds a record of a newer
release (nothing was changed by this run then, or only part: run it again).
"""

from __future__ import annotations

import contextlib
import getpass
import socket
import sys
from collections.abc import AsyncIterator

from bot.logs import configure_logging
from bot.runtime import Runtime, open_runtime
from bot.settings import load_settings
from conversations.schema import IncompatibleRecord
from conversations.store import StoreUnavailable


@contextlib.asynccontextmanager
async def _runtime() -> AsyncIterator[Runtime]:
    settings = load_settings("check-key")
    configure_logging("WARNING", settings.server.log_format)
    async with open_runtime(settings) as runtime:
        yield runtime


def _who() -> str:
    """Who ran the command, as the retired status card names them."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "someone"
    return f"`{user}@{socket.gethostname()}` (aldense-guide forget)"


def _failed(exc: Exception) -> int:
    if isinstance(exc, IncompatibleRecord):
        print(f"aldense-guide: {exc}", file=sys.stderr)
    else:
        print("aldense-guide: the state store did not answer; run the command again", file=sys.stderr)
    return 2


async def forget(channel: str, platform: str, tell_clinic: bool) -> int:
    """Erase everything stored about the clinic of ``channel``; prints what was erased."""
    async with _runtime() as runtime:
        try:
            erased = await runtime.core.erasure.forget(platform, channel, by=_who(), tell_clinic=tell_clinic)
        except (StoreUnavailable, IncompatibleRecord) as exc:
            return _failed(exc)
    if erased.nothing:
        print(f"Nothing is stored for {platform} channel {channel}: nothing to forget.")
        return 1
    print(f"{platform} channel {channel}: {erased.summary()}.")
    print("Status card retired." if erased.card_retired else "No status card was retired (none, or no Slack access).")
    if tell_clinic:
        print("The clinic was told." if erased.clinic_told else "The clinic could not be told (no access to it).")
    return 0


async def export(channel: str, platform: str) -> int:
    """Print, as JSON, what is stored about the clinic of ``channel`` (never its key)."""
    async with _runtime() as runtime:
        try:
            held = await runtime.core.erasure.held(platform, channel)
        except (StoreUnavailable, IncompatibleRecord) as exc:
            return _failed(exc)
    if held.nothing:
        print(f"Nothing is stored for {platform} channel {channel}.", file=sys.stderr)
        return 1
    print(held.to_json())
    return 0
