"""Logs are JSON lines and never carry a secret."""

from __future__ import annotations

import io
import logging

import orjson

from engine.logs import configure_logging
from engine.secrets import Redactor, Secret, redact_url


def test_json_lines_with_extra_fields_and_redaction() -> None:
    redactor = Redactor()
    redactor.register(Secret("postgresql://trader:hunter22@db:5432/x"), "api-key-123456")
    stream = io.StringIO()
    handler = configure_logging("info", redactor, stream)
    try:
        log = logging.getLogger("test.logs")
        log.info("connecting to %s", "postgresql://trader:hunter22@db:5432/x", extra={"n": 3})
        log.warning("password hunter22 and key api-key-123456 leaked into a message")
        try:
            raise ValueError("bad dsn postgresql://trader:hunter22@db:5432/x")
        except ValueError:
            log.exception("failed")
        log.debug("not shown at info")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    entries = [orjson.loads(line) for line in lines]
    assert entries[0]["level"] == "info" and entries[0]["n"] == 3
    assert entries[0]["logger"] == "test.logs"
    assert "exc" in entries[2]
    text = stream.getvalue()
    assert "hunter22" not in text
    assert "api-key-123456" not in text


def test_redact_url_keeps_host() -> None:
    assert redact_url("postgresql://u:pw@h:1/db") == "postgresql://u:***@h:1/db"
    assert redact_url("postgresql://u@h/db") == "postgresql://u@h/db"
