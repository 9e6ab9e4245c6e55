"""Bench: order intents/s through risk + OMS + paper fill + portfolio, and fill latency.

One intent = a market order submitted by a strategy (risk checks, order created, submitted
and accepted events), then the next trade tick, which the paper matcher fills (fill event,
position and cash update, ``PositionChanged``). Buys and sells alternate so positions stay
small; every order passes all pre-trade checks (limits set so none rejects). Each event type
the store would persist has one counting subscriber (the writer's cost is not measured here).

References measured in the same run: a bare pure-Python order life with Decimal money, three
risk checks, frozen order and fill objects, a position and cash update and two ledger
records, with no engine around it: once with the engine's own domain objects in their
msgspec form (``engine.model_struct.Order``/``Fill``, what pure Python uses, built by
keyword in C; ``engine.ids`` UUIDv7 ids; the ratio printed is against this one) and once
with minimal 6-field dataclasses and integer ids.

Latency: from the paper matcher emitting a fill report to the ``PositionChanged`` handler,
for each fill of a separate run (perf_counter_ns), p50/p99.

Mark path: what a backtest pays per bar to mark the portfolio (equity, performance tracker,
risk guards), with the portfolio configured as a backtest configures it (a mark at every
bar): 100,000 closed 1-minute bars into ``Portfolio.on_bar``, flat and with a position open.
Marks are lazy (``engine.portfolio.marks``): a bar whose close cannot make the tracker or a
guard act keeps only the close; the others (new highs, guard bounds, day ends) are exact.

References: ``bare order life, model objects`` builds the msgspec ``Order``/``Fill`` even
when the engine runs compiled: the compiled build's native classes cost an interpreted
caller 7-20% more in that loop (keyword arguments parsed by the compiled constructor), and
a slower reference would flatter the ratio. ``bare order life, minimal objects`` does not
depend on the engine at all.
"""

from __future__ import annotations

import itertools
import random
import statistics
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from _common import emit, median_seconds_rounds, print_table

from engine.bus import MessageBus
from engine.clock import SimClock
from engine.events import OrderEvent, PositionChanged
from engine.execution import ExecutionReport, VenueFilled
from engine.ids import (
    FillId,
    StrategyId,
    Symbol,
    Venue,
    client_order_id_for,
    new_order_id,
    uuid7,
)
from engine.model import (
    Alert,
    Bar,
    OrderSide,
    OrderStatus,
    OrderType,
    TradeTick,
)
from engine.model_struct import Fill as StructFill
from engine.model_struct import Order as StructOrder
from engine.oms import OmsConfig, SubmitOrder
from engine.portfolio import PortfolioConfig
from engine.risk import MemoryRiskStateStore, RiskConfig, RiskLimits
from gateways.paper import PaperFillModel, build_paper_stack

N = 20_000
ROUNDS = 7
SYMBOL = Symbol("BTC/USDT")
VENUE = Venue("paper")
T0 = 1_700_000_000 * 1_000_000_000
QTY = Decimal("0.01")


def make_prices(n: int) -> list[float]:
    rng = random.Random(7)
    price, out = 30_000.0, []
    for _ in range(n):
        price = round(price * (1 + rng.gauss(0, 0.0002)), 2)
        out.append(price)
    return out


class Count:
    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, event: object) -> None:
        self.n += 1


def build(alert_fills: bool, portfolio: PortfolioConfig | None = None,
          ) -> tuple[MessageBus, SimClock, object, object]:
    bus = MessageBus()
    clock = SimClock(T0)
    for t in (OrderEvent, PositionChanged, Alert):
        bus.subscribe(t, Count())
    risk = RiskConfig(account=RiskLimits(
        max_order_notional=Decimal(1_000_000), max_position_notional=Decimal(10_000_000),
        max_gross_exposure=Decimal(100_000_000), max_open_orders=1000,
        max_orders_per_s=1e9))
    gateway, stack = build_paper_stack(
        bus=bus, clock=clock, risk_store=MemoryRiskStateStore(),
        model=PaperFillModel(slippage_bps=Decimal(1), taker_fee_bps=Decimal(5)),
        risk=risk, oms=OmsConfig(alert_fills=alert_fills), portfolio=portfolio)
    return bus, clock, gateway, stack


def engine_run(prices: list[float], alert_fills: bool) -> float:
    bus, clock, _, stack = build(alert_fills)
    publish, advance, submit = bus.publish, clock.advance_to, stack.submit  # type: ignore[attr-defined]
    intents = [SubmitOrder(symbol=SYMBOL, side=OrderSide.BUY if i % 2 == 0 else OrderSide.SELL,
                           qty=QTY, strategy_id=StrategyId("bench")) for i in range(2)]
    publish(TradeTick(VENUE, SYMBOL, T0, prices[0], 1.0))
    ts = T0
    start = time.perf_counter()
    for i, price in enumerate(prices):
        submit(intents[i & 1])
        ts += 1_000_000
        advance(ts)
        publish(TradeTick(VENUE, SYMBOL, ts, price, 1.0))
    elapsed = time.perf_counter() - start
    assert stack.oms.counts["fills"] == len(prices), stack.oms.counts  # type: ignore[attr-defined]
    return elapsed


