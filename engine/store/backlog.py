"""The writer's recovery side: the disk journal, the spill list, failures and backoff, the
connection.

:class:`Backlog` keeps what the database has not taken yet. Rows the queue could not hold
(``spill``) and batches whose flush failed go to the journal, oldest first; the journal is
fsync'd in a worker thread and drained, in order, once the database answers, then
truncated. A failure arms a capped exponential backoff with jitter. Rows the database
refuses for what they are land in ``<journal_dir>/rejected.jsonl``.

:class:`Link` is the writer's one connection: taken from the pool (or opened from a DSN)
when needed, terminated after a failure so the next attempt starts clean.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

from engine.store.errors import JournalCorruptError, JournalError
from engine.store.journal import Batch, Journal
from engine.store.pool import connect
from engine.store.rows import Row, dumps_json
from engine.store.tables import SPECS

__all__ = ["Backlog", "Link", "add_rows", "group_rows", "release_rows"]

_log = logging.getLogger(__name__)


def add_rows(buf: dict[str, list[Row]], items: list[tuple[str, Row]]) -> None:
    """Append ``(table, row)`` pairs to ``buf``'s per-table lists, in order."""
    for table, row in items:
        lst = buf.get(table)
        if lst is None:
            buf[table] = [row]
        else:
            lst.append(row)


def group_rows(items: list[tuple[str, Row]]) -> Batch:
    """``(table, row)`` pairs as a batch (table order of first appearance, rows in order)."""
    out: dict[str, list[Row]] = {}
    add_rows(out, items)
    return {t: (SPECS[t].columns, rows) for t, rows in out.items()}


_RELEASE_CHUNK = 2000


async def release_rows(batch: Batch) -> None:
    """Drop a written batch's rows a chunk at a time, yielding to the loop in between:
    freeing 10k rows at once holds the loop for milliseconds. Only for a batch whose row
    lists nobody else holds."""
    for _, rows in batch.values():
        while len(rows) > _RELEASE_CHUNK:
            del rows[-_RELEASE_CHUNK:]
            await asyncio.sleep(0)


