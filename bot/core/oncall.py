"""Who a request for help pages: Slack user-group and user ids read from a setting, as Slack mention text."""

from __future__ import annotations

import re

_GROUP = re.compile(r"^S[A-Z0-9]{2,}$")
_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


def mentions(ids: str) -> str:
    """``S123,U456`` as ``<!subteam^S123> <@U456>`` (support works in Slack, whatever the clinic's platform).

    Raises:
        ValueError: An entry is neither a user-group id (``S…``) nor a user id (``U…``/``W…``).
    """
    shown = []
    for entry in (part.strip() for part in ids.split(",")):
        if not entry:
            continue
        if _GROUP.match(entry):
            shown.append(f"<!subteam^{entry}>")
        elif _USER.match(entry):
            shown.append(f"<@{entry}>")
        else:
            raise ValueError(f"{entry!r} is neither a Slack user-group id (S…) nor a user id (U…)")
    return " ".join(shown)
