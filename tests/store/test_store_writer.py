"""The writer against a real PostgreSQL: every kind of record lands, exactly, once."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import store_factories as f
from msgspec.structs import replace

from engine import events as ev
from engine import model as m
from engine.ids import StrategyId, Symbol
from engine.store import StoreWriter, create_pool, queries, records
from engine.store.pool import connect


async def _run(writer: StoreWriter) -> asyncio.Task[None]:
    task = asyncio.create_task(writer.run())
    await asyncio.sleep(0)
    return task


async def _stop(writer: StoreWriter, task: asyncio.Task[None]) -> None:
    await writer.close(timeout=20)
    await asyncio.wait_for(task, 20)


def _writer(dsn_or_pool: object, account: uuid.UUID, tmp: Path, **kw: object) -> StoreWriter:
    opts: dict[str, object] = {"batch_size": 500, "flush_interval_s": 0.02,
                               "backoff_initial_s": 0.05, "backoff_max_s": 0.3}
    opts.update(kw)
    return StoreWriter(dsn_or_pool, journal_dir=tmp / "journal", account_id=account,  # type: ignore[arg-type]
                       **opts)  # type: ignore[arg-type]


async def test_every_record_type_round_trips_exactly(store_dsn: str, tmp_path: Path) -> None:
    account = await f.make_account(store_dsn)
    pool = await create_pool(store_dsn, min_size=1, max_size=2)
    writer = _writer(pool, account, tmp_path)
    task = await _run(writer)
    events = f.order_lifecycle(0)
    for e in events:
        writer.submit(e)
    writer.submit(ev.PositionChanged(position=f.position(2), ts_ns=f.T0))
    writer.submit(ev.PositionChanged(position=f.position(1, "9"), ts_ns=f.T0))  # older: ignored
    writer.submit(f.bar(1))
    writer.submit(f.bar(2, closed=False))  # an open bar is not history
    sig = m.Signal(strategy_id=StrategyId("ema_cross"), symbol=Symbol("BTC/USDT"),
                   direction=m.SignalDirection.LONG, strength=0.7, ts_ns=f.T0 + 5,
                   reasoning={"ema_fast": Decimal("42000.5"), "ema_slow": 41990.25})
    writer.submit(sig)
    pred = m.Prediction(model="lgbm", model_version="3", symbol=Symbol("BTC/USDT"),
                        ts_ns=f.T0, horizon_s=3600, predicted_price=Decimal("42100.5"),
                        direction=m.SignalDirection.SHORT, confidence=0.6,
                        feature_importance={"rsi_14": 0.25})
    writer.submit(pred)
    writer.submit(m.Alert(severity=m.AlertSeverity.WARNING, category="risk", title="t",
                          message="drawdown 4%", ts_ns=f.T0))
    writer.submit(records.PortfolioState(ts_ns=f.T0, cash=Decimal("9000.000000001"),
                                         equity=Decimal("10000.5"), version=3))
    writer.submit(records.PortfolioSnapshot(ts_ns=f.T0, cash=Decimal(1), equity=Decimal(2),
                                            positions={"BTC/USDT": {"qty": Decimal("0.5")}}))
    writer.submit(records.RiskEventRecord(ts_ns=f.T0, check="max_notional", decision="reject",
                                          limit_value=Decimal(1000), observed_value=Decimal(1500)))
    writer.submit(records.AuditRecord(ts_ns=f.T0, actor="operator", action="kill_switch_on",
                                      entity_type="engine", new={"on": True}, rationale="test"))
    writer.submit(records.PerformanceDaily(day=date(2026, 1, 1), ts_ns=f.T0, trades=3, wins=2,
                                           losses=1, pnl=Decimal("12.5")))
    writer.submit(records.StrategyRecord(name=StrategyId("ema_cross"), strategy_type="momentum",
                                         ts_ns=f.T0, config={"fast": 10}))
    run_id = uuid.uuid4()
    writer.submit(records.StrategyRun(id=run_id, strategy_id=StrategyId("ema_cross"),
                                      started_ns=f.T0))
    writer.submit(records.StrategyRun(id=run_id, strategy_id=StrategyId("ema_cross"),
                                      started_ns=f.T0, status="stopped", stopped_ns=f.T0 + 1))
    writer.submit(records.BacktestRecord(id=uuid.uuid4(), name="bt", started_ns=f.T0,
                                         symbols=("BTC/USDT",)))
    writer.submit(records.MlModelRecord(name="lgbm", version="3", metrics={"auc": 0.61}))
    await asyncio.sleep(0.2)  # let the rows above commit before their backfills
    writer.submit(records.SignalOutcome(strategy_id=sig.strategy_id, symbol=sig.symbol,
                                        signal_ts_ns=sig.ts_ns, was_correct=True,
                                        resolved_ns=f.T0 + 10))
    writer.submit(records.PredictionOutcome(model="lgbm", model_version="3", symbol=pred.symbol,
                                            predicted_ts_ns=pred.ts_ns, horizon_s=3600,
                                            actual_price=Decimal("42050"), was_correct=False,
                                            resolved_ns=f.T0 + 10))
    await _stop(writer, task)
    status = writer.status()
    assert status.last_error is None and status.journal_records == 0

    async with pool.acquire() as conn:
        order = await conn.fetchrow("SELECT * FROM orders")
        assert order["status"] == "filled" and order["version"] == 4
        assert order["filled_qty"] == Decimal("0.5")
        assert order["limit_price"] == Decimal("42000.12345678")
        assert order["filled_at"] is not None and order["closed_at"] is not None
        seqs = [r[0] for r in await conn.fetch("SELECT seq FROM order_events ORDER BY seq")]
        assert seqs == [1, 2, 3, 4]
        payload = json.loads(await conn.fetchval(
            "SELECT payload FROM order_events WHERE seq = 2"))
        assert payload["changes"]["status"] == "open" and payload["data"] == {"latency_ms": 3}
        # the ledger alone rebuilds the order the projection holds
        rebuilt = await queries.order_from_ledger(conn, events[0].order.id)
        assert rebuilt is not None and rebuilt == events[-1].order
        assert (rebuilt.status.value, rebuilt.version) == (order["status"], order["version"])
        trades = await conn.fetch("SELECT * FROM trades ORDER BY executed_at")
        assert [t["qty"] for t in trades] == [Decimal("0.2"), Decimal("0.3")]
        t0 = trades[0]
        fill = events[2].fill  # type: ignore[attr-defined]
        assert t0["price"] == Decimal("42000.10000001") and t0["fee"] == Decimal("0.0000042")
        assert t0["value"] == Decimal("0.2") * Decimal("42000.10000001")
        assert t0["slippage"] == Decimal("0.10000001")  # a buy paid above the decision price
        # ns -> timestamptz keeps microseconds and truncates the rest
        assert t0["executed_at"] == datetime.fromtimestamp(fill.ts_ns // 1000 / 1e6, UTC)
        assert t0["executed_at"].microsecond == (fill.ts_ns // 1000) % 1_000_000
        pos = await conn.fetchrow("SELECT * FROM positions")
        assert pos["version"] == 2 and pos["qty"] == Decimal("0.5")
        bars = await conn.fetch("SELECT * FROM price_data")
        assert len(bars) == 1 and bars[0]["open"] == Decimal(repr(f.bar(1).open))
        latest = await queries.last_bars(conn)
        assert latest[("binance", "BTC/USDT", "1m")] == f.bar(1)
        assert await conn.fetchval("SELECT was_correct FROM signals") is True
        reasoning = json.loads(await conn.fetchval("SELECT reasoning FROM signals"))
        assert reasoning == {"ema_fast": "42000.5", "ema_slow": 41990.25}
        p = await conn.fetchrow("SELECT * FROM ml_predictions")
        assert p["predicted_direction"] == "down" and p["actual_price"] == Decimal("42050")
        assert await conn.fetchval("SELECT cash FROM portfolios") == Decimal("9000.000000001")
        assert await conn.fetchval("SELECT status FROM strategy_runs") == "stopped"
        for table in ("alerts", "risk_events", "audit_log", "performance_daily", "strategies",
                      "backtests", "ml_models", "portfolio_snapshots"):
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 1, table
        perf = await conn.fetchrow("SELECT * FROM v_signal_performance WHERE source = 'model'")
        assert perf["signals"] == 1 and perf["hit_rate"] == 0.0
        summary = await conn.fetchrow("SELECT * FROM v_portfolio_summary")
        assert summary["open_positions"] == 1 and summary["equity"] == Decimal("10000.5")
        assert await conn.fetchval("SELECT fills FROM v_strategy_performance") == 2
        assert await queries.open_orders(conn, account) == []
        assert await queries.positions(conn, account) == [
            replace(f.position(2), updated_ns=f.position(2).updated_ns)]
    await pool.close()


async def test_duplicate_fills_are_stored_once(store_dsn: str, tmp_path: Path) -> None:
    account = await f.make_account(store_dsn)
    writer = _writer(store_dsn, account, tmp_path)
    task = await _run(writer)
    o = f.order(1)
    writer.submit(ev.OrderAccepted(order=o, seq=1, ts_ns=f.T0))
    first = f.fill(o, 1, trade_id="EX-1")
    writer.submit(first)
    writer.submit(first.replace(id=f.fill(o, 9).id))  # same venue trade id, new engine id
    await asyncio.sleep(0.2)  # a later batch: the duplicate is already in the table
    writer.submit(first.replace(id=f.fill(o, 8).id))
    writer.submit(f.fill(o, 2, trade_id="EX-2"))
    await _stop(writer, task)
    assert await f.count(store_dsn, "SELECT count(*) FROM trades") == 2
    assert await f.count(store_dsn, "SELECT count(*) FROM trades WHERE exchange_trade_id "
                         "= 'EX-1' AND id = $1", first.id) == 1


async def test_replaying_batches_after_a_crash_creates_no_duplicates(
        store_dsn: str, tmp_path: Path) -> None:
    account = await f.make_account(store_dsn)
    objs: list[object] = []
    for i in range(40):
        objs.extend(f.order_lifecycle(i))
        objs.append(f.bar(i))
    # 1) a run writes everything, then "crashes" before it could tell anyone
    w1 = _writer(store_dsn, account, tmp_path / "a")
    t1 = await _run(w1)
    for o in objs:
        w1.submit(o)
    await _stop(w1, t1)
    # 2) the same records are replayed: from the journal of a run whose database went away
    #    after committing (the journal still holds them) ...
    w2 = _writer("postgresql://postgres@/none?host=/nonexistent", account, tmp_path / "b",
                 connect_timeout_s=0.2)
    t2 = await _run(w2)
    for o in objs:
        w2.submit(o)
    await asyncio.sleep(0.3)
    assert w2.status().state == "degraded"
    await _stop(w2, t2)
    assert w2.status().journal_records > 0
    # ... drained by the next start against the real database
    w3 = _writer(store_dsn, account, tmp_path / "b")
    t3 = await _run(w3)
    # ... and submitted once more by an engine that re-sends after restart
    for o in objs:
        w3.submit(o)
    await _stop(w3, t3)
    assert w3.status().journal_records == 0 and w3.status().last_error is None
    assert await f.count(store_dsn, "SELECT count(*) FROM trades") == 80
    assert await f.count(store_dsn, "SELECT count(*) FROM order_events") == 160
    assert await f.count(store_dsn, "SELECT count(*) FROM orders WHERE version = 4") == 40
    assert await f.count(store_dsn, "SELECT count(*) FROM price_data") == 40


async def test_bad_rows_are_isolated_and_kept_the_rest_is_stored(
        store_dsn: str, tmp_path: Path) -> None:
    account = await f.make_account(store_dsn)
    writer = _writer(store_dsn, account, tmp_path)
    task = await _run(writer)
    o = f.order(3)
    writer.submit(ev.OrderAccepted(order=o, seq=1, ts_ns=f.T0))
    writer.submit(f.fill(o, 1))
    writer.submit(f.fill(o, 2).replace(price=Decimal(-1)))  # violates price > 0
    writer.submit(f.fill(o, 3))
    await _stop(writer, task)
    assert await f.count(store_dsn, "SELECT count(*) FROM trades") == 2
    status = writer.status()
    assert status.rows_rejected == 1 and "trades" in (status.last_error or "")
    rejected = (tmp_path / "journal" / "rejected.jsonl").read_text().splitlines()
    assert len(rejected) == 1 and json.loads(rejected[0])["row"]["price"] == "-1"


async def test_a_full_queue_spills_to_the_journal_and_nothing_is_lost(
        store_dsn: str, tmp_path: Path) -> None:
    account = await f.make_account(store_dsn)
    writer = _writer(store_dsn, account, tmp_path, batch_size=50, queue_size=100,
                     spill_chunk=64)
    task = await _run(writer)
    while not writer._journal.is_open:  # the journal opens in a worker thread
        await asyncio.sleep(0.005)
    o = f.order(5)
    writer.submit(ev.OrderAccepted(order=o, seq=1, ts_ns=f.T0))
    for n in range(2000):  # no await: the writer cannot run, the queue overflows
        writer.submit(f.fill(o, n))
    assert writer.status().journal_records > 0
    await _stop(writer, task)
    assert await f.count(store_dsn, "SELECT count(*) FROM trades") == 2000
    assert writer.status().journal_records == 0


async def test_unsupported_objects_are_refused_at_submit(store_dsn: str, tmp_path: Path) -> None:
    writer = _writer(store_dsn, uuid.uuid4(), tmp_path)
    with pytest.raises(TypeError):
        writer.submit(object())
    await writer.close()


async def test_database_down_at_start_does_not_stop_the_writer(
        store_dsn: str, pg_admin_url: str, tmp_path: Path) -> None:
    account = await f.make_account(store_dsn)
    conn = await connect(pg_admin_url)
    name = urlsplit(store_dsn).path.lstrip("/")
    await conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    try:
        writer = _writer(store_dsn, account, tmp_path)
        task = await _run(writer)
        for i in range(10):
            for e in f.order_lifecycle(i):
                writer.submit(e)
        await asyncio.sleep(0.5)
        status = writer.status()
        assert status.state == "degraded" and status.journal_records > 0
        assert status.last_error is not None
    finally:
        await conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await conn.close()
    for _ in range(100):
        await asyncio.sleep(0.05)
        if writer.status().state == "ok":
            break
    assert writer.status().state == "ok"
    await _stop(writer, task)
    assert await f.count(store_dsn, "SELECT count(*) FROM trades") == 20


class _Recording:
    """A real connection that remembers the statements sent with execute()."""

    def __init__(self, conn: object) -> None:
        self._conn = conn
        self.sql: list[str] = []

    async def execute(self, sql: str, *args: object, **kw: object) -> object:
        self.sql.append(sql)
        return await self._conn.execute(sql, *args, **kw)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._conn, name)


async def test_only_market_data_transactions_skip_the_wal_flush_wait(store_dsn: str) -> None:
    from engine.store.flusher import Flusher
    from engine.store.rows import RowMaker
    from engine.store.tables import SPECS

    maker = RowMaker(await f.make_account(store_dsn))
    bars = [maker.rows(f.bar(i))[0][1] for i in range(3)]
    o = f.order(1)
    conn = await connect(store_dsn)
    rec = _Recording(conn)
    try:
        flusher = Flusher(timeout=10)
        await flusher.write(rec, {"price_data": (SPECS["price_data"].columns, bars)})
        await flusher.write(rec, {
            "price_data": (SPECS["price_data"].columns, bars),
            "orders": (SPECS["orders"].columns, [maker.order_row(o, o.created_ns)])})
        begins = [s for s in rec.sql if s.startswith("BEGIN")]
        assert begins[0] == "BEGIN; SET LOCAL synchronous_commit TO off"
        assert begins[-1] == "BEGIN"
        assert await conn.fetchval("SELECT count(*) FROM price_data") == 3
        assert await conn.fetchval("SELECT close::text FROM market_data_latest") == repr(
            f.bar(2).close)
    finally:
        await conn.close()
