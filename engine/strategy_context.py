"""What a strategy sees and acts through: its :class:`StrategyContext` (the read-only view
and the only way to act), over the :class:`StrategyActions` the trading stack provides."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from engine.bus import MessageBus
from engine.clock import Clock
from engine.ids import OrderId, StrategyId, Symbol
from engine.intents import MarketOrder
from engine.model import Order, OrderType, Signal, SignalDirection
from engine.risk.state import RiskState
from engine.strategy import IndicatorSource

__all__ = ["StrategyActions", "StrategyContext"]

_ZERO = Decimal(0)
_ACTIVE = RiskState.ACTIVE
_MOVES = frozenset({OrderType.MARKET, OrderType.TWAP, OrderType.VWAP})
"""The orders :meth:`StrategyContext.order_target` counts and cancels (it sends market
orders; limits and stops are the strategy's own)."""


class StrategyActions(Protocol):
    """What the order side of the engine offers strategies (OMS, risk, portfolio)."""

    def submit(self, strategy_id: StrategyId, intent: Any) -> OrderId | None:
        """Risk-check and submit; None when rejected."""
        ...

    def cancel(self, strategy_id: StrategyId, order_id: OrderId) -> None:
        """Cancel one order of the strategy."""
        ...

    def cancel_all(self, strategy_id: StrategyId) -> int:
        """Cancel every working order of the strategy; the number cancelled."""
        ...

    def position(self, strategy_id: StrategyId, symbol: str) -> Decimal:
        """The strategy's net position."""
        ...

    def open_orders(self, strategy_id: StrategyId, symbol: str | None) -> list[Order]:
        """The strategy's working orders."""
        ...

    def cash(self) -> Decimal:
        """Account cash."""
        ...

    def equity(self) -> Decimal:
        """Account equity."""
        ...

    def risk_state(self) -> RiskState:
        """The account's risk state: what new orders it accepts."""
        ...


class StrategyContext:
    """The concrete :class:`~engine.strategy.Context` given to one strategy."""

    def __init__(
        self,
        strategy_id: StrategyId,
        *,
        clock: Clock,
        bus: MessageBus,
        indicators: IndicatorSource,
        actions: StrategyActions,
        bars: Callable[[str, str], Any],
    ) -> None:
        self.strategy_id = strategy_id
        self.clock = clock
        self.indicators = indicators
        self.log: logging.Logger | logging.LoggerAdapter[logging.Logger] = (
            logging.LoggerAdapter(logging.getLogger(f"strategy.{strategy_id}"),
                                  {"strategy": strategy_id}))
        self._bus = bus
        self._actions = actions
        self._bars = bars
        self._position = actions.position
        self._open_orders = actions.open_orders

    def bars(self, symbol: str, timeframe: str) -> Any:
        """See :meth:`engine.strategy.Context.bars`."""
        return self._bars(symbol, timeframe)

    def position(self, symbol: str) -> Decimal:
        """See :meth:`engine.strategy.Context.position`."""
        return self._position(self.strategy_id, symbol)

    @property
    def cash(self) -> Decimal:
        """See :attr:`engine.strategy.Context.cash`."""
        return self._actions.cash()

    @property
    def equity(self) -> Decimal:
        """See :attr:`engine.strategy.Context.equity`."""
        return self._actions.equity()

    @property
    def risk_state(self) -> RiskState:
        """See :attr:`engine.strategy.Context.risk_state`."""
        return self._actions.risk_state()

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """See :meth:`engine.strategy.Context.open_orders`."""
        return self._open_orders(self.strategy_id, symbol)

    def submit(self, intent: Any) -> OrderId | None:
        """See :meth:`engine.strategy.Context.submit`."""
        return self._actions.submit(self.strategy_id, intent)

    def cancel(self, order_id: OrderId) -> None:
        """See :meth:`engine.strategy.Context.cancel`."""
        self._actions.cancel(self.strategy_id, order_id)

    def order_target(self, symbol: str, target: Decimal) -> OrderId | None:
        """See :meth:`engine.strategy.Context.order_target`."""
        position = self._position(self.strategy_id, symbol)
        working = self._open_orders(self.strategy_id, symbol)
        if not working and target == position:  # a comparison allocates nothing
            return None  # the common case, every bar: nothing to do in any risk state
        gap = target - position
        state = self._actions.risk_state()
        if state is not _ACTIVE:
            if state is RiskState.HALTED:
                return None  # only cancels are accepted: the halt has its own cancel policy
            # REDUCING: only towards flat, never past it
            target = max(min(target, position), _ZERO) if position > 0 else min(
                max(target, position), _ZERO)
            gap = target - position
        if not working:
            return self.submit(MarketOrder(symbol, gap)) if gap else None
        ids = {o.id for o in working}
        toward, moving = _ZERO, []
        away: list[Order] = []
        for order in working:
            if order.type not in _MOVES or (order.parent_id is not None
                                            and order.parent_id in ids):
                continue  # a limit or a stop; or an algo's slice, counted with its parent
            qty = order.remaining_qty if order.side.sign > 0 else -order.remaining_qty
            if gap and (qty > 0) == (gap > 0):
                toward += qty
                moving.append(order)
            else:
                away.append(order)
        if abs(toward) > abs(gap):  # together they would carry it past the target
            away += moving
            toward = _ZERO
        for order in away:  # live, one still on its way is not sent again (the OMS)
            self.cancel(order.id)
        delta = gap - toward
        return self.submit(MarketOrder(symbol, delta)) if delta else None

    def emit_signal(self, symbol: str, direction: SignalDirection, strength: float,
                    reasoning: dict[str, Any] | None = None) -> Signal:
        """See :meth:`engine.strategy.Context.emit_signal`."""
        signal = Signal(strategy_id=self.strategy_id, symbol=Symbol(symbol), direction=direction,
                        strength=strength, ts_ns=self.clock.now_ns(), reasoning=reasoning or {})
        self._bus.publish(signal)
        return signal
