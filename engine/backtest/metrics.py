"""Backtest performance metrics from an equity curve and the fills.

Conventions, so two reports compare:

- Returns are per bar of the equity curve (marked at every bar close); Sharpe and Sortino
  are annualised with ``sqrt(periods_per_year)`` where ``periods_per_year`` follows from the
  median bar spacing (525,600 for 1-minute bars), risk-free rate 0. Sortino's downside
  deviation is the root mean square of the negative returns over all periods.
- CAGR uses the calendar span from the first to the last mark (365.25-day years).
- Max drawdown is the largest fall from a running peak, as a fraction of the peak; its
  duration is the longest time (seconds) spent below a previous peak.
- A round trip is a position's life from flat to flat (a flip closes one and opens the
  next); its PnL is realised PnL minus the fees of its fills. ``win_rate`` and
  ``profit_factor`` (gross wins / gross losses) are over round trips.
- ``bars`` counts the equity curve's points: one per bar close time, so with several
  files it is the number of distinct close times, not of bars (bars the feed dropped as
  bad have none). ``exposure`` is the fraction of them with a non-zero position.
- ``by_strategy``: per strategy, the same trade figures over its own fills alone (its round
  trips are its own positions' lives, so with two strategies on one symbol they do not add
  up to the account's): ``fills``, ``trades``, ``win_rate``, ``profit_factor``, ``fees``,
  and ``pnl``, the result of its closed round trips.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from engine.backtest.curve import EquityCurve
from engine.model import Fill, OrderSide

__all__ = ["RoundTrip", "by_strategy", "compute_metrics", "round_trips"]

_ZERO = Decimal(0)
_YEAR_S = 365.25 * 86_400


class RoundTrip(msgspec.Struct, frozen=True, gc=False):
    """One position from open to flat. (A msgspec struct: a backtest makes one per round
    trip, tens of thousands, and a frozen dataclass takes 13 times as long to build.)"""

    symbol: str
    opened_ns: int
    closed_ns: int
    side: str
    pnl: Decimal
    fills: int


def round_trips(fills: Sequence[Fill]) -> list[RoundTrip]:
    """Split fills (in time order) into round trips per symbol, average-cost accounting.

    A position keeps its signed cost (the sum of ``qty * price`` of what opened it), so a
    full close realises ``price * position - cost`` exactly, with no division; only a
    partial close divides (its share of the cost). A fill's fee goes to the trip it closes
    (or opens); a flip's fill counts in both trips."""
    trips: list[RoundTrip] = []
    state: dict[str, list[Any]] = {}  # symbol -> [position, cost, pnl, opened_ns, n_fills]
    buy, zero = OrderSide.BUY, _ZERO  # Decimal against Decimal: no int converted per compare
    for fill in fills:
        st = state.get(fill.symbol)
        if st is None:
            st = state[fill.symbol] = [zero, zero, zero, fill.ts_ns, 0]
        price = fill.price
        signed = fill.qty if fill.side is buy else -fill.qty
        pos = st[0]
        st[2] -= fill.fee
        if pos and (pos > zero) is not (signed > zero):  # reduce, close or flip
            if abs(signed) < abs(pos):
                share = st[1] * -signed / pos  # the cost of the part closed
                st[2] += -signed * price - share
                st[0], st[1] = pos + signed, st[1] - share
                continue
            st[2] += price * pos - st[1]
            st[4] += 1
            trips.append(RoundTrip(fill.symbol, st[3], fill.ts_ns,
                                   "long" if pos > zero else "short", st[2], st[4]))
            signed += pos
            st[0] = st[1] = st[2] = zero
            st[3], st[4] = fill.ts_ns, 0
            if not signed:
                continue
            pos = zero
        if not pos:
            st[3] = fill.ts_ns
        st[0] = pos + signed
        st[1] += signed * price
        st[4] += 1
    return trips


