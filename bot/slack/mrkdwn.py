"""Outside text made inert in Slack's mrkdwn: the one escape for names, typed words, anything not written by us.

Slack reads ``<…>`` as a mention, a broadcast (``<!channel>``) or a link with any label (``<https://x|label>``), and
``&`` starts an entity, so those three characters are written as entities, as Slack's own documentation asks. Line
breaks and other control characters become spaces (a name is one line), and the result is capped: a 3,000-character
practice name must not push a section past Slack's limit (``invalid_blocks``).
"""

from __future__ import annotations

from bot.core.copy import Shown

NAME_LIMIT = 80
"""The longest escaped outside value shown (names, typed words); longer ones end in ``…``."""

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape(text: str, limit: int = NAME_LIMIT, one_line: bool = True) -> Shown:
    """``text`` as inert Slack mrkdwn of at most ``limit`` characters (entities never cut in half).

    Args:
        text: Text from outside (Dentally, the clinic, Slack or Teams).
        limit: The longest result, counting each entity whole.
        one_line: Line breaks become spaces too (names are one line; evidence keeps its lines).

    Returns:
        The escaped text, cut and ended with ``…`` when it would be longer than ``limit``.
    """
    pieces = [_ENTITIES.get(c) or (c if c.isprintable() or (c == "\n" and not one_line) else " ") for c in text]
    if sum(map(len, pieces)) <= limit:
        return Shown("".join(pieces))
    kept: list[str] = []
    room = limit - 1  # for the "…"
    for piece in pieces:
        if len(piece) > room:
            break
        kept.append(piece)
        room -= len(piece)
    return Shown("".join(kept) + "…")


def mention(user: str) -> Shown:
    """A Slack mention of ``user`` (an id Slack gave us): Slack shows every reader the person's current name."""
    return Shown(f"<@{user}>")


def quoted(text: str, limit: int = 2000) -> str:
    """``text`` escaped and shown as a block quote (each line), cut to ``limit`` characters with an ellipsis.

    Formatting characters (``*``, ``_``, backticks) inside the quote still format, which is harmless: they cannot
    reach outside the quote, and no mention or link can be formed.
    """
    return "\n".join(f"> {line}" for line in escape(text, limit, one_line=False).splitlines() or [""])
