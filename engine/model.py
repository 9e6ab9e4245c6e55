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
- Market data, orders, fills, positions and alerts are :class:`msgspec.Struct` (frozen,
  outside the cycle collector): they are built at rates where a frozen dataclass's
  ``__init__`` (one ``object.__setattr__`` per field) costs more than everything else the
  object goes through. Build them by keyword; the hot paths build them positionally, in
  field order. :func:`msgspec.structs.replace` makes a changed copy. Signals and
  predictions (rare, with dict fields) are frozen dataclasses.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from engine.ids import ClientOrderId, FillId, OrderId, StrategyId, Symbol, Venue

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


class OrderSide(enum.Enum):
    """Side of an order or fill."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for buy, -1 for sell."""
        return 1 if self is OrderSide.BUY else -1

    @property
    def opposite(self) -> OrderSide:
        """The other side."""
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


class OrderType(enum.Enum):
    """Order types (seed 001). Stops and TWAP/VWAP are emulated where a venue lacks them."""

    MARKET = "market"
    LIMIT = "limit"
    STOP_LOSS = "stop_loss"
    STOP_LIMIT = "stop_limit"
    TWAP = "twap"
    VWAP = "vwap"


class TimeInForce(enum.Enum):
    """How long an order stays working."""

    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class OrderStatus(enum.Enum):
    """Order life cycle states; see ``engine.oms`` for the legal transitions."""

    PENDING = "pending"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        """True when no further transition is possible."""
        return self in _TERMINAL


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


class LiquiditySide(enum.Enum):
    """Whether a fill added (maker) or took (taker) liquidity."""

    MAKER = "maker"
    TAKER = "taker"


class AlertSeverity(enum.Enum):
    """Severity of an operator alert."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class SignalDirection(enum.Enum):
    """Direction a signal points to."""

    LONG = "long"
    SHORT = "short"
    FLAT = "flat"


class Bar(msgspec.Struct, frozen=True, gc=False):
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


class Order(msgspec.Struct, frozen=True, gc=False):
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
    filled_qty: Decimal = ZERO
    avg_fill_price: Decimal | None = None
    fee: Decimal = ZERO
    fee_currency: str | None = None
    exchange_order_id: str | None = None
    reject_reason: str | None = None
    updated_ns: int = 0
    version: int = 1

    @property
    def remaining_qty(self) -> Decimal:
        """Quantity still to fill."""
        return self.qty - self.filled_qty

    @property
    def signed_qty(self) -> Decimal:
        """Quantity with the side's sign (+ buy, - sell)."""
        return self.qty if self.side is OrderSide.BUY else -self.qty


class Fill(msgspec.Struct, frozen=True, gc=False):
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
    fee: Decimal = ZERO
    fee_currency: str | None = None
    liquidity: LiquiditySide = LiquiditySide.TAKER
    strategy_id: StrategyId | None = None
    decision_price: Decimal | None = None

    @property
    def value(self) -> Decimal:
        """Notional value (qty x price)."""
        return self.qty * self.price


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
