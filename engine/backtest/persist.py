"""A backtest that writes what it does to PostgreSQL while it runs."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.database import attach_writer
from engine.ids import uuid7
from engine.store.records import BacktestRecord

__all__ = ["drive_persisted"]

_log = logging.getLogger(__name__)


async def drive_persisted(engine: Any, steps: Iterator[int], dsn: str) -> dict[str, Any]:
    """Run ``steps`` (the synchronous drive loop, yielding every few thousand bars) while
    the store writer flushes in the background; then drain the writer. Returns the
    writer's counts (``rows_written`` per table, ``rows_rejected``)."""
    from engine import store  # noqa: PLC0415

    schema = engine.config.database.schema
    await store.migrate(dsn, schema=schema)
    pool = await store.create_pool(dsn, schema=schema, min_size=1, max_size=2)
    account_id = await store.queries.ensure_account(
        pool, name="backtest", venue="backtest", mode="paper",
        base_currency=engine.config.portfolio.currency,
        starting_cash=engine.config.portfolio.starting_cash)
    with tempfile.TemporaryDirectory(prefix="te-bt-journal-") as journal:
        writer = store.StoreWriter(pool, journal_dir=Path(journal), account_id=account_id,
                                   schema=schema)
        engine.database.writer = writer  # the feed's bar persistence goes through it
        attach_writer(engine.bus, writer, engine.trading)
        run_id = uuid7()
        bt = engine.config.backtest
        record = BacktestRecord(id=run_id, name=",".join(str(t.get("name"))
                                                          for t in engine.config.strategies),
                                started_ns=time.time_ns(), config={"data": bt.data},
                                symbols=tuple(engine.config.marketdata.symbols),
                                timeframe=bt.timeframe or None)
        writer.submit(record)
        task = asyncio.create_task(writer.run())
        try:
            await asyncio.wait_for(writer.wait_started(), 30)  # before bars flow
            for _ in steps:
                await asyncio.sleep(0)  # let the writer flush between chunks
            writer.submit(BacktestRecord(**{**_fields(record), "status": "finished",
                                            "finished_ns": time.time_ns()}))
            await writer.close(timeout=600.0)
            status = writer.status()
            if status.rows_rejected:
                _log.error("the database refused %d rows of this backtest (kept in %s)",
                           status.rows_rejected, journal)
            return {"rows_written": dict(status.rows_written),
                    "rows_rejected": status.rows_rejected}
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await pool.close()


def _fields(record: BacktestRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__dataclass_fields__}
