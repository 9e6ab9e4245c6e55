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
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from engine.model import NS_PER_S

__all__ = ["DAY_NS", "PerformanceDay", "PerformanceTracker", "PortfolioUpdated", "day_of"]

DAY_NS = 86_400 * NS_PER_S
_ZERO = Decimal(0)


def day_of(ts_ns: int) -> date:
    """The UTC calendar day of a timestamp."""
    return datetime.fromtimestamp(ts_ns // DAY_NS * 86_400, tz=UTC).date()


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
    """Running performance of the account."""

    def __init__(self, starting_equity: Decimal, curve_points: int = 10_000) -> None:
        self.starting_equity = starting_equity
        self.hwm = starting_equity
        self.max_drawdown_pct = _ZERO
        self.curve: deque[tuple[int, Decimal]] = deque(maxlen=curve_points)
        self.day: date | None = None
        self.day_start_equity = starting_equity
        self.last_equity = starting_equity
        self.daily_returns: list[float] = []
        self.total_trades = 0
        self.total_wins = 0
        self.total_losses = 0
        self._reset_day()

    def _reset_day(self) -> None:
        self.trades = 0
        self.wins = 0
        self.losses = 0
        self.day_realized = _ZERO
        self.day_fees = _ZERO
        self.day_max_dd = _ZERO

    def on_fill(self, realized: Decimal, fee: Decimal, closing: bool) -> None:
        """Count a fill; a fill that closed exposure is a win or a loss by its realized PnL."""
        self.trades += 1
        self.total_trades += 1
        self.day_realized += realized
        self.day_fees += fee
        if closing:
            if realized > 0:
                self.wins += 1
                self.total_wins += 1
            elif realized < 0:
                self.losses += 1
                self.total_losses += 1

    def on_equity(self, ts_ns: int, equity: Decimal) -> PerformanceDay | None:
        """Record a mark of equity; return the day that ended, if one did."""
        closed: PerformanceDay | None = None
        today = day_of(ts_ns)
        if self.day is None:
            self.day = today
            self.day_start_equity = self.last_equity
        elif today != self.day:
            closed = self._close_day(ts_ns)
            self.day = today
        self.last_equity = equity
        if equity > self.hwm:
            self.hwm = equity
        dd = (self.hwm - equity) / self.hwm * 100 if self.hwm > 0 else _ZERO
        if dd > self.max_drawdown_pct:
            self.max_drawdown_pct = dd
        if dd > self.day_max_dd:
            self.day_max_dd = dd
        self.curve.append((ts_ns, equity))
        return closed

    def drawdown_pct(self) -> Decimal:
        """Current drawdown from the high-water mark, percent."""
        if self.hwm <= 0:
            return _ZERO
        return (self.hwm - self.last_equity) / self.hwm * 100

    def win_rate(self) -> float | None:
        """Wins / (wins + losses) over all days, None before any closing fill."""
        n = self.total_wins + self.total_losses
        return self.total_wins / n if n else None

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
        row = PerformanceDay(
            day=self.day, trades=self.trades, wins=self.wins, losses=self.losses,
            pnl=end - start, realized_pnl=self.day_realized, fees=self.day_fees,
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
