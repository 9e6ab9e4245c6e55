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

from collections.abc import Mapping

from engine.ids import StrategyId, Symbol
from engine.portfolio.accounting import FillTotals, PositionState, fill_totals
from engine.portfolio.performance import PerformanceDay
from engine.store.records import PerformanceDaily

__all__ = ["StrategyDays", "strategy_totals"]


def strategy_totals(
    strategies: Mapping[StrategyId | None, Mapping[Symbol, PositionState]],
) -> dict[StrategyId, FillTotals]:
    """Per strategy (orders without one are the account's alone), its counters summed."""
    return {sid: fill_totals(states.values()) for sid, states in strategies.items()
            if sid is not None}


class StrategyDays:
    """The strategies' counters at the last day boundary, and each closed day's rows."""

    def __init__(self) -> None:
        self._base: dict[StrategyId, FillTotals] = {}

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
        empty = FillTotals()
        for sid, totals in now.items():
            t = totals.since(self._base.get(sid, empty))
            if t.fills:
                rows.append(PerformanceDaily(
                    day=day, ts_ns=ts_ns, strategy_id=sid, trades=t.fills, wins=t.wins,
                    losses=t.losses, pnl=t.realized - t.fees, fees=t.fees))
        self._base = now
        return rows
