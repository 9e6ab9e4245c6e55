"""Strategies the benches load by ``module:Class`` path (``scripts/benches`` on the path)."""

from __future__ import annotations

from decimal import Decimal

from engine.model import Bar
from engine.strategy import Context, Strategy
from strategies.ema_cross import EmaCrossConfig


class EmaWatch(Strategy[EmaCrossConfig]):
    """EMA cross's per-bar reads without ever ordering: the same two EMAs and comparison,
    the strategy's position and working orders, the same target arithmetic. What the
    engine costs per bar before any order exists; what EMA cross costs beyond it is the
    orders (and the marks of bars that hold a position)."""

    def on_start(self, ctx: Context) -> None:
        """Create the two EMAs."""
        cfg = self.config
        self.fast = ctx.indicators.ema(cfg.symbol, cfg.timeframe, cfg.fast)
        self.slow = ctx.indicators.ema(cfg.symbol, cfg.timeframe, cfg.slow)
        self.above = 0
        self.wanted = Decimal(0)

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        """Compare the EMAs; count the bars the fast one is above."""
        if bar.timeframe != self.config.timeframe or not self.slow.ready:
            return
        qty = self.config.qty
        if self.fast.value > self.slow.value:
            self.above += 1
            target = qty
        else:
            target = -qty if self.config.allow_short else Decimal(0)
        symbol = self.config.symbol
        delta = target - ctx.position(symbol)
        working = ctx.open_orders(symbol)
        if working:
            delta -= sum((o.remaining_qty * o.side.sign for o in working), Decimal(0))
        self.wanted = delta  # what EMA cross would order; never sent
