"""RSI momentum: long when the RSI crosses above ``entry``, flat when it falls below ``exit``.

Target position ``+qty`` from the bar on which RSI(``period``) crosses above ``entry`` (the
previous value at or below it, this one above) until the first bar on which it closes below
``exit``; ``0`` otherwise. Long/flat only: it never sells short. Each closed bar of
``timeframe`` it moves the position to the target (``ctx.order_target``: working orders
towards it count, one left from before a flip is cancelled). Every entry and exit emits a
signal whose reasoning holds the RSI that fired it. No order until the RSI is ready.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from engine.model import Bar, SignalDirection
from engine.strategy import Context, PositiveInt, Strategy, StrategyConfig


class RsiMomentumConfig(StrategyConfig, frozen=True):
    """Parameters of :class:`RsiMomentum`."""

    symbol: str
    timeframe: str = "1m"
    period: PositiveInt = 14
    entry: float = 55.0
    exit: float = 45.0
    qty: Decimal = Decimal("0.01")

    def __post_init__(self) -> None:
        if not 0 < self.exit < self.entry < 100:
            raise ValueError(
                f"need 0 < exit < entry < 100, got exit={self.exit}, entry={self.entry}")
        if self.qty <= 0:
            raise ValueError(f"qty must be > 0, got {self.qty}")


class RsiMomentum(Strategy[RsiMomentumConfig]):
    """Momentum on the Wilder RSI, with an entry/exit hysteresis band."""

    strategy_type = "momentum"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.long = False
        """True between an entry and the next exit."""
        self.prev_rsi = math.nan
        """The RSI of the previous bar (NaN before the first ready one)."""

    def on_start(self, ctx: Context) -> None:
        """Create the RSI; a position held at start means in."""
        cfg = self.config
        self.rsi = ctx.indicators.rsi(cfg.symbol, cfg.timeframe, cfg.period)
        if not self.long and ctx.position(cfg.symbol) > 0:
            # holding from a run whose state was not saved (an upgrade, a crash within a
            # second of the entry): in, not out, or its first bar would sell the position
            self.long = True
            ctx.log.info("holding %s at start: in the position", cfg.symbol)

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        """Enter on a cross above ``entry``, exit below ``exit``, keep the position on target."""
        cfg = self.config
        if bar.timeframe != cfg.timeframe or bar.symbol != cfg.symbol or not self.rsi.ready:
            return
        rsi, prev = self.rsi.value, self.prev_rsi
        self.prev_rsi = rsi
        if not self.long and prev <= cfg.entry < rsi:  # False while prev is NaN
            self.long = True
            ctx.emit_signal(cfg.symbol, SignalDirection.LONG, (rsi - cfg.entry) / (100 - cfg.entry),
                            {"rsi": rsi})
        elif self.long and rsi < cfg.exit:
            self.long = False
            ctx.emit_signal(cfg.symbol, SignalDirection.FLAT, (cfg.exit - rsi) / cfg.exit,
                            {"rsi": rsi})
        # working orders towards the target count; one left from before a flip is cancelled
        ctx.order_target(cfg.symbol, cfg.qty if self.long else Decimal(0))

    def on_save(self) -> dict[str, Any]:
        """Hand the entry state and the last RSI over on hot reload."""
        return {"long": self.long, "prev_rsi": self.prev_rsi}

    def on_load(self, state: dict[str, Any]) -> None:
        """Resume from the state :meth:`on_save` returned."""
        self.long = bool(state.get("long", False))
        prev = state.get("prev_rsi")  # NaN (not ready) is saved as null
        self.prev_rsi = math.nan if prev is None else float(prev)
