"""How a failed Bot Connector call is classified: the statuses Teams asks to be retried stay in the outbox."""

from __future__ import annotations

import httpx
import pytest

from bot.core.platform import Failure
from bot.teams.limits import RETRY_STATUSES
from bot.teams.messenger import UnknownConversation
from bot.teams.platform import failure_of


def status_error(status: int) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "http://127.0.0.1/v3/conversations/19:c/activities")
    return httpx.HTTPStatusError("refused", request=request, response=httpx.Response(status, request=request))


@pytest.mark.parametrize("status", sorted(RETRY_STATUSES))
def test_statuses_teams_asks_to_retry_leave_the_work_to_be_tried_again(status: int) -> None:
    assert failure_of(status_error(status)) == (Failure.UNREACHABLE, f"HTTP {status}")


@pytest.mark.parametrize("status", [400, 403, 404])
def test_other_4xx_are_refusals(status: int) -> None:
    assert failure_of(status_error(status)) == (Failure.REFUSED, f"HTTP {status}")


def test_a_dropped_connection_is_unreachable_and_other_errors_are_not_the_platforms() -> None:
    assert failure_of(httpx.ConnectError("down")) == (Failure.UNREACHABLE, "ConnectError")
    assert failure_of(ValueError("ours")) is None
    assert failure_of(UnknownConversation("19:c")) == (Failure.REFUSED, "unknown conversation")
