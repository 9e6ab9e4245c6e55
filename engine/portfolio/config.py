"""``[portfolio]``: the portfolio's settings."""

from __future__ import annotations

from decimal import Decimal

import msgspec

__all__ = ["PortfolioConfig"]


class PortfolioConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[portfolio]``: starting cash and how often equity is marked and snapshotted."""

    starting_cash: Decimal = Decimal(100_000)
    currency: str = "USDT"
    mark_interval_ms: int = 1000
    snapshot_interval_s: float = 60.0
    equity_curve_points: int = 10_000
