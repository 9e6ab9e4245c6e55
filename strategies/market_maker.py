"""Market maker (market_making): a bid and an ask around each closed bar's close, skewed
by inventory.

Each closed bar it cancels its working quotes, then quotes ``qty`` on each side::

    shift = -skew_bps * position / max_position          (bps; long -> quotes move down)
    bid   = close * (1 + (shift - spread_bps) / 10_000)   rounded down to ``tick``
    ask   = close * (1 + (shift + spread_bps) / 10_000)   rounded up to ``tick``

``spread_bps`` is the half-spread. No bid when ``position + qty`` would exceed
``max_position``; no ask when ``position - qty`` would go below ``-max_position`` (below
zero unless ``allow_short``, which the risk engine must allow too: ``[risk] allow_short``).
The position used is the one after this bar's fills (the paper matcher fills resting
quotes against a bar before the strategy sees it). While the account's risk state is
REDUCING only the side that unwinds the position is quoted (at most the position); while
it is HALTED nothing is quoted. Quotes are GTC limits: a quote that is
marketable on arrival takes the market price, else it rests and fills at its price.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from engine.intents import LimitOrder
from engine.model import Bar, to_decimal
from engine.strategy import Context, RiskState, Strategy, StrategyConfig

_TENK = Decimal(10_000)


class MarketMakerConfig(StrategyConfig, frozen=True):
    """Parameters of :class:`MarketMaker`."""

    symbol: str
    timeframe: str = "1m"
    spread_bps: Decimal = Decimal(10)
    """Half-spread: each quote sits this far from the (skewed) close."""
    skew_bps: Decimal = Decimal(0)
    """Shift of both quotes at a full ``max_position`` inventory (against the inventory)."""
    qty: Decimal = Decimal("0.01")
    max_position: Decimal = Decimal("0.05")
    tick: Decimal = Decimal("0.01")
    allow_short: bool = False

    def __post_init__(self) -> None:
        if self.spread_bps <= 0:
            raise ValueError(f"spread_bps must be > 0, got {self.spread_bps}")
        if self.skew_bps < 0:
            raise ValueError(f"skew_bps must be >= 0, got {self.skew_bps}")
        if self.qty <= 0:
            raise ValueError(f"qty must be > 0, got {self.qty}")
        if self.max_position < self.qty:
            raise ValueError(
                f"max_position must be >= qty, got max_position={self.max_position}, "
                f"qty={self.qty}")
        if self.tick <= 0:
            raise ValueError(f"tick must be > 0, got {self.tick}")


def quotes(close: Decimal, position: Decimal, cfg: MarketMakerConfig) -> tuple[Decimal, Decimal]:
    """The (bid, ask) prices for ``close`` at inventory ``position``."""
    shift = -cfg.skew_bps * position / cfg.max_position
    bid = close * (1 + (shift - cfg.spread_bps) / _TENK)
    ask = close * (1 + (shift + cfg.spread_bps) / _TENK)
    return (bid / cfg.tick).to_integral_value(ROUND_FLOOR) * cfg.tick, (
        ask / cfg.tick).to_integral_value(ROUND_CEILING) * cfg.tick


class MarketMaker(Strategy[MarketMakerConfig]):
    """Two-sided quoting around the last close with an inventory skew."""

    strategy_type = "market_making"

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        """Replace the quotes: cancel what works, quote both sides within the limits."""
        cfg = self.config
        if bar.timeframe != cfg.timeframe:
            return
        symbol = cfg.symbol
        for order in ctx.open_orders(symbol):
            ctx.cancel(order.id)
        state = ctx.risk_state
        if state is RiskState.HALTED:
            return
        position = ctx.position(symbol)
        bid, ask = quotes(to_decimal(bar.close), position, cfg)
        if state is RiskState.REDUCING:  # unwind only
            if position:
                qty = min(cfg.qty, abs(position))
                ctx.submit(LimitOrder(symbol, qty, bid, reduce_only=True) if position < 0
                           else LimitOrder(symbol, -qty, ask, reduce_only=True))
            return
        floor = -cfg.max_position if cfg.allow_short else Decimal(0)
        if position + cfg.qty <= cfg.max_position:
            ctx.submit(LimitOrder(symbol, cfg.qty, bid))
        if position - cfg.qty >= floor:
            ctx.submit(LimitOrder(symbol, -cfg.qty, ask))
