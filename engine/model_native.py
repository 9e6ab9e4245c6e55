"""Bars, orders and fills as native classes: what :mod:`engine.model` uses in the compiled
build (pure Python uses the msgspec structs of :mod:`engine.model_struct`; one contract).

This module is compiled with the engine's hot modules (:mod:`engine.native`): compiled code
reads a native class's field as a direct load (a bar's floats unboxed), where a Struct field
costs it a generic attribute lookup of about 190 instructions (a backtest bar is read some
25 times, an order's life some 70), and the OMS builds an order's new versions by direct
calls (:meth:`Order.accepted`, :meth:`Order.filled` and the others) instead of
:func:`msgspec.structs.replace`. Interpreted, the same classes would be slower than the
structs (a Python ``__init__`` of 23 frozen fields costs about 2 us, msgspec's 0.12 us):
hence the two implementations.

Frozen: assignment raises (``__setattr__``); ``__init__`` sets each field through
``object.__setattr__``, which the compiled build turns into a direct store. Encoders take
``to_dict()`` (``engine.store.rows``, ``engine.mqtt``); ``values()`` gives the fields' values
in ``FIELDS`` order (equality, hashing, pickling, :func:`engine.model_diff.changed_fields`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from engine.enums import LiquiditySide, OrderSide, OrderStatus, OrderType, TimeInForce
from engine.ids import ClientOrderId, FillId, OrderId, StrategyId, Symbol, Venue
from engine.model_fields import bar_key, record_repr, replaced_values
from engine.native import mypyc_attr

__all__ = ["Bar", "Fill", "Order"]

_ZERO: Final = Decimal(0)
_BUY: Final = OrderSide.BUY
_GTC: Final = TimeInForce.GTC
_PENDING: Final = OrderStatus.PENDING
_TAKER: Final = LiquiditySide.TAKER
_NAN: Final = float("nan")


def _frozen(obj: object, name: str) -> AttributeError:
    return AttributeError(f"{type(obj).__name__} is frozen: cannot change {name!r}")


@mypyc_attr(acyclic=True)  # like msgspec's gc=False: fields never lead back to it
class Order:
    """An order as the engine knows it at one moment; a new version is a new object."""

    __slots__ = ("avg_fill_price", "client_order_id", "created_ns", "exchange_order_id", "fee",
                 "fee_currency", "filled_qty", "id", "limit_price", "parent_id", "qty",
                 "reduce_only", "reject_reason", "side", "status", "stop_price", "strategy_id",
                 "symbol", "time_in_force", "type", "updated_ns", "venue", "version")

    FIELDS: Final = ("id", "client_order_id", "venue", "symbol", "side", "type", "qty",
                     "created_ns", "strategy_id", "time_in_force", "limit_price",
                     "stop_price", "reduce_only", "parent_id", "status", "filled_qty",
                     "avg_fill_price", "fee", "fee_currency", "exchange_order_id",
                     "reject_reason", "updated_ns", "version")
    """The fields in constructor order."""

    id: OrderId
    client_order_id: ClientOrderId
    venue: Venue
    symbol: Symbol
    side: OrderSide
    type: OrderType
    qty: Decimal
    created_ns: int
    strategy_id: StrategyId | None
    time_in_force: TimeInForce
    limit_price: Decimal | None
    stop_price: Decimal | None
    reduce_only: bool
    parent_id: OrderId | None
    status: OrderStatus
    filled_qty: Decimal
    avg_fill_price: Decimal | None
    fee: Decimal
    fee_currency: str | None
    exchange_order_id: str | None
    reject_reason: str | None
    updated_ns: int
    version: int

    def __init__(self, id: OrderId, client_order_id: ClientOrderId, venue: Venue,
                 symbol: Symbol, side: OrderSide, type: OrderType, qty: Decimal,
                 created_ns: int, strategy_id: StrategyId | None = None,
                 time_in_force: TimeInForce = _GTC, limit_price: Decimal | None = None,
                 stop_price: Decimal | None = None, reduce_only: bool = False,
                 parent_id: OrderId | None = None, status: OrderStatus = _PENDING,
                 filled_qty: Decimal = _ZERO, avg_fill_price: Decimal | None = None,
                 fee: Decimal = _ZERO, fee_currency: str | None = None,
                 exchange_order_id: str | None = None, reject_reason: str | None = None,
                 updated_ns: int = 0, version: int = 1) -> None:
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "client_order_id", client_order_id)
        object.__setattr__(self, "venue", venue)
        object.__setattr__(self, "symbol", symbol)
        object.__setattr__(self, "side", side)
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "qty", qty)
        object.__setattr__(self, "created_ns", created_ns)
        object.__setattr__(self, "strategy_id", strategy_id)
        object.__setattr__(self, "time_in_force", time_in_force)
        object.__setattr__(self, "limit_price", limit_price)
        object.__setattr__(self, "stop_price", stop_price)
        object.__setattr__(self, "reduce_only", reduce_only)
        object.__setattr__(self, "parent_id", parent_id)
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "filled_qty", filled_qty)
        object.__setattr__(self, "avg_fill_price", avg_fill_price)
        object.__setattr__(self, "fee", fee)
        object.__setattr__(self, "fee_currency", fee_currency)
        object.__setattr__(self, "exchange_order_id", exchange_order_id)
        object.__setattr__(self, "reject_reason", reject_reason)
        object.__setattr__(self, "updated_ns", updated_ns)
        object.__setattr__(self, "version", version)

    def __setattr__(self, name: str, value: object) -> None:
        raise _frozen(self, name)

    def __delattr__(self, name: str) -> None:
        raise _frozen(self, name)

    # -- the OMS's new versions (each a direct call in the compiled build) -----------------

    def _with(self, status: OrderStatus, filled_qty: Decimal, avg_fill_price: Decimal | None,
              fee: Decimal, fee_currency: str | None, exchange_order_id: str | None,
              reject_reason: str | None, updated_ns: int, version: int) -> Order:
        return Order(self.id, self.client_order_id, self.venue, self.symbol, self.side,
                     self.type, self.qty, self.created_ns, self.strategy_id,
                     self.time_in_force, self.limit_price, self.stop_price, self.reduce_only,
                     self.parent_id, status, filled_qty, avg_fill_price, fee, fee_currency,
                     exchange_order_id, reject_reason, updated_ns, version)

    def accepted(self, status: OrderStatus, exchange_order_id: str | None, ts_ns: int,
                 version: int) -> Order:
        """The version after the venue (or the emulator) accepted it."""
        return self._with(status, self.filled_qty, self.avg_fill_price, self.fee,
                          self.fee_currency, exchange_order_id, self.reject_reason, ts_ns,
                          version)

    def with_exchange_id(self, exchange_order_id: str | None) -> Order:
        """The same version with the venue's order id."""
        return self._with(self.status, self.filled_qty, self.avg_fill_price, self.fee,
                          self.fee_currency, exchange_order_id, self.reject_reason,
                          self.updated_ns, self.version)

    def closed(self, status: OrderStatus, reject_reason: str | None, ts_ns: int,
               version: int) -> Order:
        """The version that ends it (cancelled, rejected, expired)."""
        return self._with(status, self.filled_qty, self.avg_fill_price, self.fee,
                          self.fee_currency, self.exchange_order_id, reject_reason, ts_ns,
                          version)

    def touched(self, ts_ns: int, version: int) -> Order:
        """A new version with nothing changed but its time and number (a stop triggered)."""
        return self._with(self.status, self.filled_qty, self.avg_fill_price, self.fee,
                          self.fee_currency, self.exchange_order_id, self.reject_reason, ts_ns,
                          version)

    def filled(self, status: OrderStatus, filled_qty: Decimal, avg_fill_price: Decimal,
               fee: Decimal, fee_currency: str | None, ts_ns: int, version: int) -> Order:
        """The version after a fill."""
        return self._with(status, filled_qty, avg_fill_price, fee, fee_currency,
                          self.exchange_order_id, self.reject_reason, ts_ns, version)

    def replace(self, **changes: Any) -> Order:
        """A copy with ``changes`` (field names) applied; the OMS uses the methods above."""
        return Order(*replaced_values(self, Order.FIELDS, changes))

    # -- derived values ----------------------------------------------------------------------

    @property
    def remaining_qty(self) -> Decimal:
        """Quantity still to fill."""
        return self.qty - self.filled_qty

    @property
    def signed_qty(self) -> Decimal:
        """Quantity with the side's sign (+ buy, - sell)."""
        return self.qty if self.side is _BUY else -self.qty

    # -- value semantics -------------------------------------------------------------------

    def values(self) -> tuple[Any, ...]:
        """The fields' values in constructor (``FIELDS``) order."""
        return (self.id, self.client_order_id, self.venue, self.symbol, self.side, self.type,
                self.qty, self.created_ns, self.strategy_id, self.time_in_force,
                self.limit_price, self.stop_price, self.reduce_only, self.parent_id,
                self.status, self.filled_qty, self.avg_fill_price, self.fee,
                self.fee_currency, self.exchange_order_id, self.reject_reason,
                self.updated_ns, self.version)

    def to_dict(self) -> dict[str, Any]:
        """The fields by name, in constructor order (what the encoders write)."""
        return {"id": self.id, "client_order_id": self.client_order_id, "venue": self.venue,
                "symbol": self.symbol, "side": self.side, "type": self.type, "qty": self.qty,
                "created_ns": self.created_ns, "strategy_id": self.strategy_id,
                "time_in_force": self.time_in_force, "limit_price": self.limit_price,
                "stop_price": self.stop_price, "reduce_only": self.reduce_only,
                "parent_id": self.parent_id, "status": self.status,
                "filled_qty": self.filled_qty, "avg_fill_price": self.avg_fill_price,
                "fee": self.fee, "fee_currency": self.fee_currency,
                "exchange_order_id": self.exchange_order_id,
                "reject_reason": self.reject_reason, "updated_ns": self.updated_ns,
                "version": self.version}

    def __eq__(self, other: object) -> bool:
        if type(other) is not Order:
            return NotImplemented
        return self.values() == other.values()

    def __hash__(self) -> int:
        return hash(self.values())

    def __repr__(self) -> str:
        return record_repr(self, Order.FIELDS)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Order, self.values())


