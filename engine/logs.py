"""Logging: one JSON object per line on stdout, secrets scrubbed.

journald stores each line as one entry; ``jq`` reads them. Fields: ``ts`` (UTC ISO 8601),
``level``, ``logger``, ``msg``, plus whatever ``extra={...}`` a call passed, plus ``exc``
with the traceback when there is one. Every line goes through the engine's
:class:`~engine.secrets.Redactor` before it is written.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from engine.secrets import Redactor

__all__ = ["JsonFormatter", "configure_logging", "set_level"]

_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys() | {"message", "asctime"}
)

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line, redacting known secrets."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redact = redactor

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        line = orjson.dumps(entry, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        return self._redact(line)


def configure_logging(
    level: str, redactor: Redactor, stream: TextIO | None = None
) -> logging.Handler:
    """Send every log record to ``stream`` (stdout) as JSON; return the handler."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter(redactor))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    set_level(level)
    # Libraries that are chatty at INFO.
    for name in ("aiohttp.access", "asyncio", "numba"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler


def set_level(level: str) -> None:
    """Change the root level (SIGHUP applies ``engine.log_level`` live)."""
    logging.getLogger().setLevel(_LEVELS[level])
