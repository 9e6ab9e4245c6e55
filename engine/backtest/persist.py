"""A backtest that writes what it does to PostgreSQL while it runs."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from uuid import UUID

from engine.backtest.bars import BarSeries
from engine.database import attach_writer, out_of_reach_is_unavailable
from engine.ids import uuid7
from engine.marketdata.timeframes import timeframe_ns
from engine.secrets import redact_url
from engine.store.records import BacktestRecord

__all__ = ["RunSpan", "drive_persisted"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunSpan:
    """What the ``backtests`` row says of a run besides its config and metrics."""

    data_from_ns: int | None
    """The first bar's open."""
    data_to_ns: int | None
    """The last bar's close: the end of the data the run covered."""
    report_path: str | None

    @classmethod
    def of(cls, series: Sequence[BarSeries], report: Path | None) -> RunSpan:
        """The span of the run's bars; ``report``, where its report is written."""
        held = [s for s in series if len(s.ts)]
        return cls(min((int(s.ts.min()) for s in held), default=None),
                   max((int(s.ts.max()) + timeframe_ns(s.info.timeframe or "1m")
                        for s in held), default=None),
                   str(report.resolve()) if report is not None else None)


async def drive_persisted(engine: Any, steps: Iterator[int], dsn: str,
                          analyse: Callable[[], dict[str, Any]], span: RunSpan) -> dict[str, Any]:
    """Run ``steps`` (the synchronous drive loop, yielding every few hundred bars) while
    the store writer flushes in the background; then ``analyse()`` the run, write the
    ``backtests`` row with its metrics (``failed`` if either raises) and drain the writer.
    Returns the writer's counts (``rows_written`` per table, ``rows_rejected``)."""
    from engine import store  # noqa: PLC0415

    schema = engine.config.database.schema
    run_id = uuid7()
    with out_of_reach_is_unavailable(f"database {redact_url(dsn)} unavailable"):
        await store.migrate(dsn, schema=schema)
        pool = await store.create_pool(dsn, schema=schema, min_size=1, max_size=2)
    # An account of its own: the run's orders, trades, positions and daily performance
    # are then its own (the backtests row names it), whatever else the database holds.
    account_id = await store.queries.ensure_account(
        pool, name=f"backtest {run_id}", venue="backtest", mode="paper",
        base_currency=engine.config.portfolio.currency,
        starting_cash=engine.config.portfolio.starting_cash)
    with tempfile.TemporaryDirectory(prefix="te-bt-journal-") as journal:
        writer = store.StoreWriter(pool, journal_dir=Path(journal), account_id=account_id,
                                   schema=schema)
        engine.database.writer = writer  # the feed's bar persistence goes through it
        attach_writer(engine.bus, writer, engine.trading)
        record = _record(engine, run_id, span)
        writer.submit(record)
        task = asyncio.create_task(writer.run())
        try:
            await asyncio.wait_for(writer.wait_started(), 30)  # before bars flow
            try:
                for _ in steps:
                    await asyncio.sleep(0)  # let the writer flush between chunks
                record = replace(record, status="finished", metrics=analyse())
            except BaseException:
                record = replace(record, status="failed")
                raise
            finally:
                writer.submit(replace(record, finished_ns=time.time_ns()))
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


def _record(engine: Any, run_id: UUID, span: RunSpan) -> BacktestRecord:
    """The run's ``backtests`` row as it starts: what it runs (the data, the range and the
    strategy tables, parameters included: a sweep's row says which set it ran) on what."""
    config = engine.config
    bt = config.backtest
    return BacktestRecord(
        id=run_id, name=",".join(str(t.get("name")) for t in config.strategies),
        started_ns=time.time_ns(),
        config={"data": list(bt.data), "start": bt.start or None, "end": bt.end or None,
                "strategies": [dict(t) for t in config.strategies]},
        symbols=tuple(config.marketdata.symbols),
        timeframe=",".join(config.marketdata.timeframes) or None,
        data_from_ns=span.data_from_ns, data_to_ns=span.data_to_ns,
        report_path=span.report_path)