@mypyc_attr(acyclic=True)  # like msgspec's gc=False: fields never lead back to it
class Fill:
    """One execution of (part of) an order: a row of the append-only trades ledger."""

    __slots__ = ("client_order_id", "decision_price", "exchange_trade_id", "fee",
                 "fee_currency", "id", "liquidity", "order_id", "price", "qty", "side",
                 "strategy_id", "symbol", "ts_ns", "venue")

    FIELDS: Final = ("id", "order_id", "client_order_id", "venue", "symbol", "side", "qty",
                     "price", "ts_ns", "exchange_trade_id", "fee", "fee_currency", "liquidity",
                     "strategy_id", "decision_price")
    """The fields in constructor order."""

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
    fee: Decimal
    fee_currency: str | None
    liquidity: LiquiditySide
    strategy_id: StrategyId | None
    decision_price: Decimal | None

    def __init__(self, id: FillId, order_id: OrderId,
                 client_order_id: ClientOrderId, venue: Venue, symbol: Symbol,
                 side: OrderSide, qty: Decimal, price: Decimal, ts_ns: int,
                 exchange_trade_id: str, fee: Decimal = _ZERO, fee_currency: str | None = None,
                 liquidity: LiquiditySide = _TAKER, strategy_id: StrategyId | None = None,
                 decision_price: Decimal | None = None) -> None:
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "order_id", order_id)
        object.__setattr__(self, "client_order_id", client_order_id)
        object.__setattr__(self, "venue", venue)
        object.__setattr__(self, "symbol", symbol)
        object.__setattr__(self, "side", side)
        object.__setattr__(self, "qty", qty)
        object.__setattr__(self, "price", price)
        object.__setattr__(self, "ts_ns", ts_ns)
        object.__setattr__(self, "exchange_trade_id", exchange_trade_id)
        object.__setattr__(self, "fee", fee)
        object.__setattr__(self, "fee_currency", fee_currency)
        object.__setattr__(self, "liquidity", liquidity)
        object.__setattr__(self, "strategy_id", strategy_id)
        object.__setattr__(self, "decision_price", decision_price)

    def __setattr__(self, name: str, value: object) -> None:
        raise _frozen(self, name)

    def __delattr__(self, name: str) -> None:
        raise _frozen(self, name)

    @property
    def value(self) -> Decimal:
        """Notional value (qty x price)."""
        return self.qty * self.price

    def replace(self, **changes: Any) -> Fill:
        """A copy with ``changes`` (field names) applied."""
        return Fill(*replaced_values(self, Fill.FIELDS, changes))

    def values(self) -> tuple[Any, ...]:
        """The fields' values in constructor (``FIELDS``) order."""
        return (self.id, self.order_id, self.client_order_id, self.venue, self.symbol,
                self.side, self.qty, self.price, self.ts_ns, self.exchange_trade_id, self.fee,
                self.fee_currency, self.liquidity, self.strategy_id, self.decision_price)

    def to_dict(self) -> dict[str, Any]:
        """The fields by name, in constructor order (what the encoders write)."""
        return {"id": self.id, "order_id": self.order_id,
                "client_order_id": self.client_order_id, "venue": self.venue,
                "symbol": self.symbol, "side": self.side, "qty": self.qty, "price": self.price,
                "ts_ns": self.ts_ns, "exchange_trade_id": self.exchange_trade_id,
                "fee": self.fee, "fee_currency": self.fee_currency, "liquidity": self.liquidity,
                "strategy_id": self.strategy_id, "decision_price": self.decision_price}

    def __eq__(self, other: object) -> bool:
        if type(other) is not Fill:
            return NotImplemented
        return self.values() == other.values()

    def __hash__(self) -> int:
        return hash(self.values())

    def __repr__(self) -> str:
        return record_repr(self, Fill.FIELDS)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Fill, self.values())


