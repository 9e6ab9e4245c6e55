"""The portfolio's row and its part of /status (money and quantities as strings)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.portfolio.performance import PortfolioUpdated

if TYPE_CHECKING:
    from engine.portfolio.portfolio import Portfolio

__all__ = ["portfolio_row", "portfolio_status"]


def portfolio_status(portfolio: Portfolio) -> dict[str, Any]:
    """Cash, equity, PnL, drawdown, performance, open positions, and each strategy's
    position per symbol; settles pending lazy marks first."""
    portfolio.settle()
    row = portfolio.portfolio_row(portfolio.last_ts)
    return {
        "cash": str(row.cash), "equity": str(row.equity),
        "realized_pnl": str(row.realized_pnl), "unrealized_pnl": str(row.unrealized_pnl),
        "fees": str(row.fees), "daily_pnl": str(row.daily_pnl),
        "drawdown_pct": str(round(portfolio.drawdown_pct(), 4)),
        "max_drawdown_pct": str(round(row.max_drawdown_pct, 4)),
        "high_water_mark": str(row.high_water_mark), "trades": row.num_trades,
        "win_rate": row.win_rate, "sharpe": row.sharpe,
        "positions": [{"symbol": p.symbol, "qty": str(p.qty),
                       "avg_entry_price": str(p.avg_entry_price),
                       "unrealized_pnl": str(p.unrealized_pnl),
                       "realized_pnl": str(p.realized_pnl)}
                      for p in portfolio.positions() if p.qty],
        "strategies": {f"{sid or '-'}:{sym}": {"qty": str(s.qty), "realized": str(s.realized),
                                               "fees": str(s.fees)}
                       for sid, sym, s in portfolio.strategy_positions()},
    }


def portfolio_row(portfolio: Portfolio, ts: int) -> PortfolioUpdated:
    """The portfolio's current row (``portfolios``, /status)."""
    perf = portfolio.performance
    equity = portfolio.equity()
    start = portfolio.config.starting_cash
    total = equity - start
    return PortfolioUpdated(
        ts_ns=ts, cash=portfolio.cash, equity=equity, realized_pnl=portfolio.realized,
        unrealized_pnl=total - portfolio.realized + portfolio.fees,  # exactly: see accounting
        fees=portfolio.fees, total_pnl=total,
        total_pnl_pct=(total / start * 100) if start else None,
        daily_pnl=equity - perf.day_start_equity, max_drawdown_pct=perf.max_drawdown_pct,
        high_water_mark=perf.hwm, num_trades=perf.total_trades, win_rate=perf.win_rate(),
        sharpe=perf.sharpe())
