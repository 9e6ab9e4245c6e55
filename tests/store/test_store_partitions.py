"""price_data partitions ahead of time: the keeper's timer creates the coming months."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from engine.store import create_pool
from engine.store.partitions import PartitionKeeper, month_start, months_later
from engine.store.pool import connect


class _Stop(Exception):
    """Ends the keeper's loop from the fake sleep."""


async def _partitions(dsn: str) -> set[str]:
    conn = await connect(dsn)
    try:
        rows = await conn.fetch("SELECT c.relname FROM pg_inherits i JOIN pg_class c "
                                "ON c.oid = i.inhrelid WHERE i.inhparent = 'price_data'::regclass")
    finally:
        await conn.close()
    return {r["relname"] for r in rows}


def test_month_arithmetic_wraps_years() -> None:
    start = month_start(datetime(2030, 11, 17, 13, 5, tzinfo=UTC))
    assert start == datetime(2030, 11, 1, tzinfo=UTC)
    assert months_later(start, 2) == datetime(2031, 1, 1, tzinfo=UTC)
    assert months_later(start, 14) == datetime(2032, 1, 1, tzinfo=UTC)


async def test_the_timer_creates_the_next_months_as_the_clock_moves(store_dsn: str) -> None:
    now = [datetime(2031, 11, 20, tzinfo=UTC).timestamp()]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:
            raise _Stop
        now[0] += 31 * 86_400  # a month passes between two runs

    pool = await create_pool(store_dsn, min_size=1, max_size=1)
    try:
        keeper = PartitionKeeper(pool, months_ahead=2, interval_s=3600, clock=lambda: now[0],
                                 sleep=sleep)
        with pytest.raises(_Stop):
            await keeper.run()
        assert sleeps == [3600, 3600, 3600]
        parts = await _partitions(store_dsn)
        want = {"price_data_203111", "price_data_203112", "price_data_203201",
                "price_data_203202", "price_data_203203"}
        assert want <= parts
        assert "price_data_203204" not in parts
        assert keeper.created == 5
        assert await keeper.ensure() == 0  # idempotent
    finally:
        await pool.close()


async def test_a_failed_attempt_is_retried_not_raised(store_dsn: str) -> None:
    pool = await create_pool(store_dsn, min_size=1, max_size=1)
    conn = await connect(store_dsn)
    await conn.execute("ALTER FUNCTION ensure_price_partitions(timestamptz, timestamptz) "
                       "RENAME TO ensure_price_partitions_away")
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 1:  # the database is back after the first retry
            await conn.execute("ALTER FUNCTION ensure_price_partitions_away(timestamptz, "
                               "timestamptz) RENAME TO ensure_price_partitions")
        else:
            raise _Stop

    try:
        keeper = PartitionKeeper(pool, interval_s=600, retry_s=5,
                                 clock=lambda: datetime(2033, 3, 1, tzinfo=UTC).timestamp(),
                                 sleep=sleep)
        with pytest.raises(_Stop):
            await asyncio.wait_for(keeper.run(), 30)
        assert 2.5 <= sleeps[0] <= 5 and sleeps[1] == 600
        assert keeper.last_error is None and keeper.created == 4
        assert "price_data_203306" in await _partitions(store_dsn)
    finally:
        await conn.close()
        await pool.close()


async def test_a_table_that_is_not_partitioned_is_left_alone(store_dsn: str) -> None:
    """What TimescaleDB's branch relies on (a hypertable is a plain table to pg_class): no
    partitions are made. TimescaleDB itself is not installed here, so this is the guard
    only."""
    conn = await connect(store_dsn)
    try:
        await conn.execute("DROP TABLE price_data; CREATE TABLE price_data (ts timestamptz)")
        pool = await create_pool(store_dsn, min_size=1, max_size=1)
        try:
            keeper = PartitionKeeper(pool, clock=lambda: datetime(2034, 1, 1, tzinfo=UTC)
                                     .timestamp())
            assert await keeper.ensure() == 0
        finally:
            await pool.close()
        assert await conn.fetchval("SELECT count(*) FROM pg_class WHERE relname LIKE "
                                   "'price_data_2034%'") == 0
    finally:
        await conn.close()
