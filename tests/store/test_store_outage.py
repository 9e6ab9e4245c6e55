"""A database outage while records flow: the engine keeps going, the writer journals, and
once PostgreSQL is back every record is stored exactly once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import store_factories as f

from engine.store import StoreWriter, create_pool, migrate
from engine.store.cluster import PostgresCluster


async def test_records_flowing_through_an_outage_land_exactly_once(
        private_cluster: PostgresCluster, tmp_path: Path) -> None:
    dsn = private_cluster.dsn()
    await migrate(dsn)
    account = await f.make_account(dsn)
    pool = await create_pool(dsn, min_size=1, max_size=2, timeout=2.0)
    writer = StoreWriter(pool, journal_dir=tmp_path / "journal", account_id=account,
                         batch_size=200, flush_interval_s=0.02, op_timeout_s=2.0,
                         connect_timeout_s=1.0, backoff_initial_s=0.05, backoff_max_s=0.5)
    task = asyncio.create_task(writer.run())
    states: set[str] = set()
    max_lag = 0.0
    produced = 0

    async def produce(seconds: float) -> None:
        nonlocal produced, max_lag
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for e in f.order_lifecycle(produced):
                writer.submit(e)
            writer.submit(f.bar(produced))
            produced += 1
            before = time.monotonic()
            await asyncio.sleep(0.002)
            max_lag = max(max_lag, time.monotonic() - before)
            states.add(writer.status().state)

    await produce(1.0)
    outage = asyncio.create_task(produce(4.0))
    await asyncio.sleep(0.3)
    await private_cluster.stop()  # the database goes away for several seconds
    await asyncio.sleep(3.0)
    during = writer.status()
    await private_cluster.start()
    await outage
    await produce(1.0)
    await writer.close(timeout=30)
    await task
    status = writer.status()

    assert during.state == "degraded" and during.journal_records > 0
    assert {"ok", "degraded"} <= states
    assert status.journal_records == 0 and status.rows_rejected == 0
    async with pool.acquire() as conn:
        counts = {t: await conn.fetchval(f"SELECT count(*) FROM {t}")
                  for t in ("orders", "order_events", "trades", "price_data")}
        distinct_trades = await conn.fetchval(
            "SELECT count(DISTINCT (exchange, exchange_trade_id)) FROM trades")
        finished = await conn.fetchval("SELECT count(*) FROM orders WHERE version = 4 "
                                       "AND status = 'filled'")
    await pool.close()
    assert counts == {"orders": produced, "order_events": 4 * produced,
                      "trades": 2 * produced, "price_data": produced}
    assert distinct_trades == 2 * produced and finished == produced
    assert max_lag < 1.0  # the engine's loop kept running throughout
