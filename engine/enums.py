"""The enumerations of the domain model (re-exported by :mod:`engine.model`).

In a module of their own so that the native records (:mod:`engine.model_native`), their
struct versions (:mod:`engine.model_struct`) and :mod:`engine.model` can all import them.
"""

from __future__ import annotations

import enum

__all__ = ["AlertSeverity", "LiquiditySide", "OrderSide", "OrderStatus", "OrderType",
           "SignalDirection", "TimeInForce"]


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
