"""Migrations: apply on an empty database, idempotent, locked, checksummed; the schema's
constraints and append-only ledgers hold."""

from __future__ import annotations

import asyncio
import shutil
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from engine.store import MigrationError, migrate, migration_status
from engine.store.migrate import MIGRATIONS_DIR, load_migrations
from engine.store.pool import connect

SEED_001_INDEXES = {  # the seed's 25 indexes, by the names they carry here
    "accounts_venue_name_mode_key", "portfolios_pkey", "positions_pkey",
    "idx_position_symbol", "idx_order_account_created", "orders_exchange_order_id_key",
    "orders_client_order_id_key", "idx_order_symbol", "idx_order_status", "idx_order_created",
    "trades_exchange_exchange_trade_id_key", "idx_trade_account_symbol_executed",
    "idx_trade_symbol", "idx_trade_executed", "strategies_pkey", "idx_strategy_type",
    "idx_alert_account_created", "idx_alert_severity", "idx_price_symbol_time",
    "idx_price_exchange_time", "idx_prediction_symbol_time", "idx_prediction_model",
}
TABLES = {
    "accounts", "portfolios", "positions", "orders", "order_events", "trades", "price_data",
    "strategies", "strategy_runs", "signals", "ml_models", "ml_predictions", "alerts",
    "risk_events", "audit_log", "performance_daily", "backtests", "api_keys", "system_config",
    "portfolio_snapshots", "market_data_latest", "schema_migrations", "strategy_state",
}
VIEWS = {"v_portfolio_summary", "v_strategy_performance", "v_signal_performance",
         "v_open_orders", "v_latest_prices", "v_ledger_orphans"}