class Backlog:
    """Journal, spill list, failure and backoff state of one writer."""

    def __init__(self, journal_dir: Path, *, spill_chunk: int,
                 backoff: tuple[float, float]) -> None:
        self.journal = Journal(journal_dir)
        self.spill: list[tuple[str, Row]] = []
        """Rows (oldest first) waiting to be journaled: the queue overflowed."""
        self.spill_chunk = spill_chunk
        self.healthy = True
        """False from a failed write until the next successful one."""
        self.broken = False
        """True while the journal itself cannot be written or synced."""
        self.retry_at = 0.0
        self.failures = 0
        self.flush_failures = 0
        self.rejected = 0
        self.corrupt_bytes = 0
        self.last_error: str | None = None
        self._backoff = backoff

    @property
    def pending(self) -> bool:
        """True while spilled or journaled rows wait for the database."""
        return bool(self.spill) or self.journal.pending

    # -- failures ----------------------------------------------------------------------

    def succeeded(self) -> None:
        """A write reached the database."""
        self.healthy = True
        self.failures = 0

    def fail(self, exc: BaseException) -> None:
        """A write failed because of the database: back off before the next attempt."""
        self.healthy = False
        self.failures += 1
        self.flush_failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        initial, cap = self._backoff
        delay = min(cap, initial * 2 ** min(self.failures - 1, 30))
        self.retry_at = time.monotonic() + delay * random.uniform(0.5, 1.0)
        if self.failures == 1:
            _log.warning("database write failed, journaling: %s", self.last_error)

    def reject(self, table: str, cols: tuple[str, ...], row: Row, exc: BaseException) -> None:
        """Keep a row the database refuses (one JSON line in ``rejected.jsonl``)."""
        self.rejected += 1
        self.last_error = f"rejected row in {table}: {type(exc).__name__}: {exc}"
        line = dumps_json({"at_ns": time.time_ns(), "table": table, "error": str(exc),
                           "row": dict(zip(cols, row, strict=True))})
        path = self.journal.directory / "rejected.jsonl"
        with path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        _log.error("%s (kept in %s)", self.last_error, path)

    def report_corrupt(self, exc: JournalCorruptError) -> None:
        """Count and log a damaged journal tail (never replayed)."""
        self.corrupt_bytes += exc.bad_bytes
        self.last_error = str(exc)
        _log.error("%s", exc)

    # -- journal -----------------------------------------------------------------------

    async def open(self) -> None:
        """Open the journal (in a worker thread); report what a previous run left."""
        if self.journal.is_open:
            return
        result = await asyncio.to_thread(self.journal.open)
        if result.corrupt is not None:
            self.report_corrupt(result.corrupt)
        if result.records:
            _log.warning("journal holds %d records from a previous run; draining",
                         result.records)

    def append(self, batch: Batch) -> bool:
        """Journal a batch; if the disk refuses, the rows go back to the front of the spill
        list (memory) to be retried, and the writer reports ``down``."""
        if not batch:
            return True
        try:
            self.journal.append(batch)
        except JournalError as exc:
            self.broken = True
            self.last_error = str(exc)
            _log.error("%s; keeping the rows in memory", exc)
            self.spill[0:0] = [(t, row) for t, (_, rows) in batch.items() for row in rows]
            return False
        return True

    def write_spill(self, max_frames: int) -> None:
        """Journal up to ``max_frames`` frames of spilled rows, oldest first."""
        for _ in range(max_frames):
            if not self.spill:
                return
            n = self.spill_chunk
            items = self.spill[:n]
            del self.spill[:n]
            if not self.append(group_rows(items)):
                return

    async def sync(self) -> None:
        """fsync the journal (worker thread); a failure marks it broken."""
        try:
            await self.journal.sync()
            self.broken = False
        except JournalError as exc:
            self.broken = True
            self.last_error = str(exc)

    def fsync_now(self) -> None:
        """fsync on the calling thread: shutdown and cancellation paths only."""
        self.journal.fsync_now()

    def late(self, rows: list[tuple[str, Row]]) -> None:
        """Rows arriving after close: straight to the journal, durably."""
        if not self.journal.is_open:
            result = self.journal.open()
            if result.corrupt is not None:
                self.report_corrupt(result.corrupt)
        self.journal.append(group_rows(rows))
        self.fsync_now()

    async def drain(self, write: Callable[[Batch], Awaitable[None]], max_rows: int,
                    intake: Callable[[], Awaitable[None]]) -> None:
        """Write the journal to the database in order (frames merged up to ``max_rows``
        rows per transaction), then truncate it. ``intake`` runs between batches so a long
        backlog does not stop the queue from moving. A database failure arms the backoff;
        a corrupt frame is reported and ends the drain."""
        try:
            while True:
                nxt = self.journal.read_merged(max_rows)
                if nxt is None:
                    break
                batch, count, end = nxt
                await write(batch)
                self.journal.mark_drained(end, count)
                await release_rows(batch)  # read from the journal: its own lists
                await intake()
            await self.journal.truncate()
            if self.last_error:
                _log.warning("database back: journal drained")
        except JournalCorruptError as exc:
            self.report_corrupt(exc)
        except Exception as exc:  # the database failed again
            self.fail(exc)


class Link:
    """The writer's connection: from a pool or a DSN, replaced after a failure."""

    def __init__(self, pool_or_dsn: asyncpg.Pool | str, *, schema: str,
                 connect_timeout_s: float, op_timeout_s: float,
                 on_new: Callable[[], None]) -> None:
        self._pool = pool_or_dsn if isinstance(pool_or_dsn, asyncpg.Pool) else None
        self._dsn = pool_or_dsn if isinstance(pool_or_dsn, str) else None
        self._schema = schema
        self._connect_timeout = connect_timeout_s
        self._op_timeout = op_timeout_s
        self._on_new = on_new
        self._conn: asyncpg.Connection | None = None

    async def get(self) -> asyncpg.Connection:
        """The open connection, or a new one (``on_new`` is called first)."""
        conn = self._conn
        if conn is not None and not conn.is_closed():
            return conn
        self._conn = None
        self._on_new()
        if self._pool is not None:
            conn = await self._pool.acquire(timeout=self._connect_timeout)
        else:
            assert self._dsn is not None
            conn = await connect(self._dsn, timeout=self._connect_timeout,
                                 command_timeout=self._op_timeout, schema=self._schema,
                                 application_name="tradeengine-writer")
        self._conn = conn
        return conn

    async def release(self, *, broken: bool) -> None:
        """Give the connection back (terminated first when ``broken``); shielded."""
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
