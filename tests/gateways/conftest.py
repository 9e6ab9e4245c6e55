"""Fixtures: the local exchange server as a real process on a free port, a recording sink."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _exchange_helpers import ExchangeProcess, RecordingSink, start_server


@pytest.fixture
def exchange_server(request: pytest.FixtureRequest) -> Iterator[ExchangeProcess]:
    """The server at the speed given by indirect parametrization, 3000x by default."""
    speed = getattr(request, "param", "3000")
    server = start_server("--speed", speed)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sink() -> RecordingSink:
    """A fresh recording sink."""
    return RecordingSink()
