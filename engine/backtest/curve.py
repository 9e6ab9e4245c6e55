"""A backtest's equity curve, computed once after the run from its bars and fills.

Equity at a bar time is the starting cash, plus the cash every fill so far moved (a buy
pays ``qty * price + fee``, a sell receives ``qty * price - fee``), plus each open
position marked at its symbol's last close. Marking the portfolio in Decimal at every one
of a million bars only to draw a line and compute ratios would cost more than the rest of
the backtest; the curve is analytics, so it is float64, computed over whole columns. The
exact Decimal figures (start and end equity) come from the portfolio itself.

A curve point is the state at the end of a bar time: after every bar closing then was
handled, including the fills it caused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from engine.arrays import sorted_unique
from engine.model import Fill, OrderSide

__all__ = ["EquityCurve", "MarkSeries", "equity_curve"]


@dataclass(frozen=True, slots=True)
class MarkSeries:
    """The closes a symbol was marked at: bar close times (ns) and close prices."""

    symbol: str
    close_ns: npt.NDArray[np.int64]
    close: npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class EquityCurve:
    """Per bar time (close, ns): equity, and whether any position was open."""

    ts_ns: npt.NDArray[np.int64]
    equity: npt.NDArray[np.float64]
    position_open: npt.NDArray[np.bool_]


def equity_curve(marks: Sequence[MarkSeries], fills: Sequence[Fill],
                 fill_times_ns: Sequence[int], starting_cash: Decimal) -> EquityCurve:
    """The curve over the union of the marks' close times; ``fill_times_ns[i]`` is the
    bar time (clock) at which ``fills[i]`` happened."""
    by_symbol: dict[str, list[MarkSeries]] = {}
    for m in marks:
        by_symbol.setdefault(m.symbol, []).append(m)
    times = sorted_unique(np.concatenate([m.close_ns for m in marks])) if marks else (
        np.zeros(0, dtype=np.int64))
    n = len(times)
    cash = np.zeros(n)
    value = np.zeros(n)
    held = np.zeros(n, dtype=bool)
    at = np.searchsorted(times, np.asarray(fill_times_ns, dtype=np.int64), side="right") - 1
    at = np.maximum(at, 0)  # a fill before the first mark counts from the first point
    buy = OrderSide.BUY
    if fills:
        # each flow exact in Decimal, then rounded once; float() of a Decimal goes through
        # its text, so the few distinct quantities are converted once each
        np.add.at(cash, at, [float(-f.qty * f.price - f.fee if f.side is buy
                                   else f.qty * f.price - f.fee) for f in fills])
    as_float = {q: float(q) for q in {f.qty for f in fills}}
    for symbol, series in by_symbol.items():
        qty = np.zeros(n)
        picks = [i for i, f in enumerate(fills) if f.symbol == symbol]
        if picks:
            signed = [as_float[fills[i].qty] if fills[i].side is buy
                      else -as_float[fills[i].qty] for i in picks]
            np.add.at(qty, at[picks], signed)
        qty = np.cumsum(qty)
        price = _last_close(series, times)
        if not np.isfinite(price).all():  # before the symbol's first bar: NaN
            price = np.nan_to_num(price)
        held |= qty != 0
        # flat points add qty * price = 0.0 (or -0.0): the same sum as leaving them out
        value += np.multiply(qty, price, out=qty)
    equity = float(starting_cash) + np.cumsum(cash) + value
    return EquityCurve(times, equity, held)


def _last_close(series: list[MarkSeries], times: npt.NDArray[np.int64]
                ) -> npt.NDArray[np.float64]:
    """Per time, the symbol's last close at or before it (NaN before its first bar)."""
    if len(series) == 1 and np.array_equal(series[0].close_ns, times):
        return np.asarray(series[0].close, dtype=np.float64)  # a close at every time
    close_ns = np.concatenate([s.close_ns for s in series])
    close = np.concatenate([s.close for s in series])
    order = np.argsort(close_ns, kind="stable")
    close_ns, close = close_ns[order], close[order]
    idx = np.searchsorted(close_ns, times, side="right") - 1
    out = np.where(idx >= 0, close[np.maximum(idx, 0)], np.nan)
    return out.astype(np.float64)
