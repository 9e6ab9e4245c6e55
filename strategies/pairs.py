"""Pairs trading (statistical_arbitrage) on two symbols ``symbols = [A, B]``.

The spread of one minute is ``log(close_A) - beta * log(close_B)`` (fixed ``beta``); its
z-score is taken over the last ``period`` spreads, the current one included, against
their mean and population standard deviation (ddof = 0). The strategy keeps these spreads
itself (a deque), one per minute for which both symbols' closed bars are in; a minute in
which one symbol has no bar is skipped. It acts on the second of the two bars of a minute
(the backtest merges the files in time order; live, whichever arrives last).

States: flat, short spread (``-qty_a`` A, ``+qty_b`` B) and long spread (``+qty_a`` A,
``-qty_b`` B). Flat: z > ``entry_z`` enters short spread, z < ``-entry_z`` long spread.
In a position: |z| < ``exit_z`` goes flat (both legs); there is no direct flip. Each leg
is moved to the state's target by ``ctx.order_target`` (working orders towards it count,
so partial fills never over-order; one left from before a change of state is cancelled).
Shorting a leg needs ``[risk] allow_short = true``.
"""

from __future__ import annotations

import math
from collections import deque
from decimal import Decimal

from engine.ids import StrategyId
from engine.model import Bar
from engine.strategy import Context, PositiveInt, Strategy, StrategyConfig


class PairsConfig(StrategyConfig, frozen=True):
    """Parameters of :class:`Pairs`."""

    symbols: list[str]
    timeframe: str = "1m"
    beta: float = 1.0
    period: PositiveInt = 60
    entry_z: float = 2.0
    exit_z: float = 0.5
    qty_a: Decimal = Decimal("0.01")
    qty_b: Decimal = Decimal("0.1")

    def __post_init__(self) -> None:
        if len(self.symbols) != 2 or self.symbols[0] == self.symbols[1]:
            raise ValueError(f"symbols must be two different symbols [A, B], got {self.symbols}")
        if self.period < 2:
            raise ValueError(f"period must be >= 2, got {self.period}")
        if not 0 <= self.exit_z < self.entry_z:
            raise ValueError(
                f"need 0 <= exit_z < entry_z, got exit_z={self.exit_z}, entry_z={self.entry_z}")
        if not math.isfinite(self.beta):
            raise ValueError(f"beta must be finite, got {self.beta}")
        if self.qty_a <= 0 or self.qty_b <= 0:
            raise ValueError(f"qty_a and qty_b must be > 0, got {self.qty_a}, {self.qty_b}")


class Pairs(Strategy[PairsConfig]):
    """Mean reversion of the log-price spread of two symbols."""

    strategy_type = "statistical_arbitrage"

    def sells_short(self) -> bool:
        """Always: one leg of every position is short."""
        return True

    def __init__(self, strategy_id: StrategyId, config: PairsConfig) -> None:
        super().__init__(strategy_id, config)
        # State lives here, not in on_start: on hot reload on_load runs before on_start.
        self.spreads: deque[float] = deque(maxlen=self.config.period)
        self.last: dict[str, tuple[int, float]] = {}  # symbol -> (bar open ns, close)
        self.state = 0  # +1 long spread, -1 short spread, 0 flat
        self.z = math.nan

    def on_start(self, ctx: Context) -> None:
        """A position held at start (from a run whose state was not saved: an upgrade, a
        crash within a second of the entry) sets the state, or the first bar would close it."""
        held = ctx.position(self.config.symbols[0])
        if self.state == 0 and held:
            self.state = 1 if held > 0 else -1
            ctx.log.info("holding the pair at start: state %+d", self.state)

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        """Record the close; once both symbols' bars of this minute are in, act."""
        cfg = self.config
        if bar.timeframe != cfg.timeframe:
            return
        a, b = cfg.symbols
        self.last[str(bar.symbol)] = (bar.ts_ns, float(bar.close))
        la, lb = self.last.get(a), self.last.get(b)
        if la is None or lb is None or la[0] != lb[0]:
            return
        self.spreads.append(math.log(la[1]) - cfg.beta * math.log(lb[1]))
        if len(self.spreads) < cfg.period:
            return
        mean = sum(self.spreads) / len(self.spreads)
        std = math.sqrt(sum((s - mean) ** 2 for s in self.spreads) / len(self.spreads))
        if std == 0:
            return
        self.z = z = (self.spreads[-1] - mean) / std
        if self.state == 0:
            if z > cfg.entry_z:
                self.state = -1
            elif z < -cfg.entry_z:
                self.state = 1
        elif abs(z) < cfg.exit_z:
            self.state = 0
        ctx.order_target(a, self.state * cfg.qty_a)
        ctx.order_target(b, -self.state * cfg.qty_b)

    def on_save(self) -> dict[str, object]:
        """Hand the spread window and the state to a reloaded version."""
        return {"spreads": list(self.spreads), "state": self.state}

    def on_load(self, state: dict[str, object]) -> None:
        """Take over the spread window and the state."""
        spreads = state.get("spreads")
        if isinstance(spreads, list):
            self.spreads = deque((float(s) for s in spreads), maxlen=self.config.period)
        st = state.get("state")
        if isinstance(st, int):
            self.state = st
