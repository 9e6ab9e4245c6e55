"""Immutable domain objects of the engine.

Conventions, which every part of the engine relies on:

- Timestamps are integers, nanoseconds since the Unix epoch, UTC (``ts_ns``). They convert
  to ``timestamptz`` only at the database boundary.
- Money, prices of orders and fills, and quantities are :class:`~decimal.Decimal`.
- Market data (:class:`Bar`, :class:`TradeTick`, :class:`Quote`) carries ``float`` prices and
  sizes: it comes from exchanges as floats or from float64 arrays, feeds numba kernels, and
  is far too hot for Decimal. A price read from market data becomes a Decimal at the point
  where it turns into money (a fill price, a limit price), through :func:`to_decimal`.
- Every object is frozen and slotted: handlers share them without defensive copies.
- Ticks, quotes, positions and alerts are :class:`msgspec.Struct` (frozen, outside the
  cycle collector): they are built at rates where a frozen dataclass's ``__init__`` (one
  ``object.__setattr__`` per field) costs more than everything else the object goes
  through. Build them by keyword; the hot paths build them positionally, in field order.
  :func:`msgspec.structs.replace` makes a changed copy.
- :class:`Bar`, :class:`Order` and :class:`Fill` are read most by the compiled hot modules:
  in the compiled build they are the native classes of :mod:`engine.model_native`, whose
  fields compiled code reads directly; in pure Python, the msgspec structs of
  :mod:`engine.model_struct`. One contract (``tests/engine/test_model_native.py``): the
  same fields and defaults, frozen, equal by value, ``replace(**changes)`` for a changed
  copy, ``to_dict()`` for the encoders. The compiled classes check their ``int``,
  ``float`` and ``bool`` fields when built (a numpy int64 is refused: pass ``int(x)``).
- Signals and predictions (rare, with dict fields) are frozen dataclasses.
- The enumerations live in :mod:`engine.enums`; all of these are importable from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from importlib.machinery import EXTENSION_SUFFIXES
from typing import TYPE_CHECKING, Any

import msgspec

from engine import model_native as _model_native
from engine.enums import (
    AlertSeverity,
    LiquiditySide,
    OrderSide,
    OrderStatus,
    OrderType,
    SignalDirection,
    TimeInForce,
)
from engine.ids import OrderId, StrategyId, Symbol, Venue

if TYPE_CHECKING or (_model_native.__file__ or "").endswith(tuple(EXTENSION_SUFFIXES)):
    # the compiled build (engine.native) is in use: its native classes, which the compiled
    # modules are built against
    from engine.model_native import Bar, Fill, Order
else:  # pure Python: the same contract as msgspec structs, built in C
    from engine.model_struct import Bar, Fill, Order

RECORD_TYPES: tuple[type[Order], type[Fill], type[Bar], type[_model_native.Order],
                    type[_model_native.Fill], type[_model_native.Bar]] = (
    Order, Fill, Bar, _model_native.Order, _model_native.Fill, _model_native.Bar)
"""Every class of order, fill and bar (both builds'): what the encoders write by
``to_dict()``."""

__all__ = ["NS_PER_MS", "NS_PER_S", "RECORD_TYPES", "ZERO", "Alert", "AlertSeverity", "Bar", "Fill",
           "LiquiditySide", "Order", "OrderSide", "OrderStatus", "OrderType", "Position",
           "Prediction", "Quote", "Signal", "SignalDirection", "TimeInForce", "TradeTick",
           "datetime_to_ns", "ns_to_datetime", "to_decimal"]

ZERO: Decimal = Decimal(0)

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000


def to_decimal(value: float | int | str | Decimal) -> Decimal:
    """Convert a market-data number to Decimal by its shortest round-trip text.

    ``Decimal(0.1)`` is ``0.1000000000000000055511151231257827...``; ``to_decimal(0.1)`` is
    ``0.1``, which is what the exchange sent.
    """
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def ns_to_datetime(ts_ns: int) -> datetime:
    """UTC datetime of an epoch-nanosecond timestamp (microsecond precision)."""
    return datetime.fromtimestamp(ts_ns // 1000 / 1_000_000, tz=UTC)


def datetime_to_ns(value: datetime) -> int:
    """Epoch nanoseconds of an aware datetime."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: timestamps must be timezone-aware (UTC)")
    return int(value.timestamp() * 1_000_000) * 1000


class TradeTick(msgspec.Struct, frozen=True, gc=False):
    """One public trade; ``side`` is the aggressor's side, None when the venue omits it."""

    venue: Venue
    symbol: Symbol
    ts_ns: int
    price: float
    qty: float
    side: OrderSide | None = None
    trade_id: str = ""


class Quote(msgspec.Struct, frozen=True, gc=False):
    """Top of book."""

    venue: Venue
    symbol: Symbol
    ts_ns: int
    bid: float
    bid_qty: float
    ask: float
    ask_qty: float

    @property
    def mid(self) -> float:
        """Mid price."""
        return (self.bid + self.ask) / 2.0


class Position(msgspec.Struct, frozen=True, gc=False):
    """Net position in one symbol; ``qty`` > 0 long, < 0 short."""

    venue: Venue
    symbol: Symbol
    qty: Decimal = ZERO
    avg_entry_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    opened_ns: int | None = None
    closed_ns: int | None = None
    updated_ns: int = 0
    version: int = 1

    @property
    def is_flat(self) -> bool:
        """True when no quantity is held."""
        return self.qty == 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Signal:
    """A strategy's or model's view on a symbol, with the inputs that fired it."""

    strategy_id: StrategyId
    symbol: Symbol
    direction: SignalDirection
    strength: float
    ts_ns: int
    reasoning: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Prediction:
    """An ML model's prediction, backfilled with the outcome once the horizon has passed."""

    model: str
    model_version: str
    symbol: Symbol
    ts_ns: int
    horizon_s: int
    predicted_price: Decimal | None
    direction: SignalDirection
    confidence: float
    feature_importance: dict[str, float] = field(default_factory=dict)


class Alert(msgspec.Struct, frozen=True, gc=False):
    """Something an operator should see; persisted and published."""

    severity: AlertSeverity
    category: str
    title: str
    message: str
    ts_ns: int
    symbol: Symbol | None = None
    order_id: OrderId | None = None
    strategy_id: StrategyId | None = None
