"""Bars, orders and fills as ``msgspec.Struct``: what :mod:`engine.model` uses when the hot
modules run as pure Python (no compiled build, or ``TRADEENGINE_NATIVE=0``).

The same contract as :mod:`engine.model_native` (fields, defaults, the OMS's version
methods, ``replace``, ``to_dict``, value equality with a bar's NaN equal to NaN, frozen),
checked for both by ``tests/engine/test_model_native.py``. Interpreted, a Python
``__init__`` that sets 23 frozen fields costs about 2 us where msgspec builds the struct in
C in 0.12 us; compiled, the native class is the cheaper one. So each build gets the class
that is fast in it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar, Final, Self

import msgspec

from engine.enums import LiquiditySide, OrderSide, OrderStatus, OrderType, TimeInForce
from engine.ids import ClientOrderId, FillId, OrderId, StrategyId, Symbol, Venue
from engine.model_fields import bar_key, replaced_values

__all__ = ["Bar", "Fill", "Order"]

_ZERO: Final = Decimal(0)
_replace: Final = msgspec.structs.replace


class _Record(msgspec.Struct, frozen=True, gc=False):
    """What the three records share: their field names and the field-wise methods."""

    FIELDS: ClassVar[tuple[str, ...]]
    """The fields in constructor order."""

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` (field names) applied; the OMS uses the version
        methods of :class:`Order`."""
        return type(self)(*replaced_values(self, self.FIELDS, changes))

    def to_dict(self) -> dict[str, Any]:
        """The fields by name, in constructor order (what the encoders write)."""
        return msgspec.structs.asdict(self)

    def values(self) -> tuple[Any, ...]:
        """The fields' values in constructor (``FIELDS``) order."""
        return msgspec.structs.astuple(self)


class Order(_Record, frozen=True, gc=False):
    """An order as the engine knows it at one moment; a new version is a new object."""

    id: OrderId
    client_order_id: ClientOrderId
    venue: Venue
    symbol: Symbol
    side: OrderSide
    type: OrderType
    qty: Decimal
    created_ns: int
    strategy_id: StrategyId | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    reduce_only: bool = False
    parent_id: OrderId | None = None
    status: OrderStatus = OrderStatus.PENDING
    filled_qty: Decimal = _ZERO
    avg_fill_price: Decimal | None = None
    fee: Decimal = _ZERO
    fee_currency: str | None = None
    exchange_order_id: str | None = None
    reject_reason: str | None = None
    updated_ns: int = 0
    version: int = 1

    def accepted(self, status: OrderStatus, exchange_order_id: str | None, ts_ns: int,
                 version: int) -> Order:
        """The version after the venue (or the emulator) accepted it."""
        return _replace(self, status=status, exchange_order_id=exchange_order_id,
                        updated_ns=ts_ns, version=version)

    def with_exchange_id(self, exchange_order_id: str | None) -> Order:
        """The same version with the venue's order id."""
        return _replace(self, exchange_order_id=exchange_order_id)

    def closed(self, status: OrderStatus, reject_reason: str | None, ts_ns: int,
               version: int) -> Order:
        """The version that ends it (cancelled, rejected, expired)."""
        return _replace(self, status=status, reject_reason=reject_reason, updated_ns=ts_ns,
                        version=version)

    def touched(self, ts_ns: int, version: int) -> Order:
        """A new version with nothing changed but its time and number (a stop triggered)."""
        return _replace(self, updated_ns=ts_ns, version=version)

    def filled(self, status: OrderStatus, filled_qty: Decimal, avg_fill_price: Decimal,
               fee: Decimal, fee_currency: str | None, ts_ns: int, version: int) -> Order:
        """The version after a fill."""
        return _replace(self, status=status, filled_qty=filled_qty,
                        avg_fill_price=avg_fill_price, fee=fee, fee_currency=fee_currency,
                        updated_ns=ts_ns, version=version)


    @property
    def remaining_qty(self) -> Decimal:
        """Quantity still to fill."""
        return self.qty - self.filled_qty

    @property
    def signed_qty(self) -> Decimal:
        """Quantity with the side's sign (+ buy, - sell)."""
        return self.qty if self.side is OrderSide.BUY else -self.qty


class Fill(_Record, frozen=True, gc=False):
    """One execution of (part of) an order: a row of the append-only trades ledger."""

    id: FillId
    order_id: OrderId
    client_order_id: ClientOrderId
    venue: Venue
    symbol: Symbol
    side: OrderSide
    qty: Decimal
    price: Decimal
    ts_ns: int
    exchange_trade_id: str
    fee: Decimal = _ZERO
    fee_currency: str | None = None
    liquidity: LiquiditySide = LiquiditySide.TAKER
    strategy_id: StrategyId | None = None
    decision_price: Decimal | None = None

    @property
    def value(self) -> Decimal:
        """Notional value (qty x price)."""
        return self.qty * self.price



class Bar(_Record, frozen=True, gc=False):
    """An OHLCV bar; ``ts_ns`` is the bar's open time, ``timeframe`` like ``1m``, ``1h``."""

    venue: Venue
    symbol: Symbol
    timeframe: str
    ts_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    vwap: float = float("nan")
    num_trades: int = 0
    closed: bool = True


    def __eq__(self, other: object) -> bool:
        if type(other) is not Bar:
            return NotImplemented
        return bar_key(self) == bar_key(other)

    def __hash__(self) -> int:
        return hash(bar_key(self))


Order.FIELDS = Order.__struct_fields__
Fill.FIELDS = Fill.__struct_fields__
Bar.FIELDS = Bar.__struct_fields__

