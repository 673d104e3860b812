"""Outside text made safe for Slack's mrkdwn: what clinics type is shown as typed, never as links or mentions."""

from __future__ import annotations

# Slack gives meaning to these three only (``<@U1>``, ``<!here>``, ``<https://…|label>``); escaping them leaves
# every other character as typed.
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def escape_mrkdwn(text: str) -> str:
    """``text`` with ``&``, ``<`` and ``>`` escaped, so it cannot mention, link or break the message around it."""
    return text.translate(_ESCAPES)


def quoted(text: str, limit: int = 2000) -> str:
    """``text`` escaped and shown as a block quote (each line), cut to ``limit`` characters with an ellipsis.

    Formatting characters (``*``, ``_``, `````) inside the quote still format, which is harmless: they cannot reach
    outside the quote, and no mention or link can be formed.
    """
    cut = text if len(text) <= limit else text[:limit].rstrip() + "…"
    return "\n".join(f"> {line}" for line in escape_mrkdwn(cut).splitlines() or [""])
