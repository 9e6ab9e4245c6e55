"""One strategy as the host keeps it: the loaded instance, its context, its time budget,
the hooks it overrides, and whether and why it is halted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from engine.model import Bar
from engine.plugins import LoadedStrategy
from engine.strategy import Strategy
from engine.strategy_context import StrategyContext

__all__ = ["DEFAULT_BUDGET_MS", "DISABLED", "StrategySlot"]

DISABLED: Final = "disabled in config"
"""The halt reason of a strategy whose table says ``enabled = false``."""
DEFAULT_BUDGET_MS: Final = 250.0
"""A hook's time budget when its table sets no ``budget_ms``."""


@dataclass(slots=True)
class StrategySlot:
    loaded: LoadedStrategy
    context: StrategyContext
    budget_ns: int
    symbols: frozenset[str] = frozenset()
    # The optional hooks the strategy overrides (the others are not called at all).
    wants_trades: bool = False
    wants_fills: bool = False
    wants_updates: bool = False
    halted: str | None = None
    failed: bool = False
    """Halted by the guard (a hook raised or ran over its budget), not by an operator."""
    halted_at_ns: int = 0
    """The clock's time when it was halted (simulated in a backtest)."""
    calls: int = 0
    errors: int = 0
    slowest_ns: int = 0
    over_budget: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    on_bar: Callable[[StrategyContext, Bar], None] = field(init=False, repr=False)
    """The strategy's ``on_bar``, bound once (called on every bar)."""

    def __post_init__(self) -> None:
        strategy = self.loaded.strategy
        kind = type(strategy)
        self.on_bar = strategy.on_bar
        self.symbols = frozenset(strategy.symbols())
        self.wants_trades = kind.on_trade is not Strategy.on_trade
        self.wants_fills = kind.on_fill is not Strategy.on_fill
        self.wants_updates = kind.on_order_update is not Strategy.on_order_update
