"""EMA cross (momentum): long when the fast EMA is above the slow one; below it, flat
(or short with ``allow_short = true``, which the risk engine must allow too: ``[risk]
allow_short``).

Target position ``+qty``, or ``0`` (``-qty`` when shorting); each closed bar it submits the
market order that moves the position, plus what its working orders will still fill, to the
target. No order until the slow EMA is ready.
"""

from __future__ import annotations

from decimal import Decimal

from engine.intents import MarketOrder
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
        delta = self.order_delta(ctx, bar)
        if delta:
            ctx.submit(MarketOrder(self.config.symbol, delta))

    def order_delta(self, ctx: Context, bar: Bar) -> Decimal:
        """The market order ``bar`` calls for (0: none, or the slow EMA is not ready)."""
        cfg = self.config
        if bar.timeframe != cfg.timeframe or not self.slow.ready:
            return _ZERO
        target = self.long_target if self.fast.value > self.slow.value else self.short_target
        position = ctx.position(cfg.symbol)
        # Orders still working (a market order may fill over several bars when the paper
        # model caps fills at the bar's volume) count towards the target already.
        working = ctx.open_orders(cfg.symbol)
        if not working:
            return _ZERO if target == position else target - position
        for order in working:
            position += order.remaining_qty * order.side.sign
        return target - position
