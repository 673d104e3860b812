"""Logging set-up: our level from LOG_LEVEL, chatty libraries held at WARNING, and a redaction filter on handlers."""

from __future__ import annotations

import logging
import re
import sys

# Libraries that log request or response bodies at DEBUG/INFO (Bolt even logs a body that failed verification).
QUIET_LIBRARIES = ("slack_bolt", "slack_sdk", "httpx", "httpcore", "aiohttp", "uvicorn.access", "redis")

_TOKEN = re.compile(r"\b(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+)")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_PAYLOAD = re.compile(r"payload=[^\s&]+")


class RedactingFilter(logging.Filter):
    """Masks Slack tokens, Bearer credentials and form ``payload=`` bodies in any record a handler emits."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _PAYLOAD.sub("payload=[redacted]", _BEARER.sub(r"\1[redacted]", _TOKEN.sub("[redacted]", message)))
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class WarningsOnly(logging.Filter):
    """Drops DEBUG and INFO records; attached to the loggers we hand to Slack's libraries, so no level
    setting anywhere can make them log request or response bodies (which may hold a key)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


def library_logger(library: str) -> logging.Logger:
    """The logger to pass to a Slack library (``AsyncWebClient(logger=…)``, ``AsyncApp(logger=…)``)."""
    logger = logging.getLogger(f"aldense_guide.{library}")
    if not any(isinstance(existing, WarningsOnly) for existing in logger.filters):
        logger.addFilter(WarningsOnly())
    return logger


def configure_logging(level: str) -> None:
    """Send our logs to stderr at ``level``; libraries stay at WARNING whatever ``level`` is."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
