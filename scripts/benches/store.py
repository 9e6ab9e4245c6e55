"""Store bench: rows/s into PostgreSQL through StoreWriter vs plain COPY vs ORM-style commits.

Measured in the same run, on the same server, each run into a freshly migrated schema:

- ``raw copy``: ``copy_records_to_table`` of ready-made row tuples, in chunks of the
  writer's batch size, one transaction per chunk (the reference);
- ``writer``: engine objects (``Fill``, closed ``Bar``) handed to ``StoreWriter.submit`` by
  a producer that yields to the loop every 100 objects (like a bus), until ``close()``
  returns - object
  to row conversion, batching, COPY and commit all included;
- ``orm``: SQLAlchemy ORM, ``session.add(row); await session.commit()`` per row (asyncpg
  dialect), on a smaller sample;
- event-loop lag (a 1 ms ticker) while the writer runs: p99 over all writer runs.

Data is seeded (reproducible); one warm-up run of each path, then medians of ``--runs``.
The server is a private PostgreSQL 18 in a temporary directory with production-like
durability (fsync, synchronous_commit and full_page_writes on) and the engine's embedded
cluster settings (``engine.store.cluster.ENGINE_SETTINGS``: shared_buffers=256MB,
wal_buffers=16MB, max_wal_size=4GB, checkpoint_timeout=30min) - unless BENCH_DATABASE_URL
names a server. Usage: ``scripts/bench store [--rows N] [--runs R]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from _common import emit, print_table

from engine import model as m
from engine.ids import ClientOrderId, FillId, OrderId, Symbol, Venue, uuid7
from engine.store import StoreWriter, create_pool, migrate
from engine.store.cluster import ENGINE_SETTINGS, PostgresCluster
from engine.store.rows import RowMaker, ns_to_ts
from engine.store.tables import SPECS

PG_SETTINGS = ENGINE_SETTINGS  # the engine's embedded cluster runs with these too
BATCH = 5000
T0 = 1_767_225_600_000_000_000


def make_fills(n: int, seed: int) -> list[m.Fill]:
    rnd = random.Random(seed)
    orders = [OrderId(uuid.UUID(int=rnd.getrandbits(128))) for _ in range(max(1, n // 10))]
    syms = [Symbol(s) for s in ("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "ADA/USDT")]
    out = []
    for i in range(n):
        oid = orders[i // 10]
        side = m.OrderSide.BUY if rnd.random() < 0.5 else m.OrderSide.SELL
        price = Decimal(f"{rnd.uniform(100, 60000):.2f}")
        out.append(m.Fill(
            id=FillId(uuid7(T0 // 1_000_000 + i)), order_id=oid,
            client_order_id=ClientOrderId(oid.hex), venue=Venue("binance"),
            symbol=syms[i % len(syms)], side=side, qty=Decimal(f"{rnd.uniform(0.001, 2):.6f}"),
            price=price, ts_ns=T0 + i * 1_000_000 + rnd.randrange(1000),
            exchange_trade_id=f"{seed}-{i}", fee=Decimal(f"{rnd.uniform(0, 5):.8f}"),
            fee_currency="USDT", liquidity=m.LiquiditySide.TAKER,
            decision_price=price - Decimal("0.5")))
    return out


def make_bars(n: int, seed: int) -> list[m.Bar]:
    rnd = random.Random(seed)
    syms = [Symbol(f"S{i:02d}/USDT") for i in range(20)]
    out = []
    for i in range(n):
        o = rnd.uniform(1, 50000)
        out.append(m.Bar(venue=Venue("binance"), symbol=syms[i % 20], timeframe="1m",
                         ts_ns=T0 + (i // 20) * 60_000_000_000, open=o, high=o * 1.01,
                         low=o * 0.99, close=o * 1.001, volume=rnd.uniform(0, 1000),
                         vwap=o * 1.0005, num_trades=rnd.randrange(1, 5000)))
    return out


class LagMonitor:
    """Samples event-loop lag with a 1 ms ticker while active.

    ``samples``: wall-clock lag (what a timer on the loop sees; includes the OS running
    other processes instead of this one on a busy machine). ``cpu_samples``: CPU time the
    loop thread spent between two ticks beyond the ticker's own - time the loop was held
    by work in this process, whatever the machine's load.
    """

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.cpu_samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            before = time.perf_counter()
            cpu = time.thread_time()
            await asyncio.sleep(0.001)
            self.samples.append(max(0.0, time.perf_counter() - before - 0.001))
            self.cpu_samples.append(time.thread_time() - cpu)

    def start(self) -> None:
        self._task = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class Bench:
    def __init__(self, dsn: str, rows: int) -> None:
        self.dsn = dsn
        self.rows = rows
        self.n = 0
        self.lag = LagMonitor()

    async def fresh_schema(self) -> str:
        self.n += 1
        schema = f"bench_{os.getpid()}_{self.n}"
        await migrate(self.dsn, schema=schema)
        conn = await asyncpg.connect(self.dsn)  # partitions for the seeded data's months
        await conn.execute(f"SELECT {schema}.ensure_price_partitions($1, $2)",
                           ns_to_ts(T0), ns_to_ts(T0 + 120 * 86_400 * 10**9))
        await conn.close()
        return schema

    async def account(self, pool: asyncpg.Pool) -> uuid.UUID:
        from engine.store import queries
        return await queries.ensure_account(pool, name="bench", venue="binance", mode="paper")

    async def raw_copy(self, table: str, objs: list[Any]) -> float:
        schema = await self.fresh_schema()
        pool = await create_pool(self.dsn, schema=schema, min_size=1, max_size=1)
        maker = RowMaker(await self.account(pool))
        cols = list(SPECS[table].columns)
        rows = [_binary_ready(cols, r) for o in objs for _, r in maker.rows(o)]
        async with pool.acquire() as conn:
            start = time.perf_counter()
            for i in range(0, len(rows), BATCH):
                await conn.copy_records_to_table(table, records=rows[i:i + BATCH],
                                                 columns=cols)
            elapsed = time.perf_counter() - start
        await pool.close()
        return len(rows) / elapsed

    async def writer(self, table: str, objs: list[Any], tmp: Path) -> float:
        schema = await self.fresh_schema()
        pool = await create_pool(self.dsn, schema=schema, min_size=1, max_size=2)
        account = await self.account(pool)
        writer = StoreWriter(pool, journal_dir=tmp / schema, account_id=account,
                             batch_size=BATCH, flush_interval_s=0.05, queue_size=100_000,
                             schema=schema, op_timeout_s=60)
        task = asyncio.create_task(writer.run())
        await asyncio.sleep(0.05)
        self.lag.start()
        start = time.perf_counter()
        for i in range(0, len(objs), 100):
            for obj in objs[i:i + 100]:
                writer.submit(obj)
            await asyncio.sleep(0)
        await writer.close(timeout=120)
        elapsed = time.perf_counter() - start
        await self.lag.stop()
        await task
        status = writer.status()
        assert status.rows_written.get(table) == len(objs), status
        assert status.journal_records == 0 and status.last_error is None, status
        async with pool.acquire() as conn:
            stored = await conn.fetchval(f"SELECT count(*) FROM {table}")
        assert stored == len(objs), (stored, len(objs))
        await pool.close()
        return len(objs) / elapsed

    async def orm(self, objs: list[m.Fill]) -> float:
        from sqlalchemy import Column, DateTime, Numeric, Text
        from sqlalchemy.dialects.postgresql import UUID
        from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
        from sqlalchemy.orm import declarative_base

        schema = await self.fresh_schema()
        pool = await create_pool(self.dsn, schema=schema, min_size=1, max_size=1)
        account = await self.account(pool)
        await pool.close()
        base = declarative_base()

        class Trade(base):  # type: ignore[misc, valid-type]
            __tablename__ = "trades"
            __table_args__ = {"schema": schema}  # noqa: RUF012
            id = Column(UUID(as_uuid=True), primary_key=True)
            order_id = Column(UUID(as_uuid=True))
            account_id = Column(UUID(as_uuid=True))
            client_order_id = Column(Text)
            symbol = Column(Text)
            exchange = Column(Text)
            exchange_trade_id = Column(Text)
            side = Column(Text)
            qty = Column(Numeric)
            price = Column(Numeric)
            fee = Column(Numeric)
            fee_currency = Column(Text)
            liquidity = Column(Text)
            decision_price = Column(Numeric)
            executed_at = Column(DateTime(timezone=True))

        url = self.dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
        engine = create_async_engine(url, pool_size=1)
        maker = RowMaker(account)
        start = time.perf_counter()
        async with AsyncSession(engine) as session:
            for f in objs:
                row = dict(zip(SPECS["trades"].columns,
                               _binary_ready(SPECS["trades"].columns, maker.trade_row(f, None)),
                               strict=True))
                del row["realized_pnl"], row["strategy_id"]
                session.add(Trade(**row))
                await session.commit()
        elapsed = time.perf_counter() - start
        await engine.dispose()
        return len(objs) / elapsed


_UUID_COLUMNS = frozenset({"id", "order_id", "account_id"})


def _binary_ready(cols: tuple[str, ...] | list[str], row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A writer row as the binary-COPY reference takes it (outside the timed part): the
    writer keeps UUIDs as hex text and bar prices as floats (written by their shortest
    repr); asyncpg's binary codecs want UUID and Decimal objects (a float would be stored
    as its exact binary expansion)."""
    return tuple(uuid.UUID(v) if c in _UUID_COLUMNS and isinstance(v, str)
                 else Decimal(repr(v)) if isinstance(v, float) else v
                 for c, v in zip(cols, row, strict=True))


