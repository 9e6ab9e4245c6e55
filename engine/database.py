"""The engine's database at run time: embedded or external server, pool, migrations, writer.

Start-up order: start the private cluster when no DSN is configured, open the pool (the
server must answer within ``connect_timeout_s``, or start-up fails with
:class:`DatabaseUnavailable`, exit 69), migrate when configured, register the account,
build the writer. After start-up an outage no longer stops the engine: the writer journals
to disk and /readyz reports the database as degraded until it answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from engine.bus import MessageBus
from engine.config import Config
from engine.events import OrderEvent, PositionChanged
from engine.model import Alert, Prediction, Signal
from engine.monitor import CheckResult
from engine.secrets import redact_url
from engine.store.cluster import ENGINE_SETTINGS, ClusterError, PostgresCluster
from engine.store.errors import MigrationError

__all__ = ["Database", "DatabaseUnavailable", "attach_writer", "out_of_reach_is_unavailable"]

_log = logging.getLogger(__name__)


def _persisted_events() -> tuple[type, ...]:
    from engine.store import records  # noqa: PLC0415

    return (OrderEvent, PositionChanged, Alert, Signal, Prediction, records.PortfolioState,
            records.PortfolioSnapshot, records.RiskEventRecord, records.PerformanceDaily,
            records.AuditRecord, records.StrategyRecord, records.StrategyRun, records.StrategyState,
            records.BacktestRecord)


def attach_writer(bus: MessageBus, writer: Any, trading: Any = None) -> None:
    """Subscribe ``writer.submit`` to every persisted event type; with the ``trading``
    stack, the fills' realized PnL comes from its portfolio."""
    for event_type in _persisted_events():
        bus.subscribe(event_type, writer.submit)
    if trading is not None:
        writer.take_realized_from(trading.portfolio.realized_of)


class DatabaseUnavailable(Exception):
    """The database could not be reached or started at start-up (exit 69)."""


@contextlib.contextmanager
def out_of_reach_is_unavailable(what: str) -> Iterator[None]:
    """Turn the database being out of reach while connecting and migrating (refused,
    timed out, a server error) into :class:`DatabaseUnavailable` saying ``what: why``; a
    changed or broken migration file stays the MigrationError it is: not an outage."""
    try:
        yield
    except MigrationError as exc:
        if not isinstance(exc.__cause__, OSError | TimeoutError | asyncpg.PostgresError):
            raise
        raise DatabaseUnavailable(f"{what}: {exc}") from exc
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise DatabaseUnavailable(f"{what}: {exc.__class__.__name__}: {exc}") from exc


@dataclass(slots=True)
class _PingState:
    ok: bool = False
    last_ok_monotonic: float = 0.0
    last_error: str = "not checked yet"
    latency_s: float = 0.0


def embedded_cluster(config: Config) -> PostgresCluster:
    """The private cluster an engine without ``database.dsn`` runs (in its state dir)."""
    bin_dir = Path(config.database.pg_bin) if config.database.pg_bin else None
    return PostgresCluster(config.state_dir / "pg" / "data", bin_dir=bin_dir,
                           settings=ENGINE_SETTINGS)


