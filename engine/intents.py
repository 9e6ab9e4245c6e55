"""Shorthands for strategies: signed quantities in, :class:`~engine.oms.commands.SubmitOrder` out.

``MarketOrder("BTC/USDT", Decimal("-0.5"))`` sells 0.5; the sign picks the side, so a
strategy computes ``delta = target - position`` and submits it as it is.
"""

from __future__ import annotations

from decimal import Decimal

from engine.ids import Symbol
from engine.model import OrderSide, OrderType, TimeInForce
from engine.oms.commands import SubmitOrder

__all__ = ["LimitOrder", "MarketOrder", "StopOrder"]


def _side_qty(qty: Decimal) -> tuple[OrderSide, Decimal]:
    if not isinstance(qty, Decimal):
        raise TypeError(f"quantities are Decimal, got {type(qty).__name__} {qty!r}")
    if qty == 0:
        raise ValueError("order quantity must not be zero")
    return (OrderSide.BUY, qty) if qty > 0 else (OrderSide.SELL, -qty)


def MarketOrder(symbol: str, qty: Decimal, *, reduce_only: bool = False) -> SubmitOrder:  # noqa: N802
    """Buy (qty > 0) or sell (qty < 0) at market."""
    side, size = _side_qty(qty)
    return SubmitOrder(symbol=Symbol(symbol), side=side, qty=size, type=OrderType.MARKET,
                       reduce_only=reduce_only)


def LimitOrder(symbol: str, qty: Decimal, price: Decimal,  # noqa: N802
               tif: TimeInForce = TimeInForce.GTC, *, reduce_only: bool = False) -> SubmitOrder:
    """A limit order at ``price``."""
    side, size = _side_qty(qty)
    return SubmitOrder(symbol=Symbol(symbol), side=side, qty=size, type=OrderType.LIMIT,
                       limit_price=price, time_in_force=tif, reduce_only=reduce_only)


def StopOrder(symbol: str, qty: Decimal, stop: Decimal, *,  # noqa: N802
              limit: Decimal | None = None, reduce_only: bool = True) -> SubmitOrder:
    """A stop-loss (market when triggered) or, with ``limit``, a stop-limit."""
    side, size = _side_qty(qty)
    kind = OrderType.STOP_LOSS if limit is None else OrderType.STOP_LIMIT
    return SubmitOrder(symbol=Symbol(symbol), side=side, qty=size, type=kind, stop_price=stop,
                       limit_price=limit, reduce_only=reduce_only)
