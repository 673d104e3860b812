"""Block Kit and view validation the way Slack does it, on top of slack_sdk.models' per-element rules and limits."""

from __future__ import annotations

import copy
import ipaddress
import urllib.parse
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
        errors += _action_id_problems(raw, where)
    errors += _block_id_problems(blocks, pointer)
    errors += [f"{problem} [json-pointer:{where}]" for where, url in image_urls(blocks, pointer)
               if (problem := _image_url_problem(url))]  # fmt: skip
    return errors


def image_urls(blocks: list[Any], pointer: str = "/blocks") -> list[tuple[str, str]]:
    """``(json-pointer, url)`` of every ``image_url`` Slack would have to fetch: image blocks and image elements."""
    found: list[tuple[str, str]] = []
    for index, block in enumerate(blocks):
        if not isinstance(block, dict):
            continue
        where = f"{pointer}/{index}"
        if block.get("type") == "image" and isinstance(block.get("image_url"), str):
            found.append((f"{where}/image_url", block["image_url"]))
        accessory = block.get("accessory")
        if (
            isinstance(accessory, dict)
            and accessory.get("type") == "image"
            and isinstance(accessory.get("image_url"), str)
        ):
            found.append((f"{where}/accessory/image_url", accessory["image_url"]))
        for number, element in enumerate(block.get("elements") or []):
            if (
                isinstance(element, dict)
                and element.get("type") == "image"
                and isinstance(element.get("image_url"), str)
            ):
                found.append((f"{where}/elements/{number}/image_url", element["image_url"]))
    return found


def _image_url_problem(url: str) -> str | None:
    """Slack fetches pictures over https; plain http is accepted here only on loopback (the playground serves so)."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "https" and parsed.hostname:
        return None
    if parsed.scheme == "http" and _loopback(parsed.hostname or ""):
        return None
    return "downloading image failed: the image_url must be https"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _block_id_problems(blocks: list[Any], pointer: str) -> list[str]:
    """Slack refuses two blocks with one ``block_id`` in a message or view."""
    seen: set[str] = set()
    problems = []
    for index, block in enumerate(blocks):
        block_id = block.get("block_id") if isinstance(block, dict) else None
        if isinstance(block_id, str):
            if block_id in seen:
                problems.append(f"duplicate block_id: {block_id} [json-pointer:{pointer}/{index}/block_id]")
            seen.add(block_id)
    return problems


def _action_id_problems(block: dict[str, Any], where: str) -> list[str]:
    """Slack refuses two elements with one ``action_id`` in a block."""
    seen: set[str] = set()
    problems = []
    for number, element in enumerate(block.get("elements") or []):
        action_id = element.get("action_id") if isinstance(element, dict) else None
        if isinstance(action_id, str):
            if action_id in seen:
                problems.append(f"duplicate action_id: {action_id} [json-pointer:{where}/elements/{number}/action_id]")
            seen.add(action_id)
    return problems


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
    blocks = view.get("blocks", [])
    errors += validate_blocks(blocks, limit=MAX_VIEW_BLOCKS, pointer=f"{pointer}/blocks")
    has_input = isinstance(blocks, list) and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
    if kind == "modal" and has_input and not view.get("submit"):
        errors.append(f"a modal with input blocks must have a submit button [json-pointer:{pointer}/submit]")
    return errors