def _max_drawdown(equity: npt.NDArray[np.float64],
                  ts_s: npt.NDArray[np.float64]) -> tuple[float, float]:
    peaks = np.maximum.accumulate(equity)
    drawdown = np.where(peaks > 0, (peaks - equity) / peaks, 0.0)
    max_dd = float(drawdown.max()) if len(drawdown) else 0.0
    # Runs of marks below the running peak; a run's time starts at the mark before it
    # (the peak's), and lasts to its last mark.
    below = np.concatenate([[False], equity < peaks, [False]])
    edges = np.flatnonzero(np.diff(below.astype(np.int8)))
    starts, ends = edges[::2], edges[1::2] - 1
    if not len(starts):
        return max_dd, 0.0
    begin = ts_s[np.maximum(starts - 1, 0)]
    return max_dd, float(np.max(ts_s[ends] - begin))


def compute_metrics(curve: EquityCurve, fills: Sequence[Fill], *, start_equity: Decimal,
                    end_equity: Decimal) -> dict[str, Any]:
    """All report metrics; values are JSON-able and rounded for stable files.
    ``start_equity``/``end_equity`` are the portfolio's exact figures."""
    eq = np.asarray(curve.equity, dtype=np.float64)
    ts_s = np.asarray(curve.ts_ns, dtype=np.float64) / 1e9
    position_open = curve.position_open
    trips = round_trips(fills)
    result: dict[str, Any] = {
        "start_equity": str(start_equity),
        "end_equity": str(end_equity),
        "bars": len(eq),
        **_trade_figures(fills, trips),
        "exposure": _r(float(np.mean(position_open))) if len(position_open) else 0.0,
        "by_strategy": by_strategy(fills, trips),
    }
    if len(eq) < 2 or eq[0] <= 0:
        result.update(total_return=0.0, cagr=None, sharpe=None, sortino=None,
                      max_drawdown=0.0, max_drawdown_duration_s=0.0)
        return result
    returns = np.diff(eq) / eq[:-1]
    spacing = float(np.median(np.diff(ts_s))) or 60.0
    per_year = _YEAR_S / spacing
    years = (ts_s[-1] - ts_s[0]) / _YEAR_S
    total = eq[-1] / eq[0] - 1.0
    std = float(returns.std(ddof=1)) if len(returns) > 1 else 0.0
    downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
    mean = float(returns.mean())
    max_dd, dd_s = _max_drawdown(eq, ts_s)
    result.update(
        total_return=_r(total),
        cagr=_r((eq[-1] / eq[0]) ** (1 / years) - 1) if years > 0 and eq[-1] > 0 else None,
        sharpe=_r(mean / std * math.sqrt(per_year)) if std > 0 else None,
        sortino=_r(mean / downside * math.sqrt(per_year)) if downside > 0 else None,
        max_drawdown=_r(max_dd),
        max_drawdown_duration_s=round(float(dd_s), 3),
    )
    return result


def by_strategy(fills: Sequence[Fill],
                all_trips: Sequence[RoundTrip] | None = None) -> dict[str, dict[str, Any]]:
    """The trade figures of each strategy's own fills (``-``: fills without a strategy);
    ``all_trips``, the round trips of all ``fills`` when known, serve a lone strategy."""
    grouped: dict[str, list[Fill]] = {}
    for fill in fills:
        grouped.setdefault(fill.strategy_id or "-", []).append(fill)
    out: dict[str, dict[str, Any]] = {}
    for sid, own in sorted(grouped.items()):
        trips = all_trips if all_trips is not None and len(grouped) == 1 else round_trips(own)
        out[sid] = {**_trade_figures(own, trips),
                    "pnl": str(sum((t.pnl for t in trips), _ZERO))}
    return out


def _trade_figures(fills: Sequence[Fill], trips: Sequence[RoundTrip]) -> dict[str, Any]:
    wins = [t.pnl for t in trips if t.pnl > _ZERO]
    lost = sum((t.pnl for t in trips if t.pnl <= _ZERO), _ZERO)
    return {
        "fills": len(fills),
        "trades": len(trips),
        "fees": str(sum((f.fee for f in fills), _ZERO)),
        "win_rate": _r(len(wins) / len(trips)) if trips else None,
        "profit_factor": (_r(float(sum(wins, _ZERO)) / -float(lost)) if lost < _ZERO
                          else None),
    }


def _r(value: float) -> float:
    return round(float(value), 10)
