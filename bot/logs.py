"""Logging set-up: text or JSON lines with the ids of the work in hand, redacted, and library loggers kept quiet."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
import time
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Literal, TextIO

LogFormat = Literal["text", "json"]

# Libraries that log request or response bodies at DEBUG/INFO (Bolt even logs a body that failed verification).
QUIET_LIBRARIES = ("slack_bolt", "slack_sdk", "httpx", "httpcore", "aiohttp", "uvicorn.access", "redis")

# The ids a log line may carry, in the order they are printed. Ids only: never a name, a text or a body.
LOG_IDS = ("request_id", "platform", "channel", "user", "conversation")
# What an id may look like (Slack ``U0ABC``, Teams ``29:1xY…`` or ``19:…@thread.tacv2``, our store keys with
# ``%3A``). Anything else is logged as ``?`` so that a crafted "id" cannot put text into a log line.
_ID_SHAPE = re.compile(r"[\w.:@%;=,-]{1,256}", re.ASCII)

_NO_IDS: Mapping[str, str] = MappingProxyType({})
_ids: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar("aldense_log_ids", default=_NO_IDS)

_TOKEN = re.compile(r"\b(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+)")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_PAYLOAD = re.compile(r"payload=[^\s&\"]+")


def redact(text: str) -> str:
    """``text`` with Slack tokens, Bearer credentials and form ``payload=`` bodies masked."""
    return _PAYLOAD.sub("payload=[redacted]", _BEARER.sub(r"\1[redacted]", _TOKEN.sub("[redacted]", text)))


def bind_ids(**ids: str | None) -> None:
    """Add ids (``request_id``, ``platform``, ``channel``, ``user``, ``conversation``) to this task's log lines.

    They hold for the rest of the current task and for every task it starts afterwards (asyncio copies the
    context when a task is created), never for its caller's other tasks. ``None`` leaves an id as it was.

    Raises:
        ValueError: A name that is not one of ``LOG_IDS``.
    """
    unknown = set(ids) - set(LOG_IDS)
    if unknown:
        raise ValueError(f"not a log id: {sorted(unknown)}")
    given = {name: _id_text(value) for name, value in ids.items() if value is not None}
    if given:
        _ids.set(MappingProxyType({**_ids.get(), **given}))


@contextlib.contextmanager
def ids_scope(**ids: str | None) -> Iterator[None]:
    """Within the block, log lines carry exactly ``ids`` (plus any bound inside); afterwards the previous ids."""
    token = _ids.set(_NO_IDS)
    try:
        bind_ids(**ids)
        yield
    finally:
        _ids.reset(token)


def current_ids() -> dict[str, str]:
    """The ids bound in the current context."""
    return dict(_ids.get())


def _id_text(value: str) -> str:
    text = str(value)
    return text if _ID_SHAPE.fullmatch(text) else "?"


class _StampIds(logging.Filter):
    """Copies the emitting task's ids onto the record (handlers run synchronously, in the emitter's context)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "aldense_ids"):
            record.aldense_ids = current_ids()
        return True


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    parts = [record.exc_text or ""]
    if record.stack_info:
        parts.append(formatter.formatStack(record.stack_info))
    return "\n".join(part for part in parts if part)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message [id=… …]``, redacted (the message and any traceback)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The record as one text line (plus a traceback, if any)."""
        record.message = record.getMessage()
        record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        ids: Mapping[str, str] = getattr(record, "aldense_ids", {})
        if ids:
            line += " [" + " ".join(f"{name}={ids[name]}" for name in LOG_IDS if name in ids) + "]"
        extra = _exception_text(self, record)
        return redact(line + ("\n" + extra if extra else ""))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the ids, and any exception.

    Only these fields are written — never a record's arguments or extras — and the message and exception are
    redacted before they are encoded.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        moment = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line: dict[str, str] = {
            "time": f"{moment}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        ids: Mapping[str, str] = getattr(record, "aldense_ids", {})
        line.update({name: ids[name] for name in LOG_IDS if name in ids})
        extra = _exception_text(self, record)
        if extra:
            line["exception"] = redact(extra)
        return json.dumps(line, ensure_ascii=False)


def build_handler(log_format: LogFormat, stream: TextIO | None = None) -> logging.Handler:
    """The handler ``configure_logging`` installs: ``log_format`` lines with the current ids, redacted.

    Args:
        log_format: ``text`` (for people) or ``json`` (one object per line, for a log platform).
        stream: Where lines go; stderr when omitted.
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(_StampIds())
    handler.addFilter(_GateLibraryRecords())
    return handler


class _GateLibraryRecords(logging.Filter):
    """On our handler: Slack's libraries' own loggers (not only those we hand them) pass through ``LibraryGate``."""

    _NAMES = ("slack_bolt", "slack_sdk")

    def __init__(self) -> None:
        super().__init__()
        self._gate = LibraryGate()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".", 1)[0] in self._NAMES:
            return self._gate.filter(record)
        return True


class LibraryGate(logging.Filter):
    """Attached to the loggers we hand to Slack's libraries, so no level setting anywhere makes them log a body.

    Drops DEBUG and INFO (request and response bodies, which may hold a key); rewrites the WARNING lines that
    quote request fields (Bolt's "Unhandled request" prints the user-typed ``value`` of a suggestion payload,
    its middleware warning prints the whole body); withholds exception messages, which can quote a body too.
    """

    # Message starts that are followed by request content, and what is logged instead.
    _QUOTING = (
        ("Unhandled request", "Bolt found no listener for a signed request (its fields are withheld)"),
        ("A global middleware", "a Bolt middleware returned no response for a request (its fields are withheld)"),
        ("Failed to run", "a Bolt listener or internal function failed (the error is withheld: it may quote a body)"),
    )

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return False
        message = str(record.msg)
        for start, instead in self._QUOTING:
            if message.startswith(start):
                record.msg, record.args = instead, None
        if record.exc_info and record.exc_info[0] is not None:
            kind = record.exc_info[0].__name__
            # The message of a library's exception line often embeds the exception's text (``f"Error: {e}"``).
            record.msg, record.args = f"{kind} in {record.name} (message withheld: it may quote a request)", None
            record.exc_info, record.exc_text = None, None
        return True


# The name earlier code used for the gate.
WarningsOnly = LibraryGate


def library_logger(library: str) -> logging.Logger:
    """The logger to pass to a Slack library (``AsyncWebClient(logger=…)``, ``AsyncApp(logger=…)``)."""
    logger = logging.getLogger(f"aldense_guide.{library}")
    if not any(isinstance(existing, LibraryGate) for existing in logger.filters):
        logger.addFilter(LibraryGate())
    return logger


def configure_logging(level: str, log_format: LogFormat = "text") -> None:
    """Send our logs to stderr at ``level`` as ``log_format`` lines; libraries stay at WARNING whatever ``level`` is."""
    root = logging.getLogger()
    root.handlers[:] = [build_handler(log_format)]
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
