"""Strategies the benches load by ``module:Class`` path (``scripts/benches`` on the path)."""

from __future__ import annotations

from engine.model import Bar
from engine.strategy import Context, Strategy
from strategies.ema_cross import EmaCrossConfig


class EmaWatch(Strategy[EmaCrossConfig]):
    """EMA cross's per-bar reads (the same two EMAs, the same comparison) without ever
    ordering: what the engine costs per bar before any order exists."""

    def on_start(self, ctx: Context) -> None:
        """Create the two EMAs."""
        cfg = self.config
        self.fast = ctx.indicators.ema(cfg.symbol, cfg.timeframe, cfg.fast)
        self.slow = ctx.indicators.ema(cfg.symbol, cfg.timeframe, cfg.slow)
        self.above = 0

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        """Compare the EMAs; count the bars the fast one is above."""
        if bar.timeframe != self.config.timeframe or not self.slow.ready:
            return
        if self.fast.value > self.slow.value:
            self.above += 1
