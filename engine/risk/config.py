"""``[risk]``: pre-trade limits (account-wide and per strategy) and portfolio guards."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import msgspec

__all__ = ["GuardAction", "RiskConfig", "RiskLimits"]

GuardAction = Literal["reducing", "halted"]


class RiskLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Pre-trade limits; None switches a check off. Notionals are in the quote currency."""

    max_order_notional: Decimal | None = None
    max_position_notional: Decimal | None = None
    """Per symbol: |position + working orders on the same side + this order| x price."""
    max_gross_exposure: Decimal | None = None
    """Sum over symbols of |position| x price, plus this order when it adds exposure."""
    max_open_orders: int | None = None
    max_orders_per_s: float | None = None
    """Token bucket: refills at this rate, holds at most max(1, rate) orders."""

    def __post_init__(self) -> None:
        for name in ("max_order_notional", "max_position_notional", "max_gross_exposure"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"risk.{name} must be > 0 (or absent), got {value}")
        if self.max_open_orders is not None and self.max_open_orders < 1:
            raise ValueError("risk.max_open_orders must be >= 1")
        if self.max_orders_per_s is not None and self.max_orders_per_s <= 0:
            raise ValueError("risk.max_orders_per_s must be > 0")


class RiskConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[risk]`` with ``[risk.account]`` and ``[risk.strategies.<name>]`` limit tables."""

    account: RiskLimits = msgspec.field(default_factory=lambda: RiskLimits(
        max_order_notional=Decimal(50_000), max_position_notional=Decimal(100_000),
        max_gross_exposure=Decimal(250_000), max_open_orders=200, max_orders_per_s=50.0))
    strategies: dict[str, RiskLimits] = msgspec.field(default_factory=dict)
    price_band_pct: Decimal | None = Decimal(5)
    """Limit and stop prices further than this from the last price are rejected."""
    require_price: bool = True
    """Reject orders on a symbol with no known last price (notional checks need one)."""
    leverage: Decimal = Decimal(1)
    """Buying power = equity x leverage - gross exposure (1 = cash only)."""
    allow_short: bool = False
    max_daily_loss_pct: Decimal | None = Decimal(5)
    daily_loss_action: GuardAction = "reducing"
    max_drawdown_pct: Decimal | None = Decimal(10)
    drawdown_action: GuardAction = "halted"
    profit_target_pct: Decimal | None = None
    profit_target_action: GuardAction = "reducing"
    warn_at_fraction: Decimal = Decimal("0.8")
    cancel_orders_on_halt: bool = True
    state_file: str = "risk_state.json"
    """Relative to ``engine.state_dir``; the persisted risk state (when not in the database)."""
    save_interval_s: float = 5.0
    """How often a rising high-water mark is persisted (state changes are saved at once)."""
    reject_alert_interval_s: float = 300.0
    """Repeats of a rejection (same strategy, symbol and check) within this many seconds of
    its last alert raise no alert of their own (each is still a ``risk_events`` row); the
    next alert after it says how many. 0: an alert for every rejection."""

    def __post_init__(self) -> None:
        for name in ("max_daily_loss_pct", "max_drawdown_pct", "profit_target_pct",
                     "price_band_pct"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"risk.{name} must be > 0 (or absent), got {value}")
        if self.leverage <= 0:
            raise ValueError(f"risk.leverage must be > 0, got {self.leverage}")
        if self.reject_alert_interval_s < 0:
            raise ValueError("risk.reject_alert_interval_s must be >= 0, got "
                             f"{self.reject_alert_interval_s}")