# -- the bare reference ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class BareOrder:
    id: int
    symbol: str
    side: int
    qty: Decimal
    price: Decimal
    status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BareFill:
    id: int
    order_id: int
    qty: Decimal
    price: Decimal
    fee: Decimal


def bare_model_run(prices: list[float]) -> float:
    positions: dict[str, list[Decimal]] = {}
    cash = Decimal(100_000)
    orders_ledger: list[StructOrder] = []
    trades_ledger: list[StructFill] = []
    max_notional, max_pos, max_open, open_orders = Decimal(1_000_000), Decimal(10_000_000), 1000, 0
    fee_rate = Decimal(5) / 10_000
    slip_up, slip_down = Decimal("1.0001"), Decimal("0.9999")
    start = time.perf_counter()
    for i, raw in enumerate(prices):
        side = OrderSide.BUY if i % 2 == 0 else OrderSide.SELL
        sign = 1 if i % 2 == 0 else -1
        price = Decimal(repr(raw))
        notional = QTY * price
        pos = positions.get(SYMBOL)
        held = pos[0] if pos else Decimal(0)
        if notional > max_notional or abs(held + sign * QTY) * price > max_pos or (
                open_orders >= max_open):
            continue
        oid = new_order_id()
        fill_price = price * (slip_up if sign > 0 else slip_down)
        fee = QTY * fill_price * fee_rate
        order = StructOrder(
            id=oid, client_order_id=client_order_id_for(oid), venue=VENUE, symbol=SYMBOL,
            side=side, type=OrderType.MARKET, qty=QTY, created_ns=T0, status=OrderStatus.FILLED,
            filled_qty=QTY, avg_fill_price=fill_price, fee=fee)
        fill = StructFill(
            id=FillId(uuid7()), order_id=oid, client_order_id=order.client_order_id,
            venue=VENUE, symbol=SYMBOL, side=side, qty=QTY, price=fill_price, ts_ns=T0,
            exchange_trade_id=str(i), fee=fee)
        if pos is None:
            pos = positions[SYMBOL] = [Decimal(0), Decimal(0)]
        pos[0] += sign * QTY
        pos[1] += sign * QTY * fill_price
        cash -= sign * QTY * fill_price + fee
        orders_ledger.append(order)
        trades_ledger.append(fill)
    return time.perf_counter() - start


def bare_run(prices: list[float]) -> float:
    ids = itertools.count(1)
    positions: dict[str, list[Decimal]] = {}
    cash = Decimal(100_000)
    orders_ledger: list[BareOrder] = []
    trades_ledger: list[BareFill] = []
    max_notional, max_pos, max_open, open_orders = Decimal(1_000_000), Decimal(10_000_000), 1000, 0
    fee_rate = Decimal(5) / 10_000
    slip_up, slip_down = Decimal("1.0001"), Decimal("0.9999")
    start = time.perf_counter()
    for i, raw in enumerate(prices):
        side = 1 if i % 2 == 0 else -1
        price = Decimal(repr(raw))
        notional = QTY * price
        pos = positions.get(SYMBOL)
        held = pos[0] if pos else Decimal(0)
        if notional > max_notional or abs(held + side * QTY) * price > max_pos or (
                open_orders >= max_open):
            continue
        order = BareOrder(id=next(ids), symbol=SYMBOL, side=side, qty=QTY, price=price,
                          status="filled")
        fill_price = price * (slip_up if side > 0 else slip_down)
        fee = QTY * fill_price * fee_rate
        fill = BareFill(id=next(ids), order_id=order.id, qty=QTY, price=fill_price, fee=fee)
        if pos is None:
            pos = positions[SYMBOL] = [Decimal(0), Decimal(0)]
        pos[0] += side * QTY
        pos[1] += side * QTY * fill_price
        cash -= side * QTY * fill_price + fee
        orders_ledger.append(order)
        trades_ledger.append(fill)
    return time.perf_counter() - start


