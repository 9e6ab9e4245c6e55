"""The store writer: the one task that moves the engine's records into PostgreSQL.

Intake (:meth:`StoreWriter.submit`) is synchronous and never blocks: the object becomes
rows at once (:mod:`engine.store.rows`) and joins an in-memory queue bounded by
``queue_size`` objects. :meth:`StoreWriter.run` flushes the queue when ``batch_size``
objects are waiting or ``flush_interval_s`` has passed, whichever comes first, through
:class:`~engine.store.flusher.Flusher`.

When a flush fails because of the database (down, unreachable, timing out, restarting)
the batch goes to the disk journal and the writer turns ``degraded``: every later batch is
journaled too, and a reconnect is tried with capped exponential backoff and jitter. Once
the database answers, the journal is drained in order and then truncated, and the writer
is ``ok`` again. When the queue is full, records spill to the journal instead of waiting.

Rows the database refuses for what they are (a violated constraint, bad data) are isolated
by bisection and written, one JSON line each, to ``<journal_dir>/rejected.jsonl``; the rest
of their batch is stored. Nothing the engine handed over is dropped silently.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

import asyncpg

from engine.store.errors import JournalCorruptError, JournalError, StoreError
from engine.store.flusher import Flusher, is_poison
from engine.store.journal import Batch, Journal
from engine.store.pool import DEFAULT_SCHEMA, connect
from engine.store.rows import Row, RowMaker, dumps_json
from engine.store.tables import SPECS

__all__ = ["StoreWriter", "WriterStatus"]

_log = logging.getLogger(__name__)

State = Literal["ok", "degraded", "down"]


@dataclass(frozen=True, slots=True)
class WriterStatus:
    """A snapshot of the writer for /readyz, /metrics and /status.

    ``state``: ``ok`` (writing to the database), ``degraded`` (the database is failing or
    the journal is draining; records are safe on disk), ``down`` (not running, or the
    journal cannot be written either: records are only in memory).
    """

    state: State
    queue_depth: int
    journal_records: int
    journal_bytes: int
    rows_written: dict[str, int]
    last_flush_latency_s: float | None
    last_error: str | None
    rows_rejected: int = 0
    journal_corrupt_bytes: int = 0
    flushes: int = 0
    flush_failures: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _group(items: list[tuple[str, Row]]) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = {}
    for table, row in items:
        lst = out.get(table)
        if lst is None:
            out[table] = [row]
        else:
            lst.append(row)
    return out


class StoreWriter:
    """Batched, journaled writer of one account's records. See the module docstring."""

    def __init__(
        self,
        pool_or_dsn: asyncpg.Pool | str,
        *,
        journal_dir: os.PathLike[str] | str,
        account_id: UUID,
        batch_size: int = 5000,
        flush_interval_s: float = 0.05,
        queue_size: int = 100_000,
        schema: str = DEFAULT_SCHEMA,
        op_timeout_s: float = 10.0,
        connect_timeout_s: float = 5.0,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 5.0,
        spill_chunk: int = 1000,
    ) -> None:
        if batch_size < 1 or queue_size < batch_size or flush_interval_s <= 0:
            raise ValueError("need batch_size >= 1, queue_size >= batch_size, interval > 0")
        self._pool = pool_or_dsn if isinstance(pool_or_dsn, asyncpg.Pool) else None
        self._dsn = pool_or_dsn if isinstance(pool_or_dsn, str) else None
        self._schema = schema
        self._rows = RowMaker(account_id)
        self._batch_size = batch_size
        self._interval = flush_interval_s
        self._queue_size = queue_size
        self._op_timeout = op_timeout_s
        self._connect_timeout = connect_timeout_s
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._spill_chunk = spill_chunk
        self._journal = Journal(Path(journal_dir))
        self._flusher = Flusher(timeout=op_timeout_s)
        self._buf: dict[str, list[Row]] = {}
        self._depth = 0
        self._spill: list[tuple[str, Row]] = []
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._conn: asyncpg.Connection | None = None
        self._running = False
        self._closing = False
        self._closed = False
        self._healthy = True
        self._journal_broken = False
        self._failures = 0
        self._retry_at = 0.0
        self._written: dict[str, int] = {}
        self._rejected = 0
        self._corrupt_bytes = 0
        self._flushes = 0
        self._flush_failures = 0
        self._latency: float | None = None
        self._last_error: str | None = None

    # -- intake ------------------------------------------------------------------------

    def submit(self, obj: object) -> None:
        """Queue ``obj`` for the database. Synchronous, never blocks, never drops.

        Accepts order events (orders upsert + order_events; fills also -> trades),
        PositionChanged, Fill, Order, Position, closed Bars (open bars are ignored: only
        finished bars are history), Signal, Prediction, Alert and the
        :mod:`engine.store.records` types. TypeError for anything else.
        """
        rows = self._rows.rows(obj)
        if not rows:
            return
        if self._closed:
            self._late(rows)
            return
        if self._depth >= self._queue_size:
            self._overflow(rows)
            return
        buf = self._buf
        for table, row in rows:
            lst = buf.get(table)
            if lst is None:
                buf[table] = [row]
            else:
                lst.append(row)
        self._depth += 1
        if self._depth == 1 or self._depth >= self._batch_size:
            self._wake.set()

    def _overflow(self, rows: list[tuple[str, Row]]) -> None:
        """The queue is full: it moves, oldest first, to the spill list, which goes to the
        journal a frame or two per call, so no single submit pays for the whole queue."""
        if self._buf:
            for table, queued in self._buf.items():
                self._spill.extend((table, row) for row in queued)
            self._buf, self._depth = {}, 0
        self._spill.extend(rows)
        self._wake.set()
        if self._journal.is_open and len(self._spill) >= self._spill_chunk:
            self._write_spill(max_frames=2)

    def status(self) -> WriterStatus:
        """The writer's state and counters (cheap; call as often as needed)."""
        if not self._running or self._journal_broken:
            state: State = "down"
        elif self._healthy and not self._journal.pending and not self._spill:
            state = "ok"
        else:
            state = "degraded"
        return WriterStatus(
            state=state, queue_depth=self._depth + len(self._spill),
            journal_records=self._journal.records, journal_bytes=self._journal.size,
            rows_written=dict(self._written), last_flush_latency_s=self._latency,
            last_error=self._last_error, rows_rejected=self._rejected,
            journal_corrupt_bytes=self._corrupt_bytes, flushes=self._flushes,
            flush_failures=self._flush_failures)

    # -- lifecycle ---------------------------------------------------------------------

    async def run(self) -> None:
        """The long-lived task: flush, journal, reconnect, drain, until :meth:`close`."""
        if self._running:
            raise StoreError("StoreWriter.run() is already running")
        self._running = True
        self._stopped.clear()
        try:
            await self._open_journal()
            while True:
                if not self._has_work():
                    if self._closing:
                        break
                    await self._wake.wait()  # the first record of a batch, or close()
                    self._wake.clear()
                    continue
                if self._closing:
                    await self._final_flush()
                    if (not self._has_work() or not self._healthy or self._journal_broken
                            or self._closed):
                        break
                    continue
                await self._step()
        finally:
            self._running = False
            await self._release_connection(broken=False)
            self._stopped.set()

    async def close(self, timeout: float = 10.0) -> None:
        """Stop intake, flush (or journal) what is queued, and stop :meth:`run`."""
        self._closing = True
        self._wake.set()
        if self._running:
            try:
                async with asyncio.timeout(timeout):
                    await self._stopped.wait()
            except TimeoutError:
                _log.error("store writer did not finish within %.1fs; journaling the rest",
                           timeout)
        self._closed = True
        leftover = self._spill + [(t, r) for t, rows in self._buf.items() for r in rows]
        self._buf, self._spill, self._depth = {}, [], 0
        if leftover:
            self._late(leftover)
        if not self._running:
            self._journal.close()

    # -- the loop ----------------------------------------------------------------------

    def _has_work(self) -> bool:
        return bool(self._buf or self._spill or self._journal.pending)

    async def _sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            pass
        self._wake.clear()

    async def _step(self) -> None:
        if self._healthy and not self._journal.pending and not self._spill:
            if self._depth < self._batch_size:
                await self._sleep(self._interval)  # woken early by a full batch or close
            batch = self._take()
            if batch:
                await self._write_direct(batch)
            return
        # degraded: journal what arrives, once per interval, and retry when backoff allows
        delay = self._retry_at - time.monotonic()
        await self._sleep(min(delay, self._interval) if delay > 0 else 0.0)
        self._journal_intake()
        await self._sync()
        if self._retry_at <= time.monotonic():
            await self._drain()

    async def _final_flush(self) -> None:
        """On close: write (or journal) what is queued; then one drain attempt, whatever
        the backoff says (a failure leaves the journal for the next start)."""
        while self._buf and self._healthy and not self._journal.pending and not self._spill:
            await self._write_direct(self._take())
        while (self._spill or self._buf) and not self._journal_broken:
            self._journal_intake()
        await self._sync()
        if self._journal.pending and not self._journal_broken:
            await self._drain()

    def _journal_intake(self) -> None:
        """Journal spilled rows (a bounded number of frames per call), then, once the
        spill is empty, the queue: older rows always go first."""
        if self._spill:
            self._write_spill(max_frames=16)
        if not self._spill:
            batch = self._take()
            if batch:
                self._append(batch)

    def _take(self) -> Batch:
        """Up to ``2 * batch_size`` rows per table, oldest first (bounds a flush's work)."""
        if not self._buf:
            return {}
        limit = 2 * self._batch_size
        batch: Batch = {}
        rest: dict[str, list[Row]] = {}
        for table, rows in self._buf.items():
            if len(rows) > limit:
                batch[table] = (SPECS[table].columns, rows[:limit])
                rest[table] = rows[limit:]
            else:
                batch[table] = (SPECS[table].columns, rows)
        if rest:
            self._buf = rest
            self._depth = max(len(r) for r in rest.values())
        else:
            self._buf, self._depth = {}, 0
        return batch

    async def _write_direct(self, batch: Batch) -> None:
        try:
            await self._write(batch)
        except asyncio.CancelledError:
            self._append(batch)
            self._fsync_now()
            raise
        except Exception as exc:  # any failure: journal, back off, retry
            self._fail(exc)
            self._append(batch)
            await self._sync()

    async def _write(self, batch: Batch) -> None:
        started = time.perf_counter()
        conn = await self._connection()
        try:
            async with asyncio.timeout(self._op_timeout * 3):
                counts = await self._flusher.write(conn, batch)
        except Exception as exc:
            if not is_poison(exc):
                raise
            _log.error("batch refused by the database (%s); isolating bad rows", exc)
            async with asyncio.timeout(self._op_timeout * 30):
                counts = await self._flusher.write_isolating(conn, batch, self._reject)
        for table, n in counts.items():
            self._written[table] = self._written.get(table, 0) + n
        self._latency = time.perf_counter() - started
        self._flushes += 1
        self._healthy = True
        self._failures = 0

    async def _drain(self) -> None:
        try:
            while True:
                nxt = self._journal.read_next()
                if nxt is None:
                    break
                batch, count, end = nxt
                await self._write(batch)
                self._journal.mark_drained(end, count)
                # keep intake moving while a long backlog drains: journal it behind
                if self._depth >= self._batch_size or self._spill:
                    self._journal_intake()
                    await self._sync()
            await self._journal.truncate()
            if self._last_error:
                _log.warning("database back: journal drained")
        except JournalCorruptError as exc:
            self._report_corrupt(exc)
        except Exception as exc:  # the database failed again
            self._fail(exc)

    # -- failures, journal -------------------------------------------------------------

    def _fail(self, exc: BaseException) -> None:
        self._healthy = False
        self._failures += 1
        self._flush_failures += 1
        self._last_error = f"{type(exc).__name__}: {exc}"
        initial, cap = self._backoff
        delay = min(cap, initial * 2 ** min(self._failures - 1, 30))
        self._retry_at = time.monotonic() + delay * random.uniform(0.5, 1.0)
        if self._failures == 1:
            _log.warning("database write failed, journaling: %s", self._last_error)
        asyncio.get_running_loop().create_task(self._release_connection(broken=True))

    def _reject(self, table: str, cols: tuple[str, ...], row: Row, exc: BaseException) -> None:
        self._rejected += 1
        self._last_error = f"rejected row in {table}: {type(exc).__name__}: {exc}"
        line = dumps_json({"at_ns": time.time_ns(), "table": table, "error": str(exc),
                           "row": dict(zip(cols, row, strict=True))})
        path = self._journal.directory / "rejected.jsonl"
        with path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        _log.error("%s (kept in %s)", self._last_error, path)

    def _append(self, batch: Batch) -> bool:
        """Journal a batch; if the disk refuses, the rows go back to the front of the spill
        list (memory) to be retried, and the writer reports ``down``."""
        if not batch:
            return True
        try:
            self._journal.append(batch)
        except JournalError as exc:
            self._journal_broken = True
            self._last_error = str(exc)
            _log.error("%s; keeping the rows in memory", exc)
            self._spill[0:0] = [(t, row) for t, (_, rows) in batch.items() for row in rows]
            return False
        return True

    def _write_spill(self, max_frames: int) -> None:
        for _ in range(max_frames):
            if not self._spill:
                return
            n = self._spill_chunk
            items = self._spill[:n]
            del self._spill[:n]
            if not self._append({t: (SPECS[t].columns, rows)
                                 for t, rows in _group(items).items()}):
                return

    async def _sync(self) -> None:
        try:
            await self._journal.sync()
            self._journal_broken = False
        except JournalError as exc:
            self._journal_broken = True
            self._last_error = str(exc)

    def _fsync_now(self) -> None:
        if self._journal.is_open:
            os.fsync(self._journal_fd())

    def _journal_fd(self) -> int:
        return self._journal._fd  # shutdown path only

    def _late(self, rows: list[tuple[str, Row]]) -> None:
        """Rows arriving after close: straight to the journal, durably."""
        if not self._journal.is_open:
            result = self._journal.open()
            if result.corrupt is not None:
                self._report_corrupt(result.corrupt)
        self._journal.append({t: (SPECS[t].columns, rs) for t, rs in _group(rows).items()})
        self._fsync_now()

    async def _open_journal(self) -> None:
        if self._journal.is_open:
            return
        result = await asyncio.to_thread(self._journal.open)
        if result.corrupt is not None:
            self._report_corrupt(result.corrupt)
        if result.records:
            _log.warning("journal holds %d records from a previous run; draining",
                         result.records)

    def _report_corrupt(self, exc: JournalCorruptError) -> None:
        self._corrupt_bytes += exc.bad_bytes
        self._last_error = str(exc)
        _log.error("%s", exc)

    # -- connection --------------------------------------------------------------------

    async def _connection(self) -> asyncpg.Connection:
        conn = self._conn
        if conn is not None and not conn.is_closed():
            return conn
        self._conn = None
        self._flusher.reset_connection()
        if self._pool is not None:
            conn = await self._pool.acquire(timeout=self._connect_timeout)
        else:
            assert self._dsn is not None
            conn = await connect(self._dsn, timeout=self._connect_timeout,
                                 command_timeout=self._op_timeout, schema=self._schema,
                                 application_name="tradeengine-writer")
        self._conn = conn
        return conn

    async def _release_connection(self, *, broken: bool) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if broken:
            conn.terminate()
        try:
            if self._pool is not None:
                await asyncio.shield(self._pool.release(conn, timeout=self._op_timeout))
            elif not conn.is_closed():
                await asyncio.shield(conn.close(timeout=self._op_timeout))
        except Exception:  # closing a dead connection may fail; it is gone
            conn.terminate()
