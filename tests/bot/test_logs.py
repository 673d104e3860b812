"""Log lines in both formats: JSON parses, ids follow the work (into the tasks it starts), secrets are redacted."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from bot.core.tasks import BackgroundTasks
from bot.logs import LibraryGate, bind_ids, current_ids, ids_scope, library_logger
from tests.bot.shipped import ShippedLogs

TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"


@pytest.fixture
def logger(shipped_logs: ShippedLogs) -> logging.Logger:
    logger = logging.getLogger("tests.logs")
    logger.setLevel(logging.DEBUG)
    return logger


def test_a_json_line_has_time_level_logger_message_and_the_bound_ids(
    shipped_logs: ShippedLogs, logger: logging.Logger
) -> None:
    with ids_scope(request_id="req-0123456789", platform="slack", channel="C0CLINIC", user="U0ADMIN"):
        bind_ids(conversation="aldense:v1:conv:slack:T0:C0CLINIC:U0ADMIN")
        logger.info("moved %s", "on")
    logger.info("outside")
    if shipped_logs.format == "text":
        first, second = shipped_logs.text().splitlines()
        assert first.endswith(
            "INFO tests.logs: moved on [request_id=req-0123456789 platform=slack channel=C0CLINIC user=U0ADMIN "
            "conversation=aldense:v1:conv:slack:T0:C0CLINIC:U0ADMIN]"
        )
        assert second.endswith("INFO tests.logs: outside")
        return
    first, second = shipped_logs.records()
    assert first.pop("time").endswith("Z")
    assert first == {
        "level": "INFO",
        "logger": "tests.logs",
        "message": "moved on",
        "request_id": "req-0123456789",
        "platform": "slack",
        "channel": "C0CLINIC",
        "user": "U0ADMIN",
        "conversation": "aldense:v1:conv:slack:T0:C0CLINIC:U0ADMIN",
    }
    assert set(second) == {"time", "level", "logger", "message"}


def test_tokens_are_redacted_in_the_message_and_in_a_traceback(
    shipped_logs: ShippedLogs, logger: logging.Logger
) -> None:
    try:
        raise RuntimeError(f"refused Authorization: Bearer {TOKEN}")
    except RuntimeError:
        logger.exception("call failed with %s and payload=%s", TOKEN, "%7B%22key%22%3A1%7D")
    written = shipped_logs.text()
    assert "Traceback" in written or "Traceback" in json.dumps(shipped_logs.records())
    assert TOKEN not in written
    assert "xoxb-" not in written
    assert "%7B%22key" not in written
    assert "[redacted]" in written


def test_odd_ids_are_logged_as_a_question_mark_and_unknown_names_refused(
    shipped_logs: ShippedLogs, logger: logging.Logger
) -> None:
    with ids_scope(channel="C0 <!channel> hello\nFAKE LINE", user="U0ADMIN"):
        logger.warning("odd")
        with pytest.raises(ValueError, match="not a log id"):
            bind_ids(body="anything")  # type: ignore[arg-type]
    assert "FAKE LINE" not in shipped_logs.text()
    assert "<!channel>" not in shipped_logs.text()
    assert "channel=?" in shipped_logs.text() or '"channel": "?"' in shipped_logs.text()


async def test_background_work_carries_the_ids_of_what_started_it_and_no_one_elses() -> None:
    tasks = BackgroundTasks()
    seen: dict[str, dict[str, str]] = {}

    async def work(name: str) -> None:
        await asyncio.sleep(0)
        seen[name] = current_ids()

    async def request(rid: str) -> None:
        with ids_scope(request_id=rid, platform="slack"):
            tasks.spawn(work(rid), name=rid)
            bind_ids(user="U0LATER")  # bound after the spawn: the task keeps the ids it started with

    await asyncio.gather(request("req-aaaaaaaa"), request("req-bbbbbbbb"))
    assert await tasks.drain(5)
    assert seen == {
        "req-aaaaaaaa": {"request_id": "req-aaaaaaaa", "platform": "slack"},
        "req-bbbbbbbb": {"request_id": "req-bbbbbbbb", "platform": "slack"},
    }
    assert current_ids() == {}


@pytest.mark.parametrize("level", [logging.DEBUG, logging.INFO])
def test_library_loggers_drop_debug_and_info_whatever_their_level(level: int, shipped_logs: ShippedLogs) -> None:
    library = library_logger("tests_library")
    library.setLevel(logging.DEBUG)
    library.log(level, "body: %s", "secret-body")
    library.warning("Unhandled request ({'type': 'block_suggestion', 'value': 'typed-by-someone'})")
    try:
        raise ValueError("payload quoted: typed-by-someone")
    except ValueError:
        library.exception("Error: payload quoted: typed-by-someone")
    written = shipped_logs.text()
    assert "secret-body" not in written
    assert "typed-by-someone" not in written
    assert "Bolt found no listener for a signed request" in written
    assert "ValueError in aldense_guide.tests_library (message withheld" in written
    assert sum(isinstance(f, LibraryGate) for f in library_logger("tests_library").filters) == 1


def test_slack_libraries_own_loggers_are_gated_on_our_handler_too(shipped_logs: ShippedLogs) -> None:
    own = logging.getLogger("slack_bolt.tests.SomeInternalPart")  # a logger Bolt creates itself, not ours
    own.setLevel(logging.DEBUG)
    own.debug("body: typed-by-someone")
    own.warning("Unhandled request ({'value': 'typed-by-someone'})")
    written = shipped_logs.text()
    assert "typed-by-someone" not in written
    assert "Bolt found no listener" in written
