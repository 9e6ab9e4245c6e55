"""Start-up reads for restart recovery: working orders with their last event and algo
schedule, and the fills ledger the portfolio is rebuilt from."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import store_factories as f

from engine import events as ev
from engine import model as m
from engine.bus import MessageBus
from engine.oms.commands import AlgoParams
from engine.portfolio.portfolio import Portfolio
from engine.store import StoreWriter, connect, queries


async def test_working_orders_come_back_with_their_last_event_and_schedule(
        store_dsn: str, tmp_path: Path) -> None:
    account = await f.make_account(store_dsn)
    writer = StoreWriter(store_dsn, journal_dir=tmp_path / "j", account_id=account)
    algo = AlgoParams(duration_s=600, slices=4, qty_step=Decimal("0.01"))
    parent = f.order(1, status=m.OrderStatus.PENDING).replace(type=m.OrderType.TWAP,
                     limit_price=None)
    stop = f.order(2, status=m.OrderStatus.PENDING).replace(type=m.OrderType.STOP_LOSS,
                   limit_price=None, stop_price=Decimal("40000"))
    done = f.order_lifecycle(3)  # filled: not restored
    events = [
        ev.OrderSubmitted(order=parent, seq=1, ts_ns=f.T0,
                          payload={"algo": algo.to_payload(), "decision_price": "42000.5"}),
        ev.OrderAccepted(order=parent.replace(status=m.OrderStatus.OPEN, version=2), seq=2,
                         ts_ns=f.T0 + 1),
        ev.OrderSubmitted(order=stop, seq=1, ts_ns=f.T0 + 2),
        ev.OrderAccepted(order=stop.replace(status=m.OrderStatus.OPEN, version=2), seq=2,
                         ts_ns=f.T0 + 3),
        *done,
    ]
    import asyncio

    task = asyncio.create_task(writer.run())
    for e in events:
        writer.submit(e)
    await writer.close(timeout=20)
    await asyncio.wait_for(task, 20)
    conn = await connect(store_dsn)
    try:
        restored = {r.order.id: r for r in await queries.restorable_orders(conn, account)}
        fills = await queries.fills(conn, account)
    finally:
        await conn.close()
    assert set(restored) == {parent.id, stop.id}
    twap = restored[parent.id]
    assert (twap.last_seq, twap.last_kind) == (2, "accepted")
    assert twap.algo == algo and twap.algo_start_ns == f.T0 // 1000 * 1000
    assert twap.decision_price == Decimal("42000.5")
    # as written: asyncpg's own decoding made it Decimal('4E+4'), which /status showed
    assert str(restored[stop.id].order.stop_price) == "40000"
    assert restored[stop.id].algo is None
    # The ledger rebuilds the position exactly: the lifecycle bought 0.2 + 0.3.
    assert [x.qty for x in fills] == [Decimal("0.2"), Decimal("0.3")]
    portfolio = Portfolio(bus=MessageBus())
    assert portfolio.restore(fills) == 2
    assert portfolio.position_qty(fills[0].symbol) == Decimal("0.5") * fills[0].side.sign


async def test_a_restart_reads_back_the_accounts_performance(
        store_dsn: str, tmp_path: Path) -> None:
    """``queries.performance_history``: the previous day's closing equity from the account's
    row (not a strategy's; None when the engine did not close that day), the portfolio
    row's high-water mark and max drawdown, and each closed day's return."""
    import asyncio
    from datetime import date, timedelta

    from engine.ids import StrategyId
    from engine.store.records import PerformanceDaily, PortfolioState

    account = await f.make_account(store_dsn)
    writer = StoreWriter(store_dsn, journal_dir=tmp_path / "j", account_id=account)
    task = asyncio.create_task(writer.run())
    day = date(2023, 11, 14)
    writer.submit(PerformanceDaily(day=day - timedelta(1), ts_ns=f.T0, trades=1,
                                   pnl=Decimal("100"), equity_end=Decimal("10100")))
    writer.submit(PerformanceDaily(day=day, ts_ns=f.T0, trades=3, pnl=Decimal("-202"),
                                   equity_end=Decimal("9898")))
    writer.submit(PerformanceDaily(day=day, ts_ns=f.T0, strategy_id=StrategyId("a"),
                                   trades=2, pnl=Decimal("3")))
    # dated years before now() (a replay's market time): it still replaces the first row
    writer.submit(PortfolioState(ts_ns=f.T0, cash=Decimal("9898"), equity=Decimal("9898"),
                                 max_drawdown=Decimal("2.5"),
                                 high_water_mark=Decimal("10152.3")))
    await writer.close(timeout=20)
    await asyncio.wait_for(task, 20)
    conn = await connect(store_dsn)
    try:
        history = await queries.performance_history(conn, account, day + timedelta(1))
        later = await queries.performance_history(conn, account, day + timedelta(2))
        rows = await conn.fetch("SELECT strategy_id, trades, pnl, equity_end FROM "
                                "performance_daily WHERE account_id = $1 AND day = $2 "
                                "ORDER BY 1", account, day)
    finally:
        await conn.close()
    assert history.day_start_equity == Decimal("9898")
    assert (history.high_water_mark, history.max_drawdown_pct) == (Decimal("10152.3"),
                                                                   Decimal("2.5"))
    assert history.daily_returns == (0.01, -0.02)
    assert later.day_start_equity is None and later.daily_returns == (0.01, -0.02)
    assert [tuple(r) for r in rows] == [("", 3, Decimal("-202"), Decimal("9898")),
                                        ("a", 2, Decimal("3"), None)]


async def test_a_restart_counts_todays_fills_from_the_previous_close(
        store_dsn: str, tmp_path: Path) -> None:
    """``wiring.restore_portfolio`` on the real ledger: yesterday's fills rebuild the
    position and count in the totals; today's figures count today's fills, from the
    equity yesterday's account row closed at."""
    import asyncio

    import msgspec

    from engine.portfolio.performance import DAY_NS, day_of
    from engine.store.records import PerformanceDaily
    from engine.wiring import restore_portfolio

    account = await f.make_account(store_dsn)
    writer = StoreWriter(store_dsn, journal_dir=tmp_path / "j", account_id=account)
    task = asyncio.create_task(writer.run())
    for e in f.order_lifecycle(0):  # two fills yesterday
        writer.submit(e)
    for e in f.order_lifecycle(3):  # two today, a day later
        if isinstance(e, ev.OrderFilled):
            e = msgspec.structs.replace(e, fill=e.fill.replace(ts_ns=e.fill.ts_ns + DAY_NS))
        writer.submit(e)
    writer.submit(PerformanceDaily(day=day_of(f.T0), ts_ns=f.T0 + DAY_NS,
                                   trades=2, pnl=Decimal(-2), equity_end=Decimal("9990.5")))
    await writer.close(timeout=20)
    await asyncio.wait_for(task, 20)
    conn = await connect(store_dsn)
    try:
        portfolio = Portfolio(bus=MessageBus())
        assert await restore_portfolio(portfolio, conn, account, f.T0 + DAY_NS + 3600) == 4
        perf = portfolio.performance
        assert (perf.day_totals().fills, perf.total_trades) == (2, 4)
        assert perf.day_start_equity == Decimal("9990.5")
        assert perf.daily_returns == [float(Decimal(-2) / Decimal("9992.5"))]
        # no row for the day before: the day counts from the first mark
        portfolio = Portfolio(bus=MessageBus())
        assert await restore_portfolio(portfolio, conn, account, f.T0 + 3 * DAY_NS) == 4
        assert (portfolio.performance.day_totals().fills,
                portfolio.performance.total_trades) == (0, 4)
    finally:
        await conn.close()
