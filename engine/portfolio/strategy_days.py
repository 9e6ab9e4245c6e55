"""The ``performance_daily`` rows of a closed UTC day: the account's and each strategy's.

The account's row (``strategy_id`` '') is mark-to-market: the day's equity change. A
strategy's row counts what its own fills did that day, from the counters of its positions
(:class:`~engine.portfolio.accounting.PositionState`): ``trades`` (fills), ``wins`` and
``losses`` (fills that closed exposure at a profit / a loss), ``fees``, and ``pnl``, the PnL
its fills realized net of those fees (the same measure as the ``strategies`` row's
``total_pnl``; unrealized PnL stays in the account's row). A strategy with no fill in a
day gets no row for it. Nothing here runs per fill or per bar: a day's close takes the
differences of the counters since the previous close.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from engine.ids import StrategyId, Symbol
from engine.portfolio.accounting import PositionState
from engine.portfolio.performance import PerformanceDay
from engine.store.records import PerformanceDaily

__all__ = ["StrategyDays", "StrategyTotals"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class StrategyTotals:
    """A strategy's counters summed over its positions (since the account's first fill)."""

    fills: int = 0
    wins: int = 0
    losses: int = 0
    realized: Decimal = _ZERO
    fees: Decimal = _ZERO


def strategy_totals(
    strategies: Mapping[StrategyId | None, Mapping[Symbol, PositionState]],
) -> dict[StrategyId, StrategyTotals]:
    """Per strategy (orders without one are the account's alone), its counters summed."""
    out: dict[StrategyId, StrategyTotals] = {}
    for sid, states in strategies.items():
        if sid is not None:
            out[sid] = _summed(states.values())
    return out


def _summed(states: Iterable[PositionState]) -> StrategyTotals:
    fills = wins = losses = 0
    realized = fees = _ZERO
    for s in states:
        fills += s.fills
        wins += s.wins
        losses += s.losses
        realized += s.realized
        fees += s.fees
    return StrategyTotals(fills, wins, losses, realized, fees)


class StrategyDays:
    """The strategies' counters at the last day boundary, and each closed day's rows."""

    def __init__(self) -> None:
        self._base: dict[StrategyId, StrategyTotals] = {}

    def rebase(
        self, strategies: Mapping[StrategyId | None, Mapping[Symbol, PositionState]],
    ) -> None:
        """Count the next day from the counters as they are now (a restart: the fills before
        today's start, replayed from the ledger)."""
        self._base = strategy_totals(strategies)

    def close(
        self, closed: PerformanceDay, ts_ns: int,
        strategies: Mapping[StrategyId | None, Mapping[Symbol, PositionState]],
    ) -> list[PerformanceDaily]:
        """The rows of the day that closed at ``ts_ns``: the account's (``closed``), then
        one for each strategy that had a fill in it; the next day counts from here."""
        day = closed.day
        rows = [PerformanceDaily(
            day=day, ts_ns=ts_ns, trades=closed.trades, wins=closed.wins,
            losses=closed.losses, pnl=closed.pnl, fees=closed.fees,
            max_drawdown=closed.max_drawdown_pct, sharpe=closed.sharpe,
            equity_end=closed.end_equity)]
        now = strategy_totals(strategies)
        empty = StrategyTotals()
        for sid, t in now.items():
            b = self._base.get(sid, empty)
            if t.fills == b.fills:
                continue
            fees = t.fees - b.fees
            rows.append(PerformanceDaily(
                day=day, ts_ns=ts_ns, strategy_id=sid, trades=t.fills - b.fills,
                wins=t.wins - b.wins, losses=t.losses - b.losses,
                pnl=t.realized - b.realized - fees, fees=fees))
        self._base = now
        return rows
