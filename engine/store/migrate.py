"""Numbered SQL migrations, applied under an advisory lock and checksummed.

Files are ``engine/store/migrations/NNNN_name.sql``, applied in number order, each in its
own transaction with ``search_path`` set to the engine's schema. ``schema_migrations``
records the version, the SHA-256 of the file and when it was applied. Before applying
anything, every applied file is compared with its record: a changed, renamed or missing
file raises :class:`~engine.store.errors.MigrationError` and nothing is applied.

Concurrent callers (two engines starting at once) serialise on a PostgreSQL advisory lock
derived from the schema name; the second finds nothing pending.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from engine.store.errors import MigrationError
from engine.store.pool import DEFAULT_SCHEMA, check_schema_name, connect

__all__ = ["MIGRATIONS_DIR", "Migration", "MigrationState", "load_migrations", "migrate",
           "migration_status"]

_log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_NAME_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version      text PRIMARY KEY,
    checksum     text NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    duration_ms  double precision NOT NULL
)"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file: ``version`` is the file name without ``.sql``."""

    version: str
    path: Path
    sql: str
    checksum: str


@dataclass(frozen=True, slots=True)
class MigrationState:
    """A migration file and whether (and how) it was applied."""

    version: str
    applied: bool
    checksum_ok: bool


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Read and checksum the migration files, in order; raise on a bad name or gap."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME_RE.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        data = path.read_bytes()
        found.append(Migration(path.stem, path, data.decode("utf-8"),
                               hashlib.sha256(data).hexdigest()))
    numbers = [int(m.version[:4]) for m in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise MigrationError(f"migration numbers must run 0001.. without gaps: {numbers}")
    return found


def _lock_key(schema: str) -> int:
    digest = hashlib.sha256(f"tradeengine.migrate:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def migrate(
    dsn: str,
    *,
    schema: str = DEFAULT_SCHEMA,
    timeout: float = 60.0,
    lock_timeout: float = 300.0,
    directory: Path = MIGRATIONS_DIR,
) -> list[str]:
    """Apply pending migrations to ``schema``; return the versions applied (maybe none).

    ``timeout`` bounds the connection and each migration, ``lock_timeout`` the wait for
    another process holding the migration lock. Raises :class:`MigrationError` when an
    applied file changed or disappeared, or when a migration fails (that migration is
    rolled back; the ones before it stay applied).
    """
    check_schema_name(schema)
    migrations = load_migrations(directory)
    try:
        conn = await connect(dsn, timeout=timeout, command_timeout=timeout, schema=schema,
                             application_name="tradeengine-migrate")
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise MigrationError(f"cannot connect to the database: {exc}") from exc
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _lock_key(schema),
                           timeout=lock_timeout)
        try:
            return await _apply(conn, schema, migrations, timeout)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _lock_key(schema),
                               timeout=timeout)
    finally:
        await conn.close(timeout=timeout)


async def _apply(conn: asyncpg.Connection, schema: str, migrations: list[Migration],
                 timeout: float) -> list[str]:
    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"', timeout=timeout)
    await conn.execute(_CREATE_TABLE, timeout=timeout)
    rows = await conn.fetch("SELECT version, checksum FROM schema_migrations", timeout=timeout)
    applied = {r["version"]: r["checksum"] for r in rows}
    known = {m.version: m for m in migrations}
    for version, checksum in sorted(applied.items()):
        mig = known.get(version)
        if mig is None:
            raise MigrationError(
                f"schema {schema!r} has migration {version} which this engine does not know "
                "(file removed or renamed, or the database belongs to a newer engine)")
        if mig.checksum != checksum:
            raise MigrationError(
                f"migration {version} changed after it was applied to schema {schema!r} "
                f"(applied sha256 {checksum[:12]}, file {mig.checksum[:12]}); "
                "add a new migration instead of editing an applied one")
    done: list[str] = []
    for mig in migrations:
        if mig.version in applied:
            continue
        started = time.perf_counter()
        try:
            async with conn.transaction():
                await conn.execute(mig.sql, timeout=timeout)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, checksum, duration_ms) "
                    "VALUES ($1, $2, $3)",
                    mig.version, mig.checksum, (time.perf_counter() - started) * 1000,
                    timeout=timeout)
        except asyncpg.PostgresError as exc:
            raise MigrationError(f"migration {mig.version} failed: {exc}") from exc
        _log.info("applied migration %s", mig.version)
        done.append(mig.version)
    return done


async def migration_status(dsn: str, *, schema: str = DEFAULT_SCHEMA,
                           timeout: float = 10.0,
                           directory: Path = MIGRATIONS_DIR) -> list[MigrationState]:
    """Which migration files are applied to ``schema`` and whether their checksums match."""
    check_schema_name(schema)
    conn = await connect(dsn, timeout=timeout, command_timeout=timeout, schema=schema)
    try:
        exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL",
                                     f'"{schema}".schema_migrations', timeout=timeout)
        applied: dict[str, str] = {}
        if exists:
            rows = await conn.fetch("SELECT version, checksum FROM schema_migrations",
                                    timeout=timeout)
            applied = {r["version"]: r["checksum"] for r in rows}
    finally:
        await conn.close(timeout=timeout)
    return [MigrationState(m.version, m.version in applied,
                           applied.get(m.version, m.checksum) == m.checksum)
            for m in load_migrations(directory)]