class Database:
    """Owns the cluster (when embedded), the pool and the writer."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._db = config.database
        self.cluster: PostgresCluster | None = None
        self.pool: asyncpg.Pool | None = None
        self.writer: Any = None  # engine.store.StoreWriter once started
        self.account_id: uuid.UUID | None = None
        self.dsn_for_display = ""
        self.applied_migrations: list[str] = []
        self._ping = _PingState()
        self._dsn = ""
        self._lock_conn: asyncpg.Connection | None = None
        self.lock_lost = False
        self._closing = False  # shutting down: pings stop, and say nothing

    @property
    def embedded(self) -> bool:
        """True when the engine runs its own private cluster."""
        return not self._db.dsn

    async def start(self) -> None:
        """Start the server (embedded), connect, migrate, register the account."""
        dsn = await self._server_dsn()
        self.dsn_for_display = redact_url(dsn)
        from engine import store

        with out_of_reach_is_unavailable(
                f"database {self.dsn_for_display} unavailable at start-up"):
            if self._db.migrate:
                self.applied_migrations = await asyncio.wait_for(
                    store.migrate(dsn, schema=self._db.schema), self._db.command_timeout_s
                )
            self.pool = await store.create_pool(
                dsn,
                schema=self._db.schema,
                min_size=self._db.pool_min_size,
                max_size=self._db.pool_max_size,
                timeout=self._db.connect_timeout_s,
                command_timeout=self._db.command_timeout_s,
            )
            self.account_id = await store.queries.ensure_account(
                self.pool,
                name=self._config.engine.account,
                venue=self._venue(),
                mode=self._config.engine.mode,
                base_currency=self._config.portfolio.currency,
                starting_cash=self._config.portfolio.starting_cash,
            )
        self._dsn = dsn
        await self._take_account_lock()
        store_cfg = self._config.store
        self.writer = store.StoreWriter(
            self.pool,
            journal_dir=self._config.state_dir / "journal",
            account_id=self.account_id,
            batch_size=store_cfg.batch_size,
            flush_interval_s=store_cfg.flush_interval_ms / 1000,
            queue_size=store_cfg.queue_size,
            schema=self._db.schema,
        )
        self._ping = _PingState(ok=True, last_ok_monotonic=time.monotonic(), last_error="")

    def _lock_key(self) -> int:
        assert self.account_id is not None
        value = self.account_id.int & 0xFFFF_FFFF_FFFF_FFFF
        return value - (1 << 64) if value >= 1 << 63 else value  # a signed bigint

    async def _take_account_lock(self) -> None:
        """One process per account (DESIGN): a session advisory lock on a connection of its
        own, held for the engine's life. Another engine on the same account is refused."""
        try:
            conn = await asyncpg.connect(self._dsn, timeout=self._db.connect_timeout_s)
            got = await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_key(),
                                      timeout=self._db.command_timeout_s)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            raise DatabaseUnavailable(f"cannot take the account lock: {exc}") from exc
        if not got:
            await conn.close()
            raise DatabaseUnavailable(
                f"account {self._config.engine.account!r} is already traded by another "
                "tradeengine process (its advisory lock is held); refusing to start")
        self._lock_conn = conn
        self.lock_lost = False

    async def _check_account_lock(self) -> None:
        """After an outage the lock's session is gone: take it again, or report it lost."""
        conn = self._lock_conn
        if conn is not None and not conn.is_closed():
            return
        try:
            await self._take_account_lock()
        except DatabaseUnavailable as exc:
            if "already traded" in str(exc) and not self.lock_lost:
                self.lock_lost = True
                _log.critical("account lock lost to another process: %s", exc)

    async def monitor(self, interval_s: float) -> None:
        """Ping the server every ``interval_s`` for readiness (a TaskGroup task)."""
        while True:
            await asyncio.sleep(interval_s)
            await self.ping(timeout=min(2.0, interval_s))

    async def ping(self, timeout: float) -> bool:
        """``SELECT 1`` with a timeout; updates the readiness state."""
        if self.pool is None or self._closing:
            return False
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                async with self.pool.acquire() as conn:
                    await conn.fetchval("SELECT 1")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            if self._ping.ok:
                _log.warning("database stopped answering: %s", exc)
            self._ping.ok = False
            self._ping.last_error = f"{exc.__class__.__name__}: {exc}"[:300]
            return False
        if not self._ping.ok:
            _log.info("database answers again")
        self._ping = _PingState(True, time.monotonic(), "", time.monotonic() - started)
        await self._check_account_lock()
        return True

    def readiness(self) -> CheckResult:
        """Readiness check ``database``: the server answers and the writer is not behind."""
        writer_state = self.writer.status().state if self.writer is not None else "down"
        data = {"writer": writer_state, "embedded": self.embedded}
        if self.lock_lost:
            return CheckResult(False, "account lock held by another process", data)
        if not self._ping.ok:
            return CheckResult(False, f"degraded: {self._ping.last_error}", data)
        if writer_state != "ok":
            return CheckResult(False, f"degraded: writer {writer_state}", data)
        return CheckResult(True, "ok", data)

    def subscribe_writer(self, bus: MessageBus, trading: Any = None) -> None:
        """Send every persisted event type on the bus to the writer (bars go through the
        market data feed's own persist hook, closed bars only)."""
        attach_writer(bus, self.writer, trading)

    def ping_latency_s(self) -> float:
        """Latency of the last successful ping."""
        return self._ping.latency_s

    async def close(self, timeout: float) -> None:
        """Drain the writer, close the pool, stop the embedded server."""
        self._closing = True
        if self.writer is not None:
            try:
                await self.writer.close(timeout=timeout)
            except Exception:
                _log.exception("writer did not close cleanly")
        if self._lock_conn is not None:
            with contextlib.suppress(Exception):
                await self._lock_conn.close(timeout=timeout)
            self._lock_conn = None
        if self.pool is not None:
            try:
                await asyncio.wait_for(self.pool.close(), timeout)
            except TimeoutError:
                _log.warning("pool did not close in %.1fs; terminating connections", timeout)
                self.pool.terminate()
        await self.stop_cluster()

    async def stop_cluster(self) -> None:
        """Stop the embedded server if this engine started it."""
        if self.cluster is not None:
            await self.cluster.stop()
            self.cluster = None

    async def _server_dsn(self) -> str:
        if not self.embedded:
            return self._db.dsn.reveal()
        self.cluster = embedded_cluster(self._config)
        try:
            return await self.cluster.start(timeout=max(60.0, self._db.connect_timeout_s))
        except (ClusterError, OSError) as exc:
            raise DatabaseUnavailable(f"private PostgreSQL did not start: {exc}") from exc

    def _venue(self) -> str:
        md = self._config.marketdata
        return self._config.exchange.name if md.source == "ccxt" else md.source