def latency_run(prices: list[float]) -> list[float]:
    bus, clock, gateway, stack = build(True)
    oms_handler = stack.oms.on_report  # type: ignore[attr-defined]
    marks: list[int] = []
    samples: list[float] = []
    now = time.perf_counter_ns

    def timed_handler(report: ExecutionReport) -> None:
        if type(report) is VenueFilled:
            marks.append(now())
        oms_handler(report)

    def on_position(event: PositionChanged) -> None:
        if marks:
            samples.append((now() - marks.pop()) / 1000)

    gateway.set_report_handler(timed_handler)  # type: ignore[attr-defined]
    bus.subscribe(PositionChanged, on_position)
    ts = T0
    bus.publish(TradeTick(VENUE, SYMBOL, ts, prices[0], 1.0))
    for i, price in enumerate(prices):
        stack.submit(SubmitOrder(  # type: ignore[attr-defined]
            symbol=SYMBOL, side=OrderSide.BUY if i % 2 == 0 else OrderSide.SELL, qty=QTY,
            strategy_id=StrategyId("bench")))
        ts += 1_000_000
        clock.advance_to(ts)
        bus.publish(TradeTick(VENUE, SYMBOL, ts, price, 1.0))
    return samples


MARKS = 100_000


def mark_run(prices: list[float], open_position: bool) -> float:
    """Seconds per bar through ``Portfolio.on_bar`` (mark, performance, risk guards)."""
    bus, clock, _, stack = build(False, PortfolioConfig(mark_interval_ms=1,
                                                        snapshot_interval_s=86_400.0))
    ts = T0
    bus.publish(TradeTick(VENUE, SYMBOL, ts, prices[0], 1.0))
    if open_position:
        stack.submit(SubmitOrder(symbol=SYMBOL, side=OrderSide.BUY, qty=QTY,  # type: ignore[attr-defined]
                                 strategy_id=StrategyId("bench")))
        ts += 1_000_000
        clock.advance_to(ts)
        bus.publish(TradeTick(VENUE, SYMBOL, ts, prices[0], 1.0))
        assert stack.portfolio.has_open_positions()  # type: ignore[attr-defined]
    bars = []
    for i in range(MARKS):
        ts += 60 * 1_000_000_000
        p = prices[i % len(prices)]
        bars.append(Bar(VENUE, SYMBOL, "1m", ts, p, p, p, p, 1.0))
    on_bar = stack.portfolio.on_bar  # type: ignore[attr-defined]
    start = time.perf_counter()
    for bar in bars:
        on_bar(bar)
    return (time.perf_counter() - start) / MARKS


def main() -> None:
    prices = make_prices(N)
    t = median_seconds_rounds({
        "engine": lambda: engine_run(prices, False),
        "alerts": lambda: engine_run(prices, True),
        "model": lambda: bare_model_run(prices),
        "bare": lambda: bare_run(prices),
    }, rounds=ROUNDS)
    t_engine, t_engine_alerts, t_model, t_bare = t["engine"], t["alerts"], t["model"], t["bare"]
    mark_flat = min(mark_run(prices, False) for _ in range(3))
    mark_open = min(mark_run(prices, True) for _ in range(3))
    lat = sorted(latency_run(prices))
    p50 = statistics.median(lat)
    p99 = lat[int(len(lat) * 0.99)]
    engine_ips, alerts_ips, bare_ips = N / t_engine, N / t_engine_alerts, N / t_model
    minimal_ips = N / t_bare
    print(f"order life: {N:,} market intents (alternating buy/sell) + one trade tick each, "
          f"median of {ROUNDS} rounds (each path once per round) after 1 warm-up round, "
          "one core")
    print_table(["path", "intents/s", "us/intent", "vs bare"], [
        ["engine (risk+OMS+paper+portfolio)", engine_ips, 1e6 / engine_ips, engine_ips / bare_ips],
        ["engine + INFO alert per fill", alerts_ips, 1e6 / alerts_ips, alerts_ips / bare_ips],
        ["bare order life, model objects (reference)", bare_ips, 1e6 / bare_ips, 1.0],
        ["bare order life, minimal objects", minimal_ips, 1e6 / minimal_ips,
         minimal_ips / bare_ips],
    ])
    print()
    print_table(["fill -> position update", "p50 us", "p99 us", "max us", "samples"],
                [["VenueFilled -> PositionChanged", p50, p99, lat[-1], len(lat)]])
    print("targets: >= 50,000 intents/s; fill -> position p99 <= 1,000 us")
    print()
    print_table(["per-bar mark (Portfolio.on_bar: equity, performance, risk guards)", "us/bar"],
                [["flat", mark_flat * 1e6], ["one position open", mark_open * 1e6]])
    print(f"({MARKS:,} closed 1m bars, a mark at every bar, best of 3)")
    emit("orders", {
        "intents_per_s": round(engine_ips),
        "intents_per_s_with_fill_alerts": round(alerts_ips),
        "bare_intents_per_s": round(bare_ips),
        "bare_minimal_intents_per_s": round(minimal_ips),
        "engine_vs_bare": round(engine_ips / bare_ips, 3),
        "fill_to_position_p50_us": round(p50, 2),
        "fill_to_position_p99_us": round(p99, 2),
        "mark_us_flat": round(mark_flat * 1e6, 2),
        "mark_us_open": round(mark_open * 1e6, 2),
    })


if __name__ == "__main__":
    main()
