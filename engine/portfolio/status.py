"""The portfolio's part of /status: money and quantities as strings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.portfolio.portfolio import Portfolio

__all__ = ["portfolio_status"]


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