async def test_migrations_apply_on_empty_database_and_are_idempotent(
        fresh_dsn: str) -> None:
    dsn = fresh_dsn
    first = await migrate(dsn)
    assert first == [m.version for m in load_migrations()]
    assert await migrate(dsn) == []
    conn = await connect(dsn)
    try:
        tables = {r[0] for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'tradeengine'")}
        views = {r[0] for r in await conn.fetch(
            "SELECT viewname FROM pg_views WHERE schemaname = 'tradeengine'")}
        indexes = {r[0] for r in await conn.fetch(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'tradeengine'")}
        kind = await conn.fetchval(
            "SELECT relkind FROM pg_class WHERE oid = 'price_data'::regclass")
        parts = await conn.fetchval("SELECT count(*) FROM pg_inherits "
                                    "WHERE inhparent = 'price_data'::regclass")
        checksums = await conn.fetch("SELECT version, checksum FROM schema_migrations")
        for view in VIEWS:  # every view runs
            await conn.fetch(f"SELECT * FROM {view}")
        partial = await conn.fetchval(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_order_status'")
    finally:
        await conn.close()
    assert tables >= TABLES
    assert views == VIEWS
    assert indexes >= SEED_001_INDEXES
    assert "WHERE" in partial
    assert kind in (b"p", "p")  # native partitioning (no TimescaleDB here)
    assert parts >= 4  # last month .. three months ahead
    assert {r["version"]: r["checksum"] for r in checksums} == {
        m.version: m.checksum for m in load_migrations()}
    status = await migration_status(dsn)
    assert all(s.applied and s.checksum_ok for s in status)


async def test_concurrent_migrations_serialise_on_the_advisory_lock(
        fresh_dsn: str) -> None:
    dsn = fresh_dsn
    a, b = await asyncio.gather(migrate(dsn), migrate(dsn))
    assert sorted(a + b) == [m.version for m in load_migrations()]
    assert not (a and b)


async def test_a_changed_applied_migration_is_refused(fresh_dsn: str,
                                                      tmp_path: Path) -> None:
    dsn = fresh_dsn
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, directory)
    await migrate(dsn, directory=directory, schema="alt")
    target = directory / "0005_views.sql"
    target.write_text(target.read_text() + "\n-- edited after it was applied\n")
    with pytest.raises(MigrationError, match="0005_views changed"):
        await migrate(dsn, directory=directory, schema="alt")
    target.unlink()
    with pytest.raises(MigrationError):
        await migrate(dsn, directory=directory, schema="alt")


async def test_a_new_migration_is_applied_after_the_others(fresh_dsn: str,
                                                           tmp_path: Path) -> None:
    dsn = fresh_dsn
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, directory)
    await migrate(dsn, directory=directory)
    n = len(load_migrations(directory)) + 1
    (directory / f"{n:04d}_extra.sql").write_text("CREATE TABLE extra (id int);")
    assert await migrate(dsn, directory=directory) == [f"{n:04d}_extra"]


async def _raises(conn: asyncpg.Connection, sql: str, *args: object) -> str:
    with pytest.raises(asyncpg.PostgresError) as info:
        await conn.execute(sql, *args)
    return str(info.value)


async def test_ledgers_refuse_update_delete_truncate(store_dsn: str) -> None:
    from store_factories import make_account

    account = await make_account(store_dsn)
    conn = await connect(store_dsn)
    try:
        await conn.execute(
            "INSERT INTO orders (id, account_id, client_order_id, exchange, symbol, side, "
            "order_type, status, qty, created_at, updated_at) VALUES "
            "(gen_random_uuid(), $1, 'c1', 'binance', 'BTC/USDT', 'buy', 'market', 'open', 1, "
            "now(), now())", account)
        oid = await conn.fetchval("SELECT id FROM orders")
        await conn.execute(
            "INSERT INTO trades (id, order_id, account_id, client_order_id, symbol, exchange, "
            "exchange_trade_id, side, qty, price, executed_at) VALUES "
            "(gen_random_uuid(), $1, $2, 'c1', 'BTC/USDT', 'binance', 'T1', 'buy', 1, 5, now())",
            oid, account)
        await conn.execute(
            "INSERT INTO order_events (order_id, seq, account_id, event_type, status, at) "
            "VALUES ($1, 1, $2, 'submitted', 'open', now())", oid, account)
        await conn.execute(
            "INSERT INTO audit_log (id, actor, action, entity_type, at) "
            "VALUES (gen_random_uuid(), 'op', 'kill_switch', 'engine', now())")
        await conn.execute(
            "INSERT INTO risk_events (id, account_id, check_name, decision, at) "
            "VALUES (gen_random_uuid(), $1, 'max_position', 'reject', now())", account)
        for table in ("trades", "order_events", "audit_log", "risk_events"):
            msg = await _raises(conn, f"UPDATE {table} SET at = now()" if table not in
                                ("trades",) else "UPDATE trades SET qty = 2")
            assert "append-only" in msg
            assert "append-only" in await _raises(conn, f"DELETE FROM {table}")
            assert "append-only" in await _raises(conn, f"TRUNCATE {table} CASCADE")
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 1
        # the value and the slippage are computed by the server, exactly
        row = await conn.fetchrow("SELECT value, slippage FROM trades")
        assert row["value"] == Decimal(5) and row["slippage"] is None
    finally:
        await conn.close()


async def test_check_constraints_refuse_impossible_rows(store_dsn: str) -> None:
    from store_factories import make_account

    account = await make_account(store_dsn)
    conn = await connect(store_dsn)
    insert = ("INSERT INTO orders (id, account_id, client_order_id, exchange, symbol, side, "
              "order_type, status, qty, filled_qty, limit_price, created_at, updated_at, "
              "filled_at, closed_at) VALUES (gen_random_uuid(), $1, $2, 'binance', 'BTC/USDT', "
              "$3, $4, $5, $6, $7, $8, now(), now(), $9, $9)")
    try:
        now = await conn.fetchval("SELECT now()")
        bad = [
            ("sell", "market", "open", Decimal(0), Decimal(0), None, None),        # qty > 0
            ("buy", "market", "open", Decimal(1), Decimal(2), None, None),        # filled <= qty
            ("buy", "limit", "open", Decimal(1), Decimal(0), None, None),         # limit price
            ("buy", "market", "done", Decimal(1), Decimal(0), None, None),        # status enum
            ("hold", "market", "open", Decimal(1), Decimal(0), None, None),       # side enum
            ("buy", "market", "open", Decimal(1), Decimal(0), Decimal(-1), None), # price > 0
        ]
        for i, (side, typ, status, qty, filled, price, at) in enumerate(bad):
            await _raises(conn, insert, account, f"c{i}", side, typ, status, qty, filled,
                          price, at)
        # a terminal status needs its timestamp
        msg = await _raises(conn, insert.replace("$9, $9", "NULL, NULL"), account, "cx", "buy",
                            "market", "filled", Decimal(1), Decimal(1), None)
        assert "closed_at" in msg or "filled_at" in msg
        await conn.execute(insert, account, "ok", "buy", "market", "filled", Decimal(1),
                           Decimal(1), None, now)
        # an API key row can only hold a hash, never the secret itself
        msg = await _raises(conn, "INSERT INTO api_keys (id, key_prefix, secret_hash, name) "
                            "VALUES (gen_random_uuid(), 'te_1', 'plain-secret', 'k')")
        assert "secret_hash" in msg
    finally:
        await conn.close()
