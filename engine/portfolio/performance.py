"""Equity curve, high-water mark, drawdown and daily performance rows.

Days are UTC calendar days of the market-data time. When a day ends (the first mark of a
later day), its :class:`PerformanceDay` is published (``performance_daily``): trades (fills),
wins and losses (fills that closed exposure at a profit / loss), pnl (equity change), fees,
the day's deepest drawdown from the high-water mark, and the Sharpe ratio of the daily
returns so far (annualised with sqrt(365); None before two days).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from engine.model import NS_PER_S
from engine.portfolio.accounting import FillTotals
from engine.store.records import PerformanceHistory

__all__ = [
    "DAY_NS",
    "PerformanceDay",
    "PerformanceTracker",
    "PortfolioUpdated",
    "day_bounds",
    "day_of",
]

DAY_NS = 86_400 * NS_PER_S
_ZERO = Decimal(0)


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_NEG_INF = Decimal("-Infinity")
_MARGIN = Decimal("1e-18")
"""Relative slack of the precomputed drawdown floor: far above the context's rounding
(28 digits), so the exact computation runs on every mark that could set a new maximum."""


def day_of(ts_ns: int) -> date:
    """The UTC calendar day of a timestamp."""
    return date.fromordinal(_EPOCH_ORDINAL + ts_ns // DAY_NS)


def day_bounds(ts_ns: int) -> tuple[int, int]:
    """``[start, end)`` in ns of the UTC day of ``ts_ns``."""
    start = ts_ns - ts_ns % DAY_NS
    return start, start + DAY_NS


@dataclass(frozen=True, slots=True, kw_only=True)
class PerformanceDay:
    """One closed trading day (a ``performance_daily`` row)."""

    day: date
    trades: int
    wins: int
    losses: int
    pnl: Decimal
    realized_pnl: Decimal
    fees: Decimal
    start_equity: Decimal
    end_equity: Decimal
    max_drawdown_pct: Decimal
    sharpe: float | None
    ts_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PortfolioUpdated:
    """The account's portfolio row (``portfolios`` upsert), published on each snapshot."""

    ts_ns: int
    cash: Decimal
    equity: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal
    total_pnl: Decimal
    total_pnl_pct: Decimal | None
    daily_pnl: Decimal
    max_drawdown_pct: Decimal
    high_water_mark: Decimal
    num_trades: int
    win_rate: float | None
    sharpe: float | None


