"""Dollar-cost averaging: buy a fixed ``amount`` of quote currency every ``every_bars``
closed bars, never sell.

On every ``every_bars``-th closed bar of ``timeframe`` (the ``every_bars``-th, the
``2 * every_bars``-th, ...) it submits a market buy of ``amount / close`` rounded DOWN to a
multiple of ``qty_step``. With ``max_position`` the buy is cut so that the position, plus
what its working orders will still fill, does not exceed the cap (rounded down to
``qty_step`` too); a buy that rounds to zero is skipped. A buy that falls due while the
account's risk state is not ACTIVE (REDUCING or HALTED: a buy would be rejected) is skipped
too; the schedule goes on. Deterministic: it depends on the bars only (no clock, no
randomness), and the arithmetic is exact Decimal.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.intents import MarketOrder
from engine.model import Bar, to_decimal
from engine.strategy import Context, PositiveInt, RiskState, Strategy, StrategyConfig


class DcaConfig(StrategyConfig, frozen=True):
    """Parameters of :class:`Dca`."""

    symbol: str
    timeframe: str = "1m"
    amount: Decimal = Decimal("100")
    """Quote currency spent per buy."""
    every_bars: PositiveInt = 60
    qty_step: Decimal = Decimal("0.000001")
    """Quantities are rounded down to a multiple of this (the venue's lot step)."""
    max_position: Decimal | None = None
    """Optional cap on the position (base currency)."""

    def __post_init__(self) -> None:
        if not self.amount > 0:
            raise ValueError(f"amount must be > 0, got {self.amount}")
        if not self.qty_step > 0:
            raise ValueError(f"qty_step must be > 0, got {self.qty_step}")
        if self.max_position is not None and not self.max_position > 0:
            raise ValueError(f"max_position must be > 0, got {self.max_position}")


class Dca(Strategy[DcaConfig]):
    """Buys ``amount`` worth every ``every_bars`` bars, up to ``max_position``."""

    strategy_type = "dca"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bars_seen = 0
        """Closed bars of the configured symbol and timeframe seen so far."""

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        """Count the bar; on every ``every_bars``-th one, buy."""
        cfg = self.config
        if bar.timeframe != cfg.timeframe or bar.symbol != cfg.symbol or not bar.closed:
            return
        self.bars_seen += 1
        if self.bars_seen % cfg.every_bars or not bar.close > 0:
            return
        if ctx.risk_state is not RiskState.ACTIVE:
            ctx.log.info("buy %d skipped: the account is %s", self.bars_seen // cfg.every_bars,
                         ctx.risk_state.value)
            return
        step = cfg.qty_step
        # Decimal `//` is the exact integer part of the quotient: a true round-down.
        qty = cfg.amount // (to_decimal(bar.close) * step) * step
        if cfg.max_position is not None:
            # Buys still working (a market order may fill over several bars when the paper
            # model caps fills at the bar's volume) count towards the cap already.
            pending = sum((o.remaining_qty * o.side.sign for o in ctx.open_orders(cfg.symbol)),
                          Decimal(0))
            room = cfg.max_position - ctx.position(cfg.symbol) - pending
            qty = min(qty, room // step * step) if room > 0 else Decimal(0)
        if qty > 0:
            ctx.submit(MarketOrder(cfg.symbol, qty))

    def on_save(self) -> dict[str, Any]:
        """Hand the bar count over on hot reload, so the schedule does not restart."""
        return {"bars_seen": self.bars_seen}

    def on_load(self, state: dict[str, Any]) -> None:
        """Resume from the state :meth:`on_save` returned."""
        self.bars_seen = int(state.get("bars_seen", 0))