async def _median(fn: Callable[[], Awaitable[float]], runs: int) -> tuple[float, list[float]]:
    await fn()  # warm-up
    samples = [await fn() for _ in range(runs)]
    return statistics.median(samples), samples


async def run(dsn: str, rows: int, runs: int, orm_rows: int) -> None:
    bench = Bench(dsn, rows)
    tmp = Path(tempfile.mkdtemp(prefix="te-bench-journal-"))
    fills, bars = make_fills(rows, 1), make_bars(rows, 2)
    fills2, bars2 = make_fills(rows, 3), make_bars(rows, 4)
    # As the engine does after start-up: long-lived objects (here the seeded data) leave
    # the collector's generations, so a full collection does not walk a million objects.
    gc.collect()
    gc.freeze()
    try:
        raw_t, raw_ts = await _median(lambda: bench.raw_copy("trades", fills), runs)
        wr_t, wr_ts = await _median(lambda: bench.writer("trades", fills2, tmp), runs)
        raw_p, raw_ps = await _median(lambda: bench.raw_copy("price_data", bars), runs)
        wr_p, wr_ps = await _median(lambda: bench.writer("price_data", bars2, tmp), runs)
        orm, orm_s = await _median(lambda: bench.orm(make_fills(orm_rows, 5)), max(1, runs - 1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lag = sorted(bench.lag.samples)
    p99 = lag[int(len(lag) * 0.99)] * 1000 if lag else 0.0
    p50 = lag[len(lag) // 2] * 1000 if lag else 0.0
    cpu = sorted(bench.lag.cpu_samples)
    cpu99 = cpu[int(len(cpu) * 0.99)] * 1000 if cpu else 0.0
    print(f"rows per run: {rows:,} (ORM: {orm_rows:,}); batch {BATCH}; runs {runs} + warm-up")
    print_table(
        ["path", "table", "rows/s (median)", "runs", "vs raw copy"],
        [["raw copy_records_to_table", "trades", raw_t, _runs(raw_ts), 1.0],
         ["StoreWriter", "trades", wr_t, _runs(wr_ts), wr_t / raw_t],
         ["raw copy_records_to_table", "price_data", raw_p, _runs(raw_ps), 1.0],
         ["StoreWriter", "price_data", wr_p, _runs(wr_ps), wr_p / raw_p],
         ["SQLAlchemy ORM, commit per row", "trades", orm, _runs(orm_s), orm / raw_t]])
    print(f"writer vs ORM: trades {wr_t / orm:,.0f}x, price_data {wr_p / orm:,.0f}x; "
          f"loop lag while writing: p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
          f"max {lag[-1] * 1000 if lag else 0:.2f} ms ({len(lag):,} samples); "
          f"loop held by this process (thread CPU time per tick) p99 {cpu99:.2f} ms")
    emit("store", {
        "trades_rows_per_s": round(wr_t), "price_rows_per_s": round(wr_p),
        "raw_copy_rows_per_s": round(raw_t), "raw_copy_price_rows_per_s": round(raw_p),
        "orm_rows_per_s": round(orm), "loop_lag_p99_ms": round(p99, 3),
        "loop_busy_p99_ms": round(cpu99, 3),
        "writer_vs_raw_trades": round(wr_t / raw_t, 3),
        "writer_vs_raw_price": round(wr_p / raw_p, 3),
        "writer_vs_orm": round(min(wr_t, wr_p) / orm, 1)})


def _runs(samples: list[float]) -> str:
    return " ".join(f"{s / 1000:,.0f}k" for s in samples)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--orm-rows", type=int, default=1000)
    args = parser.parse_args()
    given = os.environ.get("BENCH_DATABASE_URL")
    if given:
        await run(given, args.rows, args.runs, args.orm_rows)
        return
    root = Path(tempfile.mkdtemp(prefix="te-bench-pg-"))
    cluster = PostgresCluster(root / "pg" / "data", settings=PG_SETTINGS)
    try:
        dsn = await cluster.start(timeout=120)
        await run(dsn, args.rows, args.runs, args.orm_rows)
    finally:
        await cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        asyncio.run(main())
    else:
        uvloop.run(main())
