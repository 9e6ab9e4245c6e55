"""Hand-checked position accounting, daily performance rows and snapshots."""

from __future__ import annotations

from decimal import Decimal

from trading_harness import BTC, LOOSE, T0, D, Harness

from engine.events import PositionChanged
from engine.model import NS_PER_S
from engine.portfolio import PortfolioConfig, PositionState
from engine.store.records import PerformanceDaily, PortfolioState


def test_long_short_flip_and_average_price() -> None:
    s = PositionState()
    assert s.apply(D(2), D(100), D(0), 1) == 0
    assert s.apply(D(2), D(110), D(0), 2) == 0
    assert s.avg_entry_price() == D(105) and s.qty == 4
    assert s.apply(D(-1), D(120), D(1), 3) == D(15)
    assert s.apply(D(-5), D(90), D(0), 4) == D(-45)  # closes 3 at 90, opens 2 short
    assert s.qty == -2 and s.avg_entry_price() == D(90)
    assert s.unrealized(D(80)) == D(20) and s.realized == D(-30) and s.fees == 1
    assert s.apply(D(2), D(95), D(0), 5) == D(-10) and s.qty == 0 and s.cost == 0


def test_fill_updates_position_in_the_same_event_and_publishes_it() -> None:
    h = Harness(risk=LOOSE)
    h.trade(100.0)
    seen: list[Decimal] = []
    h.bus.subscribe(PositionChanged, lambda e: seen.append(h.portfolio.position_qty(BTC)))
    h.submit(qty=2)
    h.trade(100.0, qty=10)
    assert seen[0] == 2
    pos = h.rec.of(PositionChanged)[0].position
    assert pos.qty == 2 and pos.avg_entry_price == 100 and pos.opened_ns is not None


def test_daily_rows_wins_losses_drawdown() -> None:
    h = Harness(risk=LOOSE, portfolio=PortfolioConfig(starting_cash=D(10_000)))
    h.trade(100.0)
    h.submit(qty=10)
    h.trade(100.0, qty=100)
    h.trade(90.0, ms=2000)  # equity 9,900: 1% drawdown
    h.submit("sell", 5)
    h.trade(90.0, qty=100)  # realizes -50: a loss
    h.trade(120.0, ms=2000)
    h.submit("sell", 5)
    h.trade(120.0, qty=100)  # realizes +100: a win
    day = T0 - T0 % (86_400 * NS_PER_S)
    h.clock.advance_to(day + 86_400 * NS_PER_S + NS_PER_S)
    h.trade(120.0)
    row, strategy_row = h.rec.of(PerformanceDaily)  # the account's, the strategy's
    assert (row.trades, row.wins, row.losses) == (3, 1, 0 + 1)
    assert row.strategy_id is None and strategy_row.strategy_id is not None
    assert (strategy_row.trades, strategy_row.wins, strategy_row.losses,
            strategy_row.pnl) == (3, 1, 1, D(50))  # realized, net of (no) fees
    assert row.pnl == D(50) and row.fees == 0 and row.equity_end == D(10_050)
    assert row.max_drawdown == D(1)
    snap = h.rec.of(PortfolioState)[-1]
    assert snap.equity == D(10_050) and snap.num_trades == 3 and snap.win_rate == 0.5
    assert Decimal(h.portfolio.status()["equity"]) == 10_050
