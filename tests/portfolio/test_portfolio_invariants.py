"""Accounting invariants over random fill sequences, exact in Decimal (hypothesis)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from trading_harness import BTC, ETH, LOOSE, T0, D, Harness

from engine.bus import MessageBus
from engine.events import OrderFilled
from engine.ids import ClientOrderId, FillId, OrderId, StrategyId, Venue
from engine.model import Fill, Order, OrderSide, OrderStatus, OrderType
from engine.portfolio import Portfolio, PortfolioConfig
from gateways.paper import PaperFillModel

START = Decimal(100_000)
prices = st.decimals(min_value=D("0.01"), max_value=D(100_000), places=2)
qtys = st.decimals(min_value=D("0.00000001"), max_value=D(1000), places=8)
fees = st.decimals(min_value=D(0), max_value=D(50), places=10)
fill_st = st.tuples(st.sampled_from([BTC, ETH]), st.booleans(), qtys, prices, fees,
                    st.sampled_from(["a", "b", None]))


def filled_event(n: int, symbol: str, buy: bool, qty: Decimal, price: Decimal,
                 fee: Decimal, strategy: str | None) -> OrderFilled:
    oid = OrderId(uuid.UUID(int=n + 1))
    side = OrderSide.BUY if buy else OrderSide.SELL
    sid = None if strategy is None else StrategyId(strategy)
    order = Order(id=oid, client_order_id=ClientOrderId(oid.hex), venue=Venue("paper"),
                  symbol=symbol, side=side, type=OrderType.MARKET, qty=qty,  # type: ignore[arg-type]
                  created_ns=T0, strategy_id=sid, status=OrderStatus.FILLED, filled_qty=qty)
    fill = Fill(id=FillId(uuid.UUID(int=n + 10**9)), order_id=oid,
                client_order_id=order.client_order_id, venue=Venue("paper"),
                symbol=symbol, side=side, qty=qty, price=price, ts_ns=T0 + n,  # type: ignore[arg-type]
                exchange_trade_id=f"t{n}", fee=fee, strategy_id=sid)
    return OrderFilled(order=order, seq=2, ts_ns=T0 + n, fill=fill)


def check_invariants(p: Portfolio, ledger: list[Fill]) -> None:
    position_value = sum((pos.qty * (p.last_price(pos.symbol) or 0) for pos in p.positions()),
                         Decimal(0))
    realized = sum((pos.realized_pnl for pos in p.positions()), Decimal(0))
    unrealized = sum((pos.unrealized_pnl for pos in p.positions()), Decimal(0))
    fees_total = sum((f.fee for f in ledger), Decimal(0))
    assert p.cash + position_value == START + realized + unrealized - fees_total
    assert p.equity() == p.cash + position_value
    assert realized == p.realized and fees_total == p.fees
    for symbol in {f.symbol for f in ledger}:
        ledger_qty = sum((f.qty if f.side is OrderSide.BUY else -f.qty for f in ledger
                          if f.symbol == symbol), Decimal(0))
        assert p.position_qty(symbol) == ledger_qty
        by_strategy = sum((p.position_qty(symbol, s, account=False)  # type: ignore[arg-type]
                           for s in ("a", "b", "s1", None)), Decimal(0))
        assert by_strategy == ledger_qty
        for s in ("a", "b", "s1", None):
            assert p.position_qty(symbol, s, account=False) == sum(  # type: ignore[arg-type]
                (f.qty if f.side is OrderSide.BUY else -f.qty for f in ledger
                 if f.symbol == symbol and f.strategy_id == s), Decimal(0))
        pos = p.position(symbol)
        assert pos is not None and pos.avg_entry_price >= 0


@settings(max_examples=300, deadline=None)
@given(st.lists(fill_st, min_size=1, max_size=40), st.lists(prices, min_size=2, max_size=2))
def test_cash_plus_positions_equals_start_plus_pnl_minus_fees(
        fills: list[tuple[str, bool, Decimal, Decimal, Decimal, str | None]],
        marks: list[Decimal]) -> None:
    bus = MessageBus()
    p = Portfolio(bus=bus, config=PortfolioConfig(starting_cash=START))
    p.attach(bus)
    ledger: list[Fill] = []
    bus.subscribe(OrderFilled, lambda e: ledger.append(e.fill))
    for n, spec in enumerate(fills):
        bus.publish(filled_event(n, *spec))
        check_invariants(p, ledger)
    from engine.model import TradeTick

    for symbol, mark in zip((BTC, ETH), marks, strict=True):  # marks move: still exact
        bus.publish(TradeTick(Venue("paper"), symbol, T0 + 10**6, float(mark), 1.0))
    check_invariants(p, ledger)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 500), st.integers(9_000, 11_000),
                          st.sampled_from(["market", "limit"])), min_size=1, max_size=25))
def test_through_the_paper_stack(steps: list[tuple[bool, int, int, str]]) -> None:
    h = Harness(risk=LOOSE, model=PaperFillModel(slippage_bps=D(3), taker_fee_bps=D(5),
                                                 maker_fee_bps=D(2)),
                portfolio=PortfolioConfig(starting_cash=START))
    h.trade(100.0)
    for buy, qty_cents, price_cents, kind in steps:
        kw = {"limit_price": D(price_cents) / 100} if kind == "limit" else {}
        h.submit("buy" if buy else "sell", D(qty_cents) / 100, kind, **kw)
        h.trade(price_cents / 100, qty=3.0)
    check_invariants(h.portfolio, h.rec.fills())
