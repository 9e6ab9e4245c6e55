"""Shared fixtures: a real PostgreSQL for every test session, never a mock.

- ``TEST_DATABASE_URL`` set: that server is used; each test session creates its own fresh
  database on it and drops it at the end.
- Not set: the harness starts a private cluster (the same mechanism as the engine's
  embedded default) in a temporary directory and stops it at the end.

Fixtures are synchronous (they run their async setup with ``asyncio.run``) so they can be
shared by tests running in any event loop.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from engine.store.cluster import PostgresCluster

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
"""Recorded market data beside the repository (may be absent on a user's machine)."""
BUNDLED_DATA = REPO_ROOT / "tests" / "data"
"""Recorded market data files copied into the repository for tests."""

# Fast, non-durable settings: test data is thrown away anyway.
_TEST_PG_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def with_database(url: str, database: str) -> str:
    """Return ``url`` pointing at ``database`` instead of its own."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def _create_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url, timeout=30)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"', timeout=30)
    finally:
        await conn.close()


async def _drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url, timeout=30)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', timeout=30)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A superuser URL to the test server's maintenance database."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield with_database(given, "postgres")
        return
    tmp = Path(tempfile.mkdtemp(prefix="te-testpg-"))
    cluster = PostgresCluster(tmp / "pg" / "data", settings=_TEST_PG_SETTINGS)
    asyncio.run(cluster.start(timeout=120))
    try:
        yield cluster.dsn("postgres")
    finally:
        asyncio.run(cluster.stop())
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def make_database(pg_admin_url: str) -> Iterator[Callable[[], str]]:
    """Factory: each call creates a fresh empty database and returns its URL."""
    created: list[str] = []

    def make() -> str:
        name = f"te_test_{os.getpid()}_{secrets.token_hex(4)}"
        asyncio.run(_create_database(pg_admin_url, name))
        created.append(name)
        return with_database(pg_admin_url, name)

    yield make
    for name in created:
        asyncio.run(_drop_database(pg_admin_url, name))


@pytest.fixture(scope="session")
def database_url(make_database: Callable[[], str]) -> str:
    """One fresh database for this test session."""
    return make_database()


@pytest.fixture
def private_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    """A private PostgreSQL cluster of the test's own, started; for tests that stop it."""
    root = tmp_path_factory.mktemp("cluster")
    cluster = PostgresCluster(root / "pg" / "data", settings=_TEST_PG_SETTINGS)
    asyncio.run(cluster.start(timeout=120))
    try:
        yield cluster
    finally:
        asyncio.run(cluster.stop())


@pytest.fixture
def paper_engine(tmp_path: Path) -> Callable[[str, str], object]:
    """``paper_engine(config_text, dsn)``: an engine built from a config file with that
    text, on ``dsn`` and a state directory in ``tmp_path``, with the installed replay and
    paper gateways (not started)."""
    from engine.app import build_app
    from engine.config import load_config
    from engine.runner import load_factory

    def make(text: str, dsn: str) -> object:
        path = tmp_path / "paper.toml"
        path.write_text(text)
        config = load_config(path, env={"TRADEENGINE_DATABASE__DSN": dsn,
                                        "TRADEENGINE_ENGINE__STATE_DIR": str(tmp_path / "state")})
        return build_app(config, config_path=path,
                         market_data_gateway=load_factory("market_data"),
                         execution=load_factory("execution"))

    return make


@pytest.fixture
def keep_builtin_strategies() -> Iterator[None]:
    """For a test that hot-reloads built-in strategies: ``importlib.reload`` re-runs a
    module in place, so later tests would see new class objects; this puts back the
    modules' attributes as they were."""
    import sys

    import strategies.ema_cross  # noqa: F401  # loaded, so that it is restored too

    saved = {name: dict(vars(module)) for name, module in sys.modules.items()
             if name.startswith("strategies.")}
    yield
    for name, attrs in saved.items():
        vars(sys.modules[name]).update(attrs)


@pytest.fixture
def strategy_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                    ) -> Callable[[str, str], ModuleType]:
    """Write a strategy module of a test (``name``, its ``source``) where a ``module:Class``
    path finds it, import it fresh, and return it (the test reads what it recorded)."""
    import importlib
    import sys

    monkeypatch.syspath_prepend(str(tmp_path))

    def load(name: str, source: str) -> ModuleType:
        (tmp_path / f"{name}.py").write_text(source)
        monkeypatch.delitem(sys.modules, name, raising=False)
        importlib.invalidate_caches()
        return importlib.import_module(name)

    return load
