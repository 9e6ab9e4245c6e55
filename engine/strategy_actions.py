"""What strategies may do, over the trading stack: :class:`StackActions`, the
``StrategyActions`` every strategy context acts through.

Compiled (:mod:`engine.native`): a strategy asks its position and open orders on every bar,
so these reads are native calls on the portfolio's and the order book's own tables.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engine.ids import OrderId, StrategyId
from engine.model import Order, OrderStatus
from engine.oms.commands import SubmitOrder
from engine.risk.state import RiskState

if TYPE_CHECKING:
    from engine.oms.book import OrderBook
    from engine.oms.stack import TradingStack

__all__ = ["StackActions"]


class StackActions:
    """What strategies may do, over the trading stack (``StrategyActions``)."""

    position: Callable[[StrategyId | None, str], Decimal]
    """The strategy's own net position: the portfolio's ``strategy_position`` itself (a
    strategy asks it on every bar)."""

    def __init__(self, stack: TradingStack) -> None:
        self._stack = stack
        self.position = stack.portfolio.strategy_position
        self._open_orders: Callable[[StrategyId | None], list[Order]] = stack.oms.open_orders
        self._book: OrderBook = stack.oms.book

    def submit(self, strategy_id: StrategyId, intent: Any) -> OrderId | None:
        """Submit with the strategy's id attached; None when rejected."""
        if not isinstance(intent, SubmitOrder):
            raise TypeError(f"submit takes a SubmitOrder (engine.intents), got {intent!r}")
        order = self._stack.submit(intent, strategy_id=strategy_id)
        return None if order.status is OrderStatus.REJECTED else order.id

    def cancel(self, strategy_id: StrategyId, order_id: OrderId) -> None:
        """Cancel one of the strategy's orders."""
        order = self._stack.oms.get(order_id)
        if order is None or order.strategy_id != strategy_id:
            raise ValueError(f"order {order_id} is not an order of strategy {strategy_id}")
        self._stack.cancel(order_id)

    def cancel_all(self, strategy_id: StrategyId) -> int:
        """Cancel every working order of the strategy."""
        return self._stack.oms.cancel_all(strategy_id=strategy_id, reason="strategy halted")

    def open_orders(self, strategy_id: StrategyId, symbol: str | None) -> list[Order]:
        """The strategy's working orders."""
        if not self._book.open_count(strategy_id, account=False):
            return []
        orders = self._open_orders(strategy_id)
        if symbol is None:
            return orders
        return [o for o in orders if o.symbol == symbol]

    def cash(self) -> Decimal:
        """Account cash."""
        return Decimal(self._stack.portfolio.cash)

    def equity(self) -> Decimal:
        """Account equity."""
        return self._stack.portfolio.equity()

    def risk_state(self) -> RiskState:
        """The account's risk state."""
        return self._stack.risk.state
