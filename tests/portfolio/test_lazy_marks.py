"""Lazy marks give what evaluating every mark gives: guard transitions and warnings, the
high-water mark, the deepest drawdown, daily rows (hypothesis over random paths and fills)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from hypothesis import given, settings
from hypothesis import strategies as st
from trading_harness import BTC, ETH, LOOSE, T0, VENUE, D, Harness

from engine.ids import Symbol
from engine.model import NS_PER_S, Bar
from engine.portfolio import PortfolioConfig
from engine.risk import RiskConfig, RiskStateChanged
from engine.store.records import PerformanceDaily, RiskEventRecord
from gateways.paper import PaperFillModel

DAY = 86_400 * NS_PER_S
Action = Literal["reducing", "halted"]
MODEL = PaperFillModel(slippage_bps=D(2), taker_fee_bps=D(5), maker_fee_bps=D(2))

# one step: (symbol, move in basis points, minutes to the next bar (0: a bar at the same
# time as the previous one), order qty or 0)
step = st.tuples(st.sampled_from([BTC, ETH]),
                 st.one_of(st.integers(-30, 30), st.integers(-300, 300)),
                 st.sampled_from([0, 1, 1, 1, 7, 600]), st.one_of(st.just(0), st.integers(-40, 40)))
guard_cfg = st.tuples(st.sampled_from([None, "2", "5"]), st.sampled_from([None, "3", "8"]),
                      st.sampled_from([None, "4"]),
                      st.sampled_from(["reducing", "halted"]))


def build(cfg: RiskConfig, eager: bool) -> Harness:
    h = Harness(risk=cfg, model=MODEL, start_ns=T0 - T0 % DAY + DAY - 90 * 60 * NS_PER_S,
                portfolio=PortfolioConfig(mark_interval_ms=1, snapshot_interval_s=86_400.0))
    h.trade(100.0, symbol=BTC)
    h.trade(50.0, symbol=ETH)
    if eager:  # an equity listener makes every mark exact
        h.portfolio.add_equity_listener(lambda ts, equity: None)
    return h


def play(h: Harness, steps: list[tuple[str, int, int, int]]) -> dict[str, Any]:
    prices = {BTC: 100.0, ETH: 50.0}
    for symbol, bps, minutes, qty in steps:
        prev = prices[symbol]
        price = prices[symbol] = round(prev * (1 + bps / 10_000), 2)
        if qty:
            h.submit("buy" if qty > 0 else "sell", D(abs(qty)) * 10, symbol=symbol)
        if minutes == 0:  # a second bar at the previous bar's time: no mark is due for it
            h.bus.publish(Bar(VENUE, Symbol(symbol), "1m", h.clock.now_ns() - 60 * NS_PER_S, prev,
                              max(prev, price), min(prev, price), price, 1e6))
            continue
        h.bar(prev, max(prev, price), min(prev, price), price, v=1e6, symbol=symbol)
        if minutes > 1:
            h.step((minutes - 1) * 60_000)
    perf = h.portfolio.performance
    h.portfolio.settle()
    return {
        "risk": [(e.ts_ns, e.previous, e.state, e.source, e.reason)
                 for e in h.rec.of(RiskStateChanged)],
        "warnings": [(e.ts_ns, e.check, e.decision, e.observed_value)
                     for e in h.rec.of(RiskEventRecord)],
        "days": [msg for msg in h.rec.of(PerformanceDaily)],
        "perf": (perf.hwm, perf.max_drawdown_pct, perf.day_max_dd, perf.last_equity,
                 perf.day_start_equity),
        "snapshot": h.risk.snapshot,
        "saves": h.store.saves,
        "equity": h.portfolio.equity(),
    }


@settings(max_examples=200, deadline=None)
@given(st.lists(step, min_size=8, max_size=80), guard_cfg)
def test_lazy_marks_match_eager_marks(steps: list[tuple[str, int, int, int]],
                                      guards: tuple[str | None, str | None, str | None, Action],
                                      ) -> None:
    loss, dd, target, action = guards
    cfg = RiskConfig(
        account=LOOSE.account, price_band_pct=None, leverage=Decimal(100), allow_short=True,
        max_daily_loss_pct=None if loss is None else D(loss), daily_loss_action=action,
        max_drawdown_pct=None if dd is None else D(dd), drawdown_action=action,
        profit_target_pct=None if target is None else D(target))
    lazy, eager = build(cfg, False), build(cfg, True)
    assert play(lazy, steps) == play(eager, steps)


def test_an_idle_bar_is_lazy_and_a_guard_still_trips_on_its_bar() -> None:
    cfg = RiskConfig(account=LOOSE.account, price_band_pct=None, leverage=Decimal(100),
                     max_daily_loss_pct=None, max_drawdown_pct=D(5), drawdown_action="halted")
    h = build(cfg, False)
    h.submit("buy", 500)
    h.bar(100.0, 100.0, 100.0, 100.0, v=1e6)  # filled at the open: 50,000 long
    h.bar(100.5, 100.5, 100.5, 100.5, v=1e6)  # a new high-water mark: exact
    assert h.portfolio._pending_ts is None
    h.bar(100.2, 100.2, 100.2, 100.2, v=1e6)  # a drawdown: only the worst close is kept
    h.bar(100.3, 100.3, 100.3, 100.3, v=1e6)
    assert h.portfolio._pending_ts is not None  # skipped: nothing could act
    assert h.portfolio.drawdown_pct() > 0
    h.bar(100.3, 100.3, 90.0, 90.0, v=1e6)  # ~-5,000 on ~100,000: the drawdown guard trips
    (event,) = h.rec.of(RiskStateChanged)
    assert event.source == "guard:drawdown" and event.ts_ns == h.clock.now_ns() - 60 * 10**9
