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

The journal, spill list, backoff and connection live in :mod:`engine.store.backlog`; how
a batch becomes one transaction in :mod:`engine.store.flusher`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

import asyncpg

from engine.store.backlog import Backlog, Link, add_rows, release_rows
from engine.store.errors import StoreError
from engine.store.flusher import ASYNC_COMMIT_TABLES, Flusher, is_poison
from engine.store.journal import Batch, Journal
from engine.store.pool import DEFAULT_SCHEMA
from engine.store.rows import Row, RowMaker
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
        async_commit_tables: Collection[str] = ASYNC_COMMIT_TABLES,
    ) -> None:
        if batch_size < 1 or queue_size < batch_size or flush_interval_s <= 0:
            raise ValueError("need batch_size >= 1, queue_size >= batch_size, interval > 0")
        self._rows = RowMaker(account_id)
        self._batch_size = batch_size
        self._interval = flush_interval_s
        self._queue_size = queue_size
        self._op_timeout = op_timeout_s
        self._flusher = Flusher(timeout=op_timeout_s, async_commit=async_commit_tables)
        self._backlog = Backlog(Path(journal_dir), spill_chunk=spill_chunk,
                                backoff=(backoff_initial_s, backoff_max_s))
        self._link = Link(pool_or_dsn, schema=schema, connect_timeout_s=connect_timeout_s,
                          op_timeout_s=op_timeout_s, on_new=self._flusher.reset_connection)
        self._buf: dict[str, list[Row]] = {}
        self._depth = 0
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._started = asyncio.Event()
        self._running = False
        self._closing = False
        self._closed = False
        self._written: dict[str, int] = {}
        self._flushes = 0
        self._latency: float | None = None

    @property
    def _journal(self) -> Journal:
        return self._backlog.journal

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
            self._backlog.late(rows)
            return
        if self._depth >= self._queue_size:
            self._overflow(rows)
            return
        add_rows(self._buf, rows)
        self._depth += 1
        if self._depth == 1 or self._depth >= self._batch_size:
            self._wake.set()

    def _overflow(self, rows: list[tuple[str, Row]]) -> None:
        """The queue is full: it moves, oldest first, to the spill list, which goes to the
        journal a frame or two per call, so no single submit pays for the whole queue."""
        spill = self._backlog.spill
        if self._buf:
            for table, queued in self._buf.items():
                spill.extend((table, row) for row in queued)
            self._buf, self._depth = {}, 0
        spill.extend(rows)
        self._wake.set()
        if self._journal.is_open and len(spill) >= self._backlog.spill_chunk:
            self._backlog.write_spill(max_frames=2)

    def take_realized_from(self, realized_of: Callable[[Any], Decimal | None]) -> None:
        """Where the ``trades`` rows get each fill's realized PnL: the portfolio's
        ``realized_of`` (the portfolio books a fill before the writer sees it)."""
        self._rows.realized_of = realized_of

    def status(self) -> WriterStatus:
        """The writer's state and counters (cheap; call as often as needed)."""
        b = self._backlog
        if not self._running or b.broken:
            state: State = "down"
        elif b.healthy and not b.pending:
            state = "ok"
        else:
            state = "degraded"
        return WriterStatus(
            state=state, queue_depth=self._depth + len(b.spill),
            journal_records=self._journal.records, journal_bytes=self._journal.size,
            rows_written=dict(self._written), last_flush_latency_s=self._latency,
            last_error=b.last_error, rows_rejected=b.rejected,
            journal_corrupt_bytes=b.corrupt_bytes, flushes=self._flushes,
            flush_failures=b.flush_failures)

    # -- lifecycle ---------------------------------------------------------------------

    async def run(self) -> None:
        """The long-lived task: flush, journal, reconnect, drain, until :meth:`close`."""
        if self._running:
            raise StoreError("StoreWriter.run() is already running")
        self._running = True
        self._stopped.clear()
        try:
            await self._backlog.open()
            self._started.set()
            while True:
                if not self._has_work():
                    if self._closing:
                        break
                    await self._wake.wait()  # the first record of a batch, or close()
                    self._wake.clear()
                    continue
                if self._closing:
                    await self._final_flush()
                    if (not self._has_work() or not self._backlog.healthy
                            or self._backlog.broken or self._closed):
                        break
                    continue
                await self._step()
        finally:
            self._running = False
            await self._link.release(broken=False)
            self._stopped.set()

    async def wait_started(self) -> None:
        """Until :meth:`run` has opened the journal. A short-lived writer (an import, a
        backtest) waits for this before submitting: closed before then, it would journal
        everything, for the next start to find as if left by a crash."""
        await self._started.wait()

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
        b = self._backlog
        leftover = b.spill + [(t, r) for t, rows in self._buf.items() for r in rows]
        self._buf, b.spill, self._depth = {}, [], 0
        if leftover:
            b.late(leftover)
        if not self._running:
            self._journal.close()

    # -- the loop ----------------------------------------------------------------------

    def _has_work(self) -> bool:
        return bool(self._buf) or self._backlog.pending

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
        b = self._backlog
        if b.healthy and not b.pending:
            if self._depth < self._batch_size:
                await self._sleep(self._interval)  # woken early by a full batch or close
            batch = self._take()
            if batch:
                await self._write_direct(batch)
            return
        # degraded: journal what arrives, once per interval, and retry when backoff allows;
        # a backlog left by an overflow (database healthy) drains at once
        delay = b.retry_at - time.monotonic()
        await self._sleep(min(delay, self._interval) if delay > 0 else 0.0)
        if not b.healthy or b.spill:
            self._journal_intake()
        await b.sync()
        if b.retry_at <= time.monotonic():
            await self._drain()

    async def _final_flush(self) -> None:
        """On close: write (or journal) what is queued; then one drain attempt, whatever
        the backoff says (a failure leaves the journal for the next start)."""
        b = self._backlog
        while self._buf and b.healthy and not b.pending:
            await self._write_direct(self._take())
        while (b.spill or self._buf) and not b.broken:
            self._journal_intake()
        await b.sync()
        if self._journal.pending and not b.broken:
            await self._drain()

    def _journal_intake(self) -> None:
        """Journal spilled rows (a bounded number of frames per call), then, once the
        spill is empty, the queue: older rows always go first."""
        b = self._backlog
        if b.spill:
            b.write_spill(max_frames=16)
        if not b.spill:
            batch = self._take()
            if batch:
                b.append(batch)

    async def _drain(self) -> None:
        await self._backlog.drain(self._write, 2 * self._batch_size, self._drain_intake)

    async def _drain_intake(self) -> None:
        """Between drained batches: spilled rows go to the journal behind the backlog;
        while the database is healthy the queue stays in memory (it is newer than the
        journal and is written directly once the journal is empty)."""
        if self._backlog.spill or not self._backlog.healthy:
            self._journal_intake()
            await self._backlog.sync()
        else:
            await asyncio.sleep(0)

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
                del rows[:limit]  # a memmove, not a copy of the rest
                rest[table] = rows
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
            self._backlog.append(batch)
            self._backlog.fsync_now()
            raise
        except Exception as exc:  # any failure: journal, back off, retry
            self._fail(exc)
            self._backlog.append(batch)
            await self._backlog.sync()
        else:  # the lists are the batch's own: _take hands over detached lists or slices
            await release_rows(batch)

    async def _write(self, batch: Batch) -> None:
        started = time.perf_counter()
        conn = await self._link.get()
        try:
            async with asyncio.timeout(self._op_timeout * 3):
                counts = await self._flusher.write(conn, batch)
        except Exception as exc:
            if not is_poison(exc):
                raise
            _log.error("batch refused by the database (%s); isolating bad rows", exc)
            async with asyncio.timeout(self._op_timeout * 30):
                counts = await self._flusher.write_isolating(conn, batch,
                                                             self._backlog.reject)
        for table, n in counts.items():
            self._written[table] = self._written.get(table, 0) + n
        self._latency = time.perf_counter() - started
        self._flushes += 1
        self._backlog.succeeded()

    def _fail(self, exc: BaseException) -> None:
        self._backlog.fail(exc)
        asyncio.get_running_loop().create_task(self._link.release(broken=True))
