"""Bollinger reversion (mean reversion): long when the close falls below the lower band,
back to flat when the close reaches the middle band.

Target position ``+qty`` from the bar whose close is below the lower band of
BBANDS(``period``, ``nbdev``) until the first bar whose close is at or above the middle
band (the ``period`` SMA); ``0`` otherwise. Long/flat only: it never sells short. Each
closed bar of ``timeframe`` it moves the position to the target (``ctx.order_target``:
working orders towards it count, one left from before a flip is cancelled). No order
until the bands are ready.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.model import Bar
from engine.strategy import Context, PositiveInt, Strategy, StrategyConfig


class BollingerReversionConfig(StrategyConfig, frozen=True):
    """Parameters of :class:`BollingerReversion`."""

    symbol: str
    timeframe: str = "1m"
    period: PositiveInt = 20
    nbdev: float = 2.0
    qty: Decimal = Decimal("0.01")

    def __post_init__(self) -> None:
        if self.period < 2:
            raise ValueError(f"period must be >= 2, got {self.period}")
        if not self.nbdev > 0:
            raise ValueError(f"nbdev must be > 0, got {self.nbdev}")
        if self.qty <= 0:
            raise ValueError(f"qty must be > 0, got {self.qty}")


class BollingerReversion(Strategy[BollingerReversionConfig]):
    """Buys a close below the lower Bollinger band, sells when price is back at the mean."""

    strategy_type = "mean_reversion"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.long = False
        """True between a close below the lower band and a close back at the middle."""

    def on_start(self, ctx: Context) -> None:
        """Create the bands; a position held at start means in."""
        cfg = self.config
        _, self.middle, self.lower = ctx.indicators.bbands(
            cfg.symbol, cfg.timeframe, cfg.period, cfg.nbdev)
        if not self.long and ctx.position(cfg.symbol) > 0:
            # holding from a run whose state was not saved (an upgrade, a crash within a
            # second of the entry): in, not out, or its first bar would sell the position
            self.long = True
            ctx.log.info("holding %s at start: in the position", cfg.symbol)

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        """Enter below the lower band, exit at the middle, keep the position on target."""
        cfg = self.config
        if bar.timeframe != cfg.timeframe or bar.symbol != cfg.symbol or not self.lower.ready:
            return
        if not self.long and bar.close < self.lower.value:
            self.long = True
        elif self.long and bar.close >= self.middle.value:
            self.long = False
        # working orders towards the target count; one left from before a flip is cancelled
        ctx.order_target(cfg.symbol, cfg.qty if self.long else Decimal(0))

    def on_save(self) -> dict[str, Any]:
        """Hand the entry state over on hot reload."""
        return {"long": self.long}

    def on_load(self, state: dict[str, Any]) -> None:
        """Resume from the state :meth:`on_save` returned."""
        self.long = bool(state.get("long", False))