@mypyc_attr(acyclic=True)  # like msgspec's gc=False: fields never lead back to it
class Bar:
    """An OHLCV bar; ``ts_ns`` is the bar's open time, ``timeframe`` like ``1m``, ``1h``."""

    __slots__ = ("close", "closed", "high", "low", "num_trades", "open", "symbol", "timeframe",
                 "ts_ns", "venue", "volume", "vwap")

    FIELDS: Final = ("venue", "symbol", "timeframe", "ts_ns", "open", "high", "low", "close",
                     "volume", "vwap", "num_trades", "closed")
    """The fields in constructor order."""

    venue: Venue
    symbol: Symbol
    timeframe: str
    ts_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    vwap: float
    num_trades: int
    closed: bool

    def __init__(self, venue: Venue, symbol: Symbol, timeframe: str, ts_ns: int, open: float,
                 high: float, low: float, close: float, volume: float, vwap: float = _NAN,
                 num_trades: int = 0, closed: bool = True) -> None:
        object.__setattr__(self, "venue", venue)
        object.__setattr__(self, "symbol", symbol)
        object.__setattr__(self, "timeframe", timeframe)
        object.__setattr__(self, "ts_ns", ts_ns)
        object.__setattr__(self, "open", open)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "close", close)
        object.__setattr__(self, "volume", volume)
        object.__setattr__(self, "vwap", vwap)
        object.__setattr__(self, "num_trades", num_trades)
        object.__setattr__(self, "closed", closed)

    def __setattr__(self, name: str, value: object) -> None:
        raise _frozen(self, name)

    def __delattr__(self, name: str) -> None:
        raise _frozen(self, name)

    def replace(self, **changes: Any) -> Bar:
        """A copy with ``changes`` (field names) applied."""
        return Bar(*replaced_values(self, Bar.FIELDS, changes))

    def values(self) -> tuple[Any, ...]:
        """The fields' values in constructor (``FIELDS``) order."""
        return (self.venue, self.symbol, self.timeframe, self.ts_ns, self.open, self.high,
                self.low, self.close, self.volume, self.vwap, self.num_trades, self.closed)

    def to_dict(self) -> dict[str, Any]:
        """The fields by name, in constructor order (what the encoders write)."""
        return {"venue": self.venue, "symbol": self.symbol, "timeframe": self.timeframe,
                "ts_ns": self.ts_ns, "open": self.open, "high": self.high, "low": self.low,
                "close": self.close, "volume": self.volume, "vwap": self.vwap,
                "num_trades": self.num_trades, "closed": self.closed}

    def __eq__(self, other: object) -> bool:
        if type(other) is not Bar:
            return NotImplemented
        return bar_key(self) == bar_key(other)

    def __hash__(self) -> int:
        return hash(bar_key(self))

    def __repr__(self) -> str:
        return record_repr(self, Bar.FIELDS)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Bar, self.values())