class PerformanceTracker:
    """Running performance of the account.

    A mark costs a few comparisons: the current UTC day is kept as ``[start, end)`` in ns,
    and the drawdown is computed (exactly, in Decimal) only when equity is below the floor
    under which it could exceed the day's deepest drawdown so far (recomputed when the
    high-water mark or that depth changes).
    """

    def __init__(self, starting_equity: Decimal, curve_points: int = 10_000,
                 totals: Callable[[], FillTotals] = FillTotals) -> None:
        """``totals()``: the account's fill counters as they stand (the portfolio's
        positions'); a day's trade figures are their change over the day."""
        self._totals = totals
        self._day_base = FillTotals()
        self.starting_equity = starting_equity
        self.hwm = starting_equity
        self.max_drawdown_pct = _ZERO
        self.curve: deque[tuple[int, Decimal]] = deque(maxlen=curve_points)
        self.day: date | None = None
        self.day_start_equity = starting_equity
        self.last_equity = starting_equity
        self.daily_returns: list[float] = []
        self._day_lo = 0
        self._day_hi = 0  # empty range: the first mark sets the day
        self._dd_floor = _NEG_INF
        self._start_at_first_mark = False
        self._reset_day()

    def _reset_day(self) -> None:
        self.day_max_dd = _ZERO
        self._set_floor()

    def _set_floor(self) -> None:
        """Equity below which the drawdown may exceed ``day_max_dd`` (``max_drawdown_pct``
        is never below it); -inf when the high-water mark is not positive (no drawdown)."""
        hwm = self.hwm
        if hwm > _ZERO:
            self._dd_floor = hwm * (100 - self.day_max_dd) / 100 + hwm * _MARGIN
        else:
            self._dd_floor = _NEG_INF

    def rebase(self) -> None:
        """Count the day's trade figures from the totals as they are now (a restart: the
        ledger's fills before today's start are booked)."""
        self._day_base = self._totals()

    def day_totals(self) -> FillTotals:
        """The day's trade figures so far."""
        return self._totals().since(self._day_base)

    @property
    def total_trades(self) -> int:
        """Fills since the account's first."""
        return self._totals().fills

    def resume(self, history: PerformanceHistory) -> None:
        """After a restart, carry on from what the last run recorded: the current day
        started at the equity that closed the previous day (unknown, when the engine was
        down at the day's start: at the first mark's equity rather than the starting cash);
        the high-water mark, the max drawdown and the daily returns stand."""
        start = history.day_start_equity
        if start is not None:
            self.day_start_equity = start
        self._start_at_first_mark = start is None
        if history.high_water_mark is not None and history.high_water_mark > self.hwm:
            self.hwm = history.high_water_mark
        if history.max_drawdown_pct is not None:
            self.max_drawdown_pct = max(self.max_drawdown_pct, history.max_drawdown_pct)
        self.daily_returns[:0] = history.daily_returns
        self._set_floor()

    def on_equity(self, ts_ns: int, equity: Decimal) -> PerformanceDay | None:
        """Record a mark of equity; return the day that ended, if one did."""
        closed: PerformanceDay | None = None
        if not self._day_lo <= ts_ns < self._day_hi:
            closed = self._change_day(ts_ns, equity)
        self.last_equity = equity
        if equity > self.hwm:
            self.hwm = equity
            self._set_floor()
        elif equity < self._dd_floor:
            self._drawdown(equity)
        self.curve.append((ts_ns, equity))
        return closed

    def equity_bounds(self) -> tuple[Decimal, Decimal, int]:
        """``(floor, ceiling, until_ns)``: a mark changes nothing here but ``last_equity``
        and the curve while equity is above ``floor`` and at or below ``ceiling`` (the
        high-water mark) and its time is before ``until_ns`` (the end of the day)."""
        return self._dd_floor, self.hwm, self._day_hi

    def drawdown_at(self, equity: Decimal) -> None:
        """Record the drawdown of an earlier mark of the day that was not checked (at a
        high-water mark that has not changed since)."""
        if equity < self._dd_floor:
            self._drawdown(equity)

    def settle(self, ts_ns: int, equity: Decimal) -> None:
        """Record a mark that :meth:`equity_bounds` says changes nothing else (the last
        equity, which closes the day, and a curve point) without checking it."""
        self.last_equity = equity
        self.curve.append((ts_ns, equity))

    @property
    def day_end_ns(self) -> int:
        """End of the current day in ns (0 before the first mark)."""
        return self._day_hi

    def _change_day(self, ts_ns: int, equity: Decimal) -> PerformanceDay | None:
        self._day_lo, self._day_hi = day_bounds(ts_ns)
        today = day_of(ts_ns)
        if self.day is None:
            self.day = today
            if self._start_at_first_mark:  # else day_start_equity stands (see resume)
                self._start_at_first_mark = False
                self.day_start_equity = equity
        elif today != self.day:
            closed = self._close_day(ts_ns)
            self.day = today
            return closed
        return None

    def _drawdown(self, equity: Decimal) -> None:
        dd = (self.hwm - equity) / self.hwm * 100
        if dd > self.max_drawdown_pct:
            self.max_drawdown_pct = dd
        if dd > self.day_max_dd:
            self.day_max_dd = dd
            self._set_floor()

    def drawdown_pct(self) -> Decimal:
        """Current drawdown from the high-water mark, percent."""
        if self.hwm <= 0:
            return _ZERO
        return (self.hwm - self.last_equity) / self.hwm * 100

    def win_rate(self) -> float | None:
        """Wins / (wins + losses) over all days, None before any closing fill."""
        t = self._totals()
        n = t.wins + t.losses
        return t.wins / n if n else None

    def sharpe(self) -> float | None:
        """Annualised Sharpe ratio of daily returns (None before two days or no variance).

        Computed when a day closes and cached: snapshots ask for it far more often."""
        n = len(self.daily_returns)
        if n != self._sharpe_days:
            self._sharpe_days = n
            self._sharpe = _sharpe(self.daily_returns)
        return self._sharpe

    _sharpe_days = 0
    _sharpe: float | None = None

    def _close_day(self, ts_ns: int) -> PerformanceDay:
        assert self.day is not None
        start, end = self.day_start_equity, self.last_equity
        if start > 0:
            self.daily_returns.append(float((end - start) / start))
        now = self._totals()
        day = now.since(self._day_base)
        self._day_base = now
        row = PerformanceDay(
            day=self.day, trades=day.fills, wins=day.wins, losses=day.losses,
            pnl=end - start, realized_pnl=day.realized, fees=day.fees,
            start_equity=start, end_equity=end, max_drawdown_pct=self.day_max_dd,
            sharpe=self.sharpe(), ts_ns=ts_ns)
        self.day_start_equity = end
        self._reset_day()
        return row


def _sharpe(r: list[float]) -> float | None:
    if len(r) < 2:
        return None
    mean = sum(r) / len(r)
    var = sum((x - mean) ** 2 for x in r) / (len(r) - 1)
    return mean / math.sqrt(var) * math.sqrt(365) if var > 0 else None
