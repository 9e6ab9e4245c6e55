"""The risk state in PostgreSQL, for an engine that has a database.

The state is one ``system_config`` row per account, key ``risk_state:<account id>``, whose
value is the :class:`~engine.risk.state.RiskSnapshot` and the wall-clock time it was saved.
Every change is also a ``risk_events`` row (the risk engine's ``RiskEventRecord``, written
by the store writer), so the row is the current state and the events are its history.

The risk engine saves synchronously, inside the event loop's call stack, where nothing may
wait for I/O. So :meth:`PostgresRiskStateStore.save` writes the local JSON file durably (the
copy that survives a crash before the row is written, and the state of runs without a
database) and hands the snapshot to :meth:`PostgresRiskStateStore.run`, which upserts the
latest one (a newer save replaces one still waiting: only the last state matters),
retrying with capped backoff and jitter while the database is away.

At start-up :meth:`PostgresRiskStateStore.start` reads the row and compares it with the
file: the row is the state unless the file holds a later state change (a higher
``version``: the process stopped before the row was written); on equal versions the row is
taken with the higher of the two high-water marks and the later day. The other copy is
then brought up to date, and the state is what ``load`` returns. The
trading stack then adopts it (:meth:`engine.risk.engine.RiskEngine.reload`). The store is
a service registered before the trading stack: it opens first and stops (flushing the last
state to the database) after the stack has saved its final state.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import msgspec

from engine.risk.state import JsonFileRiskStateStore, RiskSnapshot

__all__ = ["PostgresRiskStateStore", "choose", "risk_state_key"]

_log = logging.getLogger(__name__)

Connection = Callable[[], tuple["asyncpg.Pool | None", "uuid.UUID | None"]]
"""Returns the engine's pool and account id (None before the database is up)."""


def risk_state_key(account_id: uuid.UUID) -> str:
    """The ``system_config`` key of an account's risk state."""
    return f"risk_state:{account_id}"


class PostgresRiskStateStore:
    """A :class:`~engine.risk.state.RiskStateStore` over PostgreSQL and the local file."""

    name = "risk-state"

    def __init__(self, connection: Connection, file: JsonFileRiskStateStore, *,
                 timeout_s: float = 10.0, max_backoff_s: float = 5.0) -> None:
        self._connection = connection
        self._file = file
        self._timeout_s = timeout_s
        self._max_backoff_s = max_backoff_s
        self._loaded = file.load()
        self._pending: tuple[RiskSnapshot, int] | None = None
        self._wake = asyncio.Event()
        self._pool: asyncpg.Pool | None = None
        self._key = ""
        self.writes = 0
        self.failures = 0
        self.source = "file" if self._loaded is not None else "none"

    # -- RiskStateStore --------------------------------------------------------------------

    def load(self) -> RiskSnapshot | None:
        """The state as it stands: the file's until :meth:`start`, then the newer copy."""
        return self._loaded

    def save(self, snapshot: RiskSnapshot) -> None:
        """Write the file now (durably) and queue the row for :meth:`run`."""
        self._file.save(snapshot)
        self._loaded = snapshot
        self._pending = (snapshot, time.time_ns())
        self._wake.set()

    # -- Service ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Read the row; adopt the newer of row and file (see the module docstring)."""
        pool, account_id = self._connection()
        if pool is None or account_id is None:
            _log.info("risk state: no database, the state file is the record")
            return
        self._pool, self._key = pool, risk_state_key(account_id)
        raw = await pool.fetchval("SELECT value FROM system_config WHERE key = $1", self._key,
                                  timeout=self._timeout_s)
        row: RiskSnapshot | None = None
        if raw is not None:
            value = raw if isinstance(raw, dict) else msgspec.json.decode(raw)  # jsonb: text
            row = msgspec.convert(value["snapshot"], RiskSnapshot, strict=False)
        file_snap = self._file.load()
        chosen = choose(row, file_snap)
        self._loaded = chosen
        self.source = "none" if chosen is None else "database" if chosen == row else "file"
        if chosen is None:
            return
        if chosen != file_snap:
            self._file.save(chosen)
        if chosen != row:
            self._pending = (chosen, time.time_ns())
            await self._write_pending()
        else:
            self._pending = None

    def run(self) -> Any:
        """Upsert each saved state (the latest one waiting) until cancelled."""
        return None if self._pool is None else self._drain()

    async def stop(self) -> None:
        """Write the last state to the database (bounded by the engine's stop timeout)."""
        if self._pool is not None and self._pending is not None:
            await self._write_pending()

    def status(self) -> dict[str, Any]:
        """For /status."""
        return {"source": self.source, "writes": self.writes, "failures": self.failures,
                "waiting": self._pending is not None}

    def metrics(self, out: Any) -> None:
        """No samples of its own (risk state is the trading stack's gauge)."""
        return None

    # -- internals -------------------------------------------------------------------------

    async def _drain(self) -> None:
        attempt = 0
        while True:
            if self._pending is None:
                self._wake.clear()
                await self._wake.wait()
            if await self._write_pending():
                attempt = 0
                continue
            attempt += 1
            delay = min(self._max_backoff_s, 0.1 * 2 ** min(attempt, 10))
            await asyncio.sleep(delay * (0.5 + random.random() / 2))

    async def _write_pending(self) -> bool:
        pending = self._pending
        if pending is None or self._pool is None:
            return True
        snapshot, saved_ns = pending
        value = msgspec.json.encode(
            {"snapshot": msgspec.to_builtins(snapshot), "saved_ns": saved_ns}).decode()
        try:
            await self._pool.execute(
                "INSERT INTO system_config (key, value, updated_by) VALUES ($1, $2::jsonb, $3) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, "
                "updated_by = EXCLUDED.updated_by, updated_at = now()",
                self._key, value, snapshot.actor, timeout=self._timeout_s)
        except Exception as exc:  # the database's trouble must never end the engine: retry
            self.failures += 1
            _log.warning("risk state not written to the database (will retry): %s", exc)
            return False
        if self._pending is pending:  # not replaced by a newer save meanwhile
            self._pending = None
        self.writes += 1
        return True


def choose(row: RiskSnapshot | None, file: RiskSnapshot | None) -> RiskSnapshot | None:
    """The state to resume from: the database row unless the file has a later state change;
    on equal versions the row with the higher high-water mark and the later day of the two."""
    if row is None or file is None:
        return row or file
    if file.version > row.version:
        return file
    if file.version < row.version:
        return row
    changes: dict[str, Any] = {}
    if file.high_water_mark is not None and (
            row.high_water_mark is None or file.high_water_mark > row.high_water_mark):
        changes["high_water_mark"] = file.high_water_mark
    if file.day is not None and (row.day is None or file.day > row.day):
        changes["day"] = file.day
        changes["day_start_equity"] = file.day_start_equity
    return msgspec.structs.replace(row, **changes) if changes else row
