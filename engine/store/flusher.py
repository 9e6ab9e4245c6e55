"""Writing one batch of rows to PostgreSQL, idempotently, in one transaction.

Two ways to write a table's rows:

- **optimistic**: binary COPY straight into the table. It is the fastest path and it is
  right whenever none of the rows is stored yet, which is the common case for ledgers and
  time series written once.
- **merge**: binary COPY into a temporary staging table, then ``INSERT ... SELECT ... ON
  CONFLICT`` (or ``UPDATE ... FROM`` for patches). Replaying rows is harmless.

A batch is first tried with the optimistic path for the tables that allow it. If that
meets a unique violation (a replay after a crash, a duplicate fill from a venue), the whole
transaction rolls back and the batch is written again with the merge path everywhere. So
the first attempt either commits everything or nothing, and the second is idempotent.

COPY data is encoded (:mod:`engine.store.copytext`) and sent in slices sized to take
about :data:`SLICE_S` of CPU each; the writer yields to the loop between slices, so a
flush of any size never holds the event loop for long, and the server parses one slice
while the next is encoded.

Tables in ``async_commit`` (by default ``price_data`` and its ``market_data_latest``
cache: market data the venue can backfill) are committed with ``synchronous_commit =
off`` when a transaction holds nothing else: the commit does not wait for the WAL flush.
A crash of the engine loses nothing (the server has the commit); a crash of the database
server itself may lose the last fraction of a second of such bars (the database stays
consistent). Any transaction with other rows commits synchronously.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Collection
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any
from uuid import UUID

import asyncpg

from engine.store.copytext import TextCache, encode_rows
from engine.store.journal import Batch
from engine.store.tables import FLUSH_ORDER, SPECS, TableSpec

__all__ = ["ASYNC_COMMIT_TABLES", "SLICE_S", "Flusher", "is_poison", "with_latest"]

SLICE_S = 0.0005
"""CPU time one slice of COPY data should take to encode (seconds)."""
ASYNC_COMMIT_TABLES: frozenset[str] = frozenset({"price_data", "market_data_latest"})
"""Tables whose transactions (when they hold nothing else) skip the WAL flush wait."""
_MIN_SLICE, _MAX_SLICE = 32, 8192
_LATEST_CHUNK = 2048
Row = tuple[Any, ...]


def is_poison(exc: BaseException) -> bool:
    """True for errors caused by the rows themselves (bad data, a violated constraint):
    retrying the same rows cannot succeed."""
    if isinstance(exc, (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError)):
        return True
    # asyncpg's client-side "invalid input for query argument" is an InterfaceError that is
    # also a ValueError; connection errors are not ValueErrors.
    return isinstance(exc, (ValueError, TypeError))


def _q(name: str) -> str:
    return f'"{name}"'


def _merge_sql(spec: TableSpec, cols: tuple[str, ...]) -> str:
    stage = _q(f"_stage_{spec.name}")
    target = _q(spec.target)
    collist = ", ".join(_q(c) for c in cols)
    rest = [c for c in cols if c not in spec.key]
    if spec.mode == "patch":
        sets = ", ".join(f"{_q(c)} = s.{_q(c)}" for c in rest)
        cond = " AND ".join(f"t.{_q(k)} = s.{_q(k)}" for k in spec.key)
        return f"UPDATE {target} AS t SET {sets} FROM {stage} AS s WHERE {cond}"
    insert = f"INSERT INTO {target} AS t ({collist}) SELECT {collist} FROM {stage}"
    if spec.mode == "append":
        return insert + " ON CONFLICT DO NOTHING"
    sets = ", ".join(f"{_q(c)} = EXCLUDED.{_q(c)}" for c in rest)
    sql = f"{insert} ON CONFLICT ({', '.join(_q(k) for k in spec.key)}) DO UPDATE SET {sets}"
    if spec.mode == "versioned":
        old = ", ".join(f"t.{_q(c)}" for c in spec.newer)
        new = ", ".join(f"EXCLUDED.{_q(c)}" for c in spec.newer)
        sql += f" WHERE ({old}) <= ({new})" if len(spec.newer) > 1 else f" WHERE {old} <= {new}"
    return sql


def _dedupe(spec: TableSpec, cols: tuple[str, ...], rows: list[Row]) -> list[Row]:
    """One row per key for the merge path (ON CONFLICT DO UPDATE cannot touch a row twice):
    the newest version for ``versioned``, the last for ``upsert``/``patch``; ``append``
    keeps all (DO NOTHING copes with duplicates)."""
    if spec.mode == "append" or len(rows) < 2:
        return rows
    # itemgetter: C-level reads (a tuple for several columns, the value for one); keys
    # and versions compare the same either way within one table
    key_of = itemgetter(*(cols.index(k) for k in spec.key))
    out: dict[Any, Row] = {}
    if spec.mode == "versioned":
        version_of = itemgetter(*(cols.index(c) for c in spec.newer))
        for row in rows:
            key = _same(key_of(row))
            have = out.get(key)
            if have is None or version_of(have) <= version_of(row):
                out[key] = row
    else:
        for row in rows:
            out[_same(key_of(row))] = row
    return list(out.values())


def _same(key: Any) -> Any:
    """A key as compared: a UUID (rows journaled by older versions) equals its hex."""
    if key.__class__ is tuple:
        return tuple(k.hex if isinstance(k, UUID) else k for k in key) if any(
            isinstance(k, UUID) for k in key) else key
    return key.hex if isinstance(key, UUID) else key


async def with_latest(batch: Batch) -> Batch:
    """``batch`` (a new dict) with the ``market_data_latest`` rows its bars make: the
    newest bar per (exchange, symbol, timeframe). Unchanged if it has them already. Yields
    to the loop every few thousand bars."""
    batch = dict(batch)
    if batch.get("price_data", ((), []))[1] and "market_data_latest" not in batch:
        cols, rows = batch["price_data"]
        in_order = sorted(rows, key=itemgetter(cols.index("ts")))  # linear when in order
        key = itemgetter(*(cols.index(c) for c in ("exchange", "symbol", "timeframe")))
        latest: dict[Any, Row] = {}
        for i in range(0, len(in_order), _LATEST_CHUNK):
            if i:
                await asyncio.sleep(0)
            chunk = in_order[i:i + _LATEST_CHUNK]
            latest.update(zip(map(key, chunk), chunk, strict=True))
        want = SPECS["market_data_latest"].columns
        idx = [cols.index(c) for c in want]
        batch["market_data_latest"] = (want, list(latest.values()) if want == cols else
                                       [tuple(row[i] for i in idx) for row in latest.values()])
    return batch


def _months_between(lo: datetime, hi: datetime) -> set[tuple[int, int]]:
    first, last = lo.year * 12 + lo.month - 1, hi.year * 12 + hi.month - 1
    return {divmod(i, 12) for i in range(first, last + 1)}


class Flusher:
    """Writes batches over a connection; remembers per-connection staging tables."""

    def __init__(self, *, timeout: float,
                 async_commit: Collection[str] = ASYNC_COMMIT_TABLES) -> None:
        self.timeout = timeout
        self._async_commit = frozenset(async_commit)
        self._staged: set[str] = set()
        self._months: set[tuple[int, int]] = set()
        self._text = TextCache()
        self._slice: dict[str, int] = {}

    def reset_connection(self) -> None:
        """Forget per-connection state (call after reconnecting)."""
        self._staged.clear()

    async def write(self, conn: asyncpg.Connection, batch: Batch) -> dict[str, int]:
        """Write ``batch`` in one transaction; returns rows written per table. Bars also
        update ``market_data_latest`` (see :func:`with_latest`)."""
        if batch.get("price_data", ((), []))[1]:
            cols, rows = batch["price_data"]
            ts = itemgetter(cols.index("ts"))
            await self._ensure_partitions(conn, min(map(ts, rows)), max(map(ts, rows)))
        batch = await with_latest(batch)
        if any(SPECS[name].optimistic for name in batch):
            try:
                return await self._transaction(conn, batch, optimistic=True)
            except asyncpg.UniqueViolationError:
                pass  # rolled back: something was already stored; merge instead
        return await self._transaction(conn, batch, optimistic=False)

    async def write_isolating(self, conn: asyncpg.Connection, batch: Batch,
                              reject: Any) -> dict[str, int]:
        """Write a batch that failed on bad rows: table by table (in dependency order),
        bisecting down to single rows; ``reject(table, columns, row, exc)`` gets each row
        that cannot be written."""
        written: dict[str, int] = {}
        for name in FLUSH_ORDER:
            if name not in batch:
                continue
            cols, rows = batch[name]
            stack = [rows]
            while stack:
                part = stack.pop()
                try:
                    counts = await self.write(conn, {name: (cols, part)})
                except Exception as exc:
                    if not is_poison(exc):
                        raise
                    if len(part) == 1:
                        reject(name, cols, part[0], exc)
                        continue
                    mid = len(part) // 2
                    stack.extend((part[mid:], part[:mid]))
                    continue
                for table, n in counts.items():
                    written[table] = written.get(table, 0) + n
        return written

    async def _transaction(self, conn: asyncpg.Connection, batch: Batch, *,
                           optimistic: bool) -> dict[str, int]:
        t = self.timeout
        plan: list[tuple[TableSpec, tuple[str, ...], list[Row]]] = []
        for name in FLUSH_ORDER:
            if name in batch:
                spec = SPECS[name]
                cols, rows = batch[name]
                if not rows:
                    continue
                if not (optimistic and spec.optimistic):
                    rows = _dedupe(spec, cols, rows)
                    await self._ensure_stage(conn, spec)
                plan.append((spec, cols, rows))
        written: dict[str, int] = {}
        relaxed = all(spec.target in self._async_commit for spec, _, _ in plan)
        await conn.execute("BEGIN; SET LOCAL synchronous_commit TO off" if relaxed
                           else "BEGIN", timeout=t)
        try:
            for spec, cols, rows in plan:
                if optimistic and spec.optimistic:
                    await self._copy(conn, spec.target, cols, rows)
                else:
                    await self._copy(conn, f"_stage_{spec.name}", cols, rows)
                    await conn.execute(_merge_sql(spec, cols), timeout=t)
                written[spec.target] = written.get(spec.target, 0) + len(rows)
            await conn.execute("COMMIT", timeout=t)
        except BaseException:
            if not conn.is_closed() and conn.is_in_transaction():
                try:
                    await asyncio.shield(conn.execute("ROLLBACK", timeout=t))
                except Exception:  # the original error matters more
                    conn.terminate()
            raise
        return written

    async def _copy(self, conn: asyncpg.Connection, table: str, cols: tuple[str, ...],
                    rows: list[Row]) -> None:
        async def slices() -> AsyncIterator[bytes]:
            size = self._slice.get(table, 64)
            i = 0
            while i < len(rows):
                if i:
                    await asyncio.sleep(0)  # let the loop run between slices
                started = time.thread_time()
                data = encode_rows(rows[i:i + size], self._text)
                spent = time.thread_time() - started
                i += size
                if spent > 0:  # aim the next slice at SLICE_S of CPU
                    size = max(_MIN_SLICE, min(_MAX_SLICE, int(size * SLICE_S / spent)))
                self._slice[table] = size
                yield data

        await conn.copy_to_table(table, source=slices(), columns=list(cols), format="text",
                                 timeout=self.timeout)

    async def _ensure_stage(self, conn: asyncpg.Connection, spec: TableSpec) -> None:
        if spec.name in self._staged:
            return
        # Outside the batch's transaction, so a rollback does not undo it. No constraints:
        # CREATE TABLE AS copies column types only.
        await conn.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_q('_stage_' + spec.name)} "
            f"ON COMMIT DELETE ROWS AS SELECT * FROM {_q(spec.target)} WITH NO DATA",
            timeout=self.timeout)
        self._staged.add(spec.name)

    async def _ensure_partitions(self, conn: asyncpg.Connection, lo: datetime,
                                 hi: datetime) -> None:
        months = _months_between(lo, hi)
        if months <= self._months:
            return
        start = datetime(lo.year, lo.month, 1, tzinfo=lo.tzinfo)
        await conn.execute("SELECT ensure_price_partitions($1, $2)", start,
                           hi + timedelta(microseconds=1), timeout=self.timeout)
        self._months |= months
