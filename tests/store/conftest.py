"""Store test fixtures: a freshly migrated database per test, an account in it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from engine.store import migrate


@pytest.fixture
def store_dsn(make_database: Callable[[], str]) -> str:
    """A fresh database with every migration applied."""
    dsn = make_database()
    asyncio.run(migrate(dsn))
    return dsn


@pytest.fixture
def fresh_dsn(make_database: Callable[[], str]) -> str:
    """A fresh, empty database (no migrations)."""
    return make_database()
