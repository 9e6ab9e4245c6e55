"""Strategies the benches load by ``module:Class`` path (``scripts/benches`` on the path)."""

from __future__ import annotations

from decimal import Decimal

from engine.model import Bar
from engine.strategy import Context
from strategies.ema_cross import EmaCross


class EmaWatch(EmaCross):
    """EMA cross's per-bar reads without ever ordering: the same EMAs and target
    (:meth:`EmaCross.target`), and what ``ctx.order_target`` reads (position, working
    orders). What the engine costs per bar before any order exists; what EMA cross costs
    beyond it is the orders (and the marks of bars that hold a position)."""

    wanted = Decimal(0)

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        """Work out EMA cross's order and keep it; never send it."""
        target = self.target(bar)
        if target is not None:
            symbol = self.config.symbol
            if not ctx.open_orders(symbol):
                self.wanted = target - ctx.position(symbol)
