"""Block Kit and view validation the way Slack does it, on top of slack_sdk.models' per-element rules and limits."""

from __future__ import annotations

import copy
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View as SdkView

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100


def _compare(sent: Any, kept: Any, pointer: str, errors: list[str]) -> None:
    """Report what slack_sdk's models silently dropped or coerced, which Slack itself would refuse."""
    if isinstance(sent, dict):
        if not isinstance(kept, dict):
            errors.append(f"unsupported value [json-pointer:{pointer}]")
            return
        for key, value in sent.items():
            if key in kept:
                _compare(value, kept[key], f"{pointer}/{key}", errors)
            elif isinstance(value, list) and not value:
                errors.append(f"must provide at least 1 item [json-pointer:{pointer}/{key}]")
            elif value not in (None, ""):
                # The models drop keys they do not know; Slack answers "invalid additional property".
                errors.append(f"invalid additional property: {key} [json-pointer:{pointer}]")
    elif isinstance(sent, list):
        if not isinstance(kept, list):
            errors.append(f"must be an array [json-pointer:{pointer}]")
            return
        for index, (item, kept_item) in enumerate(zip(sent, kept, strict=False)):
            if kept_item is None:
                errors.append(f"unsupported type [json-pointer:{pointer}/{index}]")
            else:
                _compare(item, kept_item, f"{pointer}/{index}", errors)
    elif isinstance(kept, dict):
        # slack_sdk turns a bare string into a text object; Slack wants the object.
        errors.append(f"must be an object [json-pointer:{pointer}]")


def validate_blocks(blocks: Any, *, limit: int = MAX_MESSAGE_BLOCKS, pointer: str = "/blocks") -> list[str]:
    """Check blocks the way Slack does, using ``slack_sdk.models`` for the per-element rules and limits.

    Args:
        blocks: The ``blocks`` value as sent (a list of dicts).
        limit: Most blocks allowed: 50 in a message, 100 in a view.
        pointer: JSON pointer of ``blocks`` inside the request, used in the messages.

    Returns:
        Slack-style error strings (``"... [json-pointer:/blocks/0/text]"``); empty when valid.
    """
    if not isinstance(blocks, list):
        return [f"must be an array [json-pointer:{pointer}]"]
    errors: list[str] = []
    if len(blocks) > limit:
        errors.append(f"must be less than {limit + 1} items [json-pointer:{pointer}]")
    for index, raw in enumerate(blocks):
        where = f"{pointer}/{index}"
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
            errors.append(f"missing required field: type [json-pointer:{where}]")
            continue
        try:
            block = Block.parse(copy.deepcopy(raw))
            if block is None:
                errors.append(f"unsupported type: {raw['type']} [json-pointer:{where}/type]")
                continue
            kept = block.to_dict()  # validates the block and, recursively, its elements
        except SlackObjectFormationError as exc:
            errors.append(f"{exc} [json-pointer:{where}]")
            continue
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            errors.append(f"invalid block: {exc} [json-pointer:{where}]")
            continue
        _compare(raw, kept, where, errors)
    return errors


def validate_view(view: Any, *, pointer: str = "/view") -> list[str]:
    """Check a modal or App Home view the way Slack does (title/submit/close lengths, 1–100 blocks, metadata size).

    Args:
        view: The ``view`` value as sent.
        pointer: JSON pointer of the view inside the request.

    Returns:
        Slack-style error strings; empty when valid.
    """
    if not isinstance(view, dict):
        return [f"must be an object [json-pointer:{pointer}]"]
    kind = view.get("type")
    if kind not in ("modal", "home"):
        return [f"must be one of modal, home [json-pointer:{pointer}/type]"]
    errors: list[str] = []
    if kind == "modal" and not view.get("title"):
        errors.append(f"missing required field: title [json-pointer:{pointer}]")
    if "blocks" not in view:
        errors.append(f"missing required field: blocks [json-pointer:{pointer}]")
    try:
        SdkView(**copy.deepcopy(view)).validate_json()
    except SlackObjectFormationError as exc:
        errors.append(f"{exc} [json-pointer:{pointer}]")
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        errors.append(f"invalid view: {exc} [json-pointer:{pointer}]")
    errors += validate_blocks(view.get("blocks", []), limit=MAX_VIEW_BLOCKS, pointer=f"{pointer}/blocks")
    return errors
