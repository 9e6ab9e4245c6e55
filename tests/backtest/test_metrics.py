"""Backtest metrics against plain loops over the same curves."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.backtest.metrics import _max_drawdown, round_trips
from engine.ids import ClientOrderId, FillId, OrderId, Symbol, Venue, uuid7
from engine.model import Fill, OrderSide


def _loop(equity: list[float], ts_s: list[float]) -> tuple[float, float]:
    peak, max_dd, longest, start = equity[0], 0.0, 0.0, None
    for i, value in enumerate(equity):
        peak = max(peak, value)
        if peak > 0:
            max_dd = max(max_dd, (peak - value) / peak)
        if value < peak:
            if start is None:
                start = ts_s[i - 1] if i else ts_s[i]
            longest = max(longest, ts_s[i] - start)
        else:
            start = None
    return max_dd, longest


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(90, 110), st.integers(1, 300)), min_size=1,
                max_size=80))
def test_drawdown_and_its_duration(points: list[tuple[int, int]]) -> None:
    equity = [float(v) for v, _ in points]
    ts_s = np.cumsum([float(dt) for _, dt in points]).tolist()
    got = _max_drawdown(np.array(equity), np.array(ts_s))
    want = _loop(equity, ts_s)
    assert got[1] == want[1]
    assert abs(got[0] - want[0]) < 1e-12


def _trips_by_average_price(fills: list[tuple[int, Decimal, Decimal, Decimal]]
                            ) -> list[tuple[int, int, str, Decimal, int]]:
    """The textbook loop: average entry price, realise (price - avg) per unit closed."""
    out = []
    pos, avg, pnl, opened, n = Decimal(0), Decimal(0), Decimal(0), 0, 0
    for ts, qty, price, fee in fills:
        pnl -= fee
        remaining = qty
        while remaining:
            if pos == 0 or (pos > 0) == (remaining > 0):
                if pos == 0:
                    opened = ts
                new = pos + remaining
                avg = (avg * abs(pos) + price * abs(remaining)) / abs(new)
                pos, remaining, n = new, Decimal(0), n + 1
                continue
            closing = min(abs(remaining), abs(pos))
            sign = 1 if pos > 0 else -1
            pnl += (price - avg) * closing * sign
            pos -= closing * sign
            remaining += closing * sign
            if pos == 0:
                out.append((opened, ts, "long" if sign > 0 else "short", pnl, n + 1))
                avg, pnl, opened, n = Decimal(0), Decimal(0), ts, 0
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-5, 5).filter(bool), st.integers(9_000, 11_000),
                          st.integers(0, 30)), min_size=1, max_size=40))
def test_round_trips_match_average_price_accounting(steps: list[tuple[int, int, int]]
                                                    ) -> None:
    raw = [(i * 60, Decimal(q) / 4, Decimal(p) / 100, Decimal(f) / 1000)
           for i, (q, p, f) in enumerate(steps)]
    fills = [Fill(id=FillId(uuid7()), order_id=OrderId(uuid7()),
                  client_order_id=ClientOrderId("c"), venue=Venue("v"), symbol=Symbol("S"),
                  side=OrderSide.BUY if q > 0 else OrderSide.SELL, qty=abs(q), price=p,
                  ts_ns=ts, exchange_trade_id=str(ts), fee=fee)
             for ts, q, p, fee in raw]
    got = [(t.opened_ns, t.closed_ns, t.side, t.pnl, t.fills) for t in round_trips(fills)]
    want = _trips_by_average_price(raw)
    assert [g[:3] + g[4:] for g in got] == [w[:3] + w[4:] for w in want]
    for g, w in zip(got, want, strict=True):
        assert abs(g[3] - w[3]) < Decimal("1e-18")
