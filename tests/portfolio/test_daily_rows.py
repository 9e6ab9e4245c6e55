"""The ``performance_daily`` rows of each closed UTC day: the account's, and one per
strategy that traded that day (its fills, wins, losses, fees and realized PnL net of fees);
and after a restart, a day's rows count that day's fills only."""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.bus import MessageBus
from engine.events import OrderFilled
from engine.ids import ClientOrderId, FillId, OrderId, StrategyId, Symbol, Venue
from engine.model import NS_PER_S, Fill, Order, OrderSide, OrderStatus, OrderType, TradeTick
from engine.portfolio import Portfolio, PortfolioConfig
from engine.portfolio.performance import DAY_NS, day_of
from engine.store.records import PerformanceDaily, PerformanceHistory

D = Decimal
START = D(100_000)
DAY0 = 19_700 * DAY_NS  # 2023-12-08T00:00Z
BTC, ETH = Symbol("BTC/USDT"), Symbol("ETH/USDT")
VENUE = Venue("paper")


def fill_event(n: int, ts: int, symbol: Symbol, buy: bool, qty: Decimal, price: Decimal,
               fee: Decimal, strategy: str | None) -> OrderFilled:
    oid = OrderId(uuid.UUID(int=n + 1))
    side = OrderSide.BUY if buy else OrderSide.SELL
    sid = None if strategy is None else StrategyId(strategy)
    order = Order(id=oid, client_order_id=ClientOrderId(oid.hex), venue=VENUE, symbol=symbol,
                  side=side, type=OrderType.MARKET, qty=qty, created_ns=ts, strategy_id=sid,
                  status=OrderStatus.FILLED, filled_qty=qty)
    fill = Fill(id=FillId(uuid.UUID(int=n + 10**9)), order_id=oid,
                client_order_id=order.client_order_id, venue=VENUE, symbol=symbol, side=side,
                qty=qty, price=price, ts_ns=ts, exchange_trade_id=f"t{n}", fee=fee,
                strategy_id=sid)
    return OrderFilled(order=order, seq=2, ts_ns=ts, fill=fill)


def portfolio() -> tuple[Portfolio, list[PerformanceDaily]]:
    bus = MessageBus()
    p = Portfolio(bus=bus, config=PortfolioConfig(starting_cash=START))
    p.attach(bus)
    rows: list[PerformanceDaily] = []
    bus.subscribe(PerformanceDaily, rows.append)
    return p, rows


def trade(p: Portfolio, ts: int, symbol: Symbol, price: Decimal) -> None:
    p.on_trade(TradeTick(VENUE, symbol, ts, float(price), 1.0))


def realized_by_strategy(fills: list[Fill]) -> dict[str | None, Decimal]:
    """Each strategy's realized PnL (before fees) after ``fills``, from a portfolio that
    only replays them."""
    p, _ = portfolio()
    p.restore(fills)
    out: dict[str | None, Decimal] = defaultdict(Decimal)
    for sid, _symbol, state in p.strategy_positions():
        out[sid] += state.realized
    return out


