"""Every Teams message a guide's texts end up in, rendered and checked against Teams' size limit before it is sent.

The guide loader counts characters against Slack's limits, but Teams limits the bytes of a whole message: a step
card carries the title, the text, the picture (or its description) and the buttons' data together, so only the
rendered activity shows whether Teams would accept it.
"""

from __future__ import annotations

import json
from typing import Any

from bot.core import messages as m
from bot.core.guide_messages import step_messages
from bot.teams import cards
from bot.teams.messenger import outgoing
from bot.teams.render import LABEL, render
from conversations.guide import Guide, GuideError, Step

MESSAGE_LIMIT = 25_000
"""The most bytes a Teams message may take, whole activity included.

Microsoft documents no exact figure: a Microsoft answer gives about 28 KB, a PnP blog post 25 KB (see
``shared/reference/teams.md``, "Image constraints"). The stricter one is used, read as 25,000 bytes rather than
25 × 1024.
"""

# Teams user ids seen are about 90 characters ("29:" and a long opaque id); twice that leaves room for longer ones.
_LONGEST_USER = "29:" + "x" * 200
# A display name at the length cards show (longer ones are cut), of the characters that take the most bytes in JSON.
_LONGEST_NAME = "🦷" * cards.NAME_LIMIT


def _picture(step: Step) -> str:
    return f"https://guide.example/guide-assets/{step.image}?v=1"


def _name(user: str) -> str:
    return _LONGEST_NAME


def _messages(guide: Guide) -> list[tuple[str, m.Outgoing]]:
    """Every message that carries the guide's own texts, with where it appears (variants share a place)."""
    found: list[tuple[str, m.Outgoing]] = [
        ("kick-off", m.Kickoff()),
        ("kick-off", m.Kickoff(welcome_user=_LONGEST_USER, welcome_name=_LONGEST_NAME)),
        ("thread opener", m.ThreadOpener(_LONGEST_USER)),
        ("help text", m.HelpText()),
    ]
    for index, step in enumerate(guide.steps):
        found += step_messages(guide, index, _LONGEST_USER)
        found.append((f"step {step.id} earlier button", m.StaleClick(index, "")))
    return found


def payload_size(activity: dict[str, Any]) -> int:
    """The bytes of ``activity`` as JSON with every non-ASCII character escaped.

    How Teams counts is not documented; a character outside ASCII takes 2–4 bytes in UTF-8 (what we send) and
    6 or 12 as a JSON escape (what a service may store), so the larger count is used: what passes here fits either way.
    """
    return len(json.dumps(activity, ensure_ascii=True, separators=(",", ":")))


def missing_fields(activity: dict[str, Any]) -> list[str]:
    """What ``activity`` lacks that Teams needs: text, or a 1.5 card whose text blocks and pictures are complete."""
    attachments = activity.get("attachments") or []
    if not attachments:
        return [] if activity.get("text") else ["a message without text"]
    problems = []
    for attachment in attachments:
        card = attachment.get("content") or {}
        if card.get("type") != "AdaptiveCard" or card.get("version") != cards.VERSION:
            problems.append(f"not an Adaptive Card {cards.VERSION}")
        for element in card.get("body") or []:
            if element.get("type") == "TextBlock" and not element.get("text"):
                problems.append("a TextBlock without text")
            elif element.get("type") == "Image" and not (element.get("url") and element.get("altText")):
                problems.append("a picture without its address or alt text")
    return problems


def rendered(guide: Guide) -> list[tuple[str, dict[str, Any]]]:
    """Every activity carrying ``guide``'s texts, as sent to Teams, with where it appears."""
    return [
        (where, outgoing(render(message, guide, _picture, _name)).model_dump(by_alias=True, exclude_none=True))
        for where, message in _messages(guide)
    ]


def guide_problems(guide: Guide) -> list[str]:
    """Why Teams would refuse a message built from ``guide``; empty when every one would be accepted."""
    largest: dict[str, int] = {}
    problems: dict[str, None] = {}  # a place renders in several variants: name each problem once
    for where, activity in rendered(guide):
        largest[where] = max(largest.get(where, 0), payload_size(activity))
        problems |= dict.fromkeys(f"{where}: {LABEL} message has {fault}" for fault in missing_fields(activity))
    for where, size in largest.items():
        if size > MESSAGE_LIMIT:
            problems[f"{where}: {LABEL} message is {size:,} bytes; Teams takes at most {MESSAGE_LIMIT:,}"] = None
    return list(problems)


def check_guide(guide: Guide) -> None:
    """Refuse a guide any of whose Teams messages Teams would refuse.

    Raises:
        GuideError: Naming every message and what is wrong with it.
    """
    problems = guide_problems(guide)
    if problems:
        listed = "\n  ".join(problems)
        raise GuideError(
            f"guide {guide.id}: {LABEL} would refuse {len(problems)} rendered message(s) (shorten the texts named):"
            f"\n  {listed}"
        )
