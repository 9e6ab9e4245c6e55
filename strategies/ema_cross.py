"""EMA cross (momentum): long when the fast EMA is above the slow one; below it, flat
(or short with ``allow_short = true``, which the risk engine must allow too: ``[risk]
allow_short``).

Target position ``+qty``, or ``0`` (``-qty`` when shorting); each closed bar it moves the
position to the target with a market order (``ctx.order_target``: working orders towards the
target count, an order left working from before a flip is cancelled). No order until the
slow EMA is ready.
"""

from __future__ import annotations

from decimal import Decimal

from engine.model import Bar
from engine.strategy import Context, PositiveInt, Strategy, StrategyConfig

_ZERO = Decimal(0)


class EmaCrossConfig(StrategyConfig, frozen=True):
    """Parameters of :class:`EmaCross`."""

    symbol: str
    timeframe: str = "1m"
    fast: PositiveInt = 10
    slow: PositiveInt = 20
    qty: Decimal = Decimal("0.01")
    allow_short: bool = False

    def __post_init__(self) -> None:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be < slow ({self.slow})")
        if self.qty <= 0:
            raise ValueError(f"qty must be > 0, got {self.qty}")


class EmaCross(Strategy[EmaCrossConfig]):
    """Trend following on two EMAs."""

    strategy_type = "momentum"

    def on_start(self, ctx: Context) -> None:
        """Create the two EMAs and the two target positions."""
        cfg = self.config
        self.fast = ctx.indicators.ema(cfg.symbol, cfg.timeframe, cfg.fast)
        self.slow = ctx.indicators.ema(cfg.symbol, cfg.timeframe, cfg.slow)
        self.long_target = cfg.qty
        self.short_target = -cfg.qty if cfg.allow_short else _ZERO

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        """Move the position to the side the EMAs point to."""
        target = self.target(bar)
        if target is not None:
            ctx.order_target(self.config.symbol, target)

    def target(self, bar: Bar) -> Decimal | None:
        """The position ``bar`` calls for (None: another timeframe's bar, or the slow EMA
        is not ready)."""
        if bar.timeframe != self.config.timeframe or not self.slow.ready:
            return None
        return self.long_target if self.fast.value > self.slow.value else self.short_target
