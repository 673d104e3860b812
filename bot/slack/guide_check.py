"""Every Slack message a guide's texts end up in, rendered and checked against Block Kit's limits before anyone sees it.

The guide loader checks each text alone, but Slack limits what is rendered: a step's title and text share one
section (3000 characters), the kick-off joins a greeting, the guide's title and its summary. Only the rendered
blocks show whether Slack would accept a message, so they are what is checked here.
"""

from __future__ import annotations

import copy

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.basic_objects import JsonObject
from slack_sdk.models.blocks import Block

from bot.core import messages as m
from bot.core.guide_messages import step_messages
from bot.slack.blocks import Blocks
from bot.slack.render import render
from conversations.guide import Guide, GuideError, Step

# Longer than any Slack user id seen (U/W plus 8–10 characters), so a welcome that fits here fits for everyone.
_LONGEST_USER = "U" + "X" * 19


def _picture(step: Step) -> str:
    return f"https://guide.example/guide-assets/{step.image}?v=1"


def _messages(guide: Guide) -> list[tuple[str, m.Outgoing]]:
    """Every message whose blocks carry the guide's own texts, with where it appears."""
    found: list[tuple[str, m.Outgoing]] = [
        ("kick-off", m.Kickoff()),
        ("kick-off greeting a newcomer", m.Kickoff(welcome_user=_LONGEST_USER)),
    ]
    for index in range(guide.step_count):
        found += step_messages(guide, index, _LONGEST_USER)
    return found


def _parts(block: Block) -> list[JsonObject]:
    """The elements inside ``block`` that slack_sdk can check: an actions block's buttons, a section's accessory."""
    parts = [e for e in getattr(block, "elements", None) or [] if isinstance(e, JsonObject)]
    accessory = getattr(block, "accessory", None)
    return parts + ([accessory] if isinstance(accessory, JsonObject) else [])


def block_problems(blocks: Blocks) -> list[str]:
    """What Block Kit's rules (as ``slack_sdk.models`` enforce them) refuse in ``blocks``; empty when accepted."""
    problems = []
    for index, raw in enumerate(blocks):
        try:
            block = Block.parse(copy.deepcopy(raw))
            if block is None:
                problems.append(f"block {index}: unknown type {raw.get('type')!r}")
                continue
            block.validate_json()
            # A block checks only its own fields: its buttons (a label over 75 characters, say) are checked here.
            for element in _parts(block):
                element.validate_json()
        except SlackObjectFormationError as exc:
            problems.append(f"block {index} ({raw.get('block_id') or raw.get('type')}): {exc}")
    return problems


def guide_problems(guide: Guide) -> list[str]:
    """Why Slack would refuse a message built from ``guide``; empty when every one would be accepted."""
    problems: dict[str, None] = {}  # a step renders in several variants: name each problem once
    for where, message in _messages(guide):
        _, blocks = render(message, guide, _picture)
        problems |= dict.fromkeys(f"{where}: {problem}" for problem in block_problems(blocks or []))
    return list(problems)


def check_guide(guide: Guide) -> None:
    """Refuse a guide any of whose Slack messages Slack would refuse.

    Raises:
        GuideError: Naming every message and what is wrong with it.
    """
    problems = guide_problems(guide)
    if problems:
        listed = "\n  ".join(problems)
        raise GuideError(
            f"guide {guide.id}: Slack would refuse {len(problems)} rendered message part(s) (shorten the texts named):"
            f"\n  {listed}"
        )
