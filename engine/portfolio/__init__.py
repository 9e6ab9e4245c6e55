"""Portfolio accounting: positions, cash, equity, PnL, equity curve, daily performance."""

from engine.portfolio.accounting import PositionState
from engine.portfolio.performance import (
    PerformanceDay,
    PerformanceTracker,
    PortfolioUpdated,
    day_of,
)
from engine.portfolio.portfolio import Portfolio, PortfolioConfig

__all__ = [
    "PerformanceDay",
    "PerformanceTracker",
    "Portfolio",
    "PortfolioConfig",
    "PortfolioUpdated",
    "PositionState",
    "day_of",
]