fills_st = st.lists(
    st.tuples(st.integers(0, 3 * 86_400 - 1),  # second of three days
              st.sampled_from([BTC, ETH]), st.booleans(),
              st.decimals(D("0.001"), D(5), places=3), st.decimals(D(90), D(110), places=2),
              st.decimals(D(0), D(1), places=4), st.sampled_from(["a", "b", None])),
    min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(fills_st)
def test_each_strategy_gets_a_row_for_each_day_it_traded(
        raw: list[tuple[int, Symbol, bool, Decimal, Decimal, Decimal, str | None]]) -> None:
    p, rows = portfolio()
    events = [fill_event(n, DAY0 + s * NS_PER_S, sym, buy, q, px, fee, sid)
              for n, (s, sym, buy, q, px, fee, sid) in enumerate(sorted(raw, key=lambda r: r[0]))]
    for e in events:
        trade(p, e.ts_ns, e.fill.symbol, e.fill.price)
        p.on_fill(e)
    trade(p, DAY0 + 4 * DAY_NS, BTC, D(100))  # a mark two days on closes the last day

    fills = [e.fill for e in events]
    days = sorted({day_of(f.ts_ns) for f in fills})
    by_key = {(r.strategy_id, r.day): r for r in rows}
    assert len(by_key) == len(rows)  # one row per strategy and day
    for sid in ("a", "b"):
        for day in days:
            mine = [f for f in fills if f.strategy_id == sid and day_of(f.ts_ns) == day]
            row = by_key.get((sid, day))
            if not mine:
                assert row is None
                continue
            assert row is not None
            before = [f for f in fills if day_of(f.ts_ns) < day]
            through = [f for f in fills if day_of(f.ts_ns) <= day]
            realized = realized_by_strategy(through)[sid] - realized_by_strategy(before)[sid]
            fees = sum((f.fee for f in mine), D(0))
            assert (row.trades, row.fees, row.pnl) == (len(mine), fees, realized - fees)
            assert row.wins + row.losses <= row.trades
            assert row.max_drawdown is None and row.equity_end is None
    for day in days:  # the account's row counts every fill, a strategy's or not
        account = by_key[(None, day)]
        assert account.trades == sum(1 for f in fills if day_of(f.ts_ns) == day)
        # (wins and losses are the account position's: two strategies trading one symbol
        # against each other close nothing of their own, and the account's exposure)


def test_wins_and_losses_are_fills_that_closed_exposure() -> None:
    p, rows = portfolio()
    seq = [(BTC, True, D(2), D(100), "a"), (BTC, False, D(1), D(110), "a"),  # win
           (BTC, False, D(1), D(90), "a"),  # loss, flat
           (BTC, False, D(1), D(95), "a"),  # opens a short: neither
           (ETH, True, D(1), D(50), "b")]
    for n, (sym, buy, q, px, sid) in enumerate(seq):
        e = fill_event(n, DAY0 + (n + 1) * NS_PER_S, sym, buy, q, px, D("0.5"), sid)
        trade(p, e.ts_ns, sym, px)
        p.on_fill(e)
    trade(p, DAY0 + DAY_NS, BTC, D(95))
    a = next(r for r in rows if r.strategy_id == "a")
    b = next(r for r in rows if r.strategy_id == "b")
    assert (a.trades, a.wins, a.losses, a.fees, a.pnl) == (4, 1, 1, D(2), D(10 - 10) - D(2))
    assert (b.trades, b.wins, b.losses, b.fees, b.pnl) == (1, 0, 0, D("0.5"), D("-0.5"))


def test_after_a_restart_a_day_counts_its_own_fills_from_the_previous_close() -> None:
    """Yesterday's fills replayed from the ledger count in the totals only; today's row
    starts from yesterday's closing equity."""
    yesterday = [fill_event(0, DAY0 + 10 * NS_PER_S, BTC, True, D(1), D(100), D(1), "a"),
                 fill_event(1, DAY0 + 20 * NS_PER_S, BTC, False, D(1), D(120), D(1), "a")]
    today = [fill_event(2, DAY0 + DAY_NS + 10 * NS_PER_S, BTC, True, D(1), D(100), D(1), "a")]
    now = DAY0 + DAY_NS + 3600 * NS_PER_S
    closing = START + 20 - 2  # what yesterday's account row recorded
    p, rows = portfolio()
    history = PerformanceHistory(day_start_equity=closing)
    assert p.restore([e.fill for e in yesterday + today], now, history) == 3
    trade(p, now, BTC, D(105))
    trade(p, DAY0 + 2 * DAY_NS, BTC, D(105))  # closes today
    account = next(r for r in rows if r.strategy_id is None)
    a = next(r for r in rows if r.strategy_id == "a")
    assert account.day == a.day == day_of(now)
    assert (account.trades, account.wins, account.losses, account.fees) == (1, 0, 0, D(1))
    assert account.pnl == D(5) - D(1)  # +5 unrealized, one fee: from yesterday's close
    assert (a.trades, a.wins, a.pnl, a.fees) == (1, 0, D(-1), D(1))
    assert p.performance.total_trades == 3 and p.performance.win_rate() == 1.0

    # the previous close unknown (down at midnight): the day counts from the first mark
    p, rows = portfolio()
    p.restore([e.fill for e in yesterday + today], now, PerformanceHistory())
    trade(p, now, BTC, D(105))
    trade(p, now + NS_PER_S, BTC, D(107))
    trade(p, DAY0 + 2 * DAY_NS, BTC, D(107))
    account = next(r for r in rows if r.strategy_id is None)
    assert (account.trades, account.pnl) == (1, D(2))


def test_without_a_time_every_replayed_fill_counts_in_the_first_day() -> None:
    """What a backtest's or an unstarted replay clock's restore does (no 'today')."""
    events = [fill_event(n, DAY0 + n * DAY_NS + NS_PER_S, BTC, n % 2 == 0, D(1), D(100),
                         D(0), "a") for n in range(3)]
    p, rows = portfolio()
    p.restore([e.fill for e in events])
    trade(p, DAY0 + 5 * DAY_NS, BTC, D(100))
    trade(p, DAY0 + 6 * DAY_NS, BTC, D(100))
    assert [(r.strategy_id, r.trades) for r in rows] == [(None, 3), ("a", 3)]


def test_a_restart_carries_on_the_high_water_mark_drawdown_and_returns() -> None:
    p, _ = portfolio()
    p.restore([], DAY0 + NS_PER_S, PerformanceHistory(
        high_water_mark=D(110_000), max_drawdown_pct=D(5), daily_returns=(0.01, -0.02)))
    perf = p.performance
    assert perf.sharpe() is not None  # two days of returns already
    perf.on_equity(DAY0 + 2 * NS_PER_S, D(104_500))
    assert (perf.hwm, perf.drawdown_pct(), perf.max_drawdown_pct) == (D(110_000), D(5), D(5))
    perf.on_equity(DAY0 + 3 * NS_PER_S, D(99_000))
    assert perf.max_drawdown_pct == D(10)  # from the recorded peak, not the starting cash


def test_a_fill_before_any_mark_of_a_new_day_counts_in_that_day() -> None:
    """The day before closes without it (a mark at the fill's time, before booking), and
    equity is marked again after it, as after any fill."""
    p, rows = portfolio()
    first = fill_event(0, DAY0 + 10 * NS_PER_S, BTC, True, D(1), D(100), D(1), "a")
    trade(p, first.ts_ns, BTC, D(100))
    p.on_fill(first)
    trade(p, first.ts_ns + 2 * NS_PER_S, BTC, D(100))  # a mark after it (one a second)
    p.on_fill(fill_event(1, DAY0 + DAY_NS + 30 * NS_PER_S, BTC, False, D(1), D(110), D(1),
                         "a"))  # no market data of the new day before it
    assert p.performance.last_equity == START - 100 - 1 + 110 - 1
    trade(p, DAY0 + 2 * DAY_NS, BTC, D(110))
    by = {(r.strategy_id, r.day): r for r in rows}
    day1, day2 = day_of(DAY0), day_of(DAY0 + DAY_NS)
    assert (by[(None, day1)].trades, by[("a", day1)].trades) == (1, 1)
    assert (by[(None, day2)].trades, by[(None, day2)].wins) == (1, 1)
    assert (by[("a", day2)].trades, by[("a", day2)].pnl) == (1, D(10) - D(1))
    assert by[(None, day1)].pnl == D(-1) and by[(None, day2)].pnl == D(9)
