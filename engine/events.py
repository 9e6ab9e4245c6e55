"""Events published on the bus: past tense, frozen, one class per fact.

Market data objects (:class:`~engine.model.Bar`, :class:`~engine.model.TradeTick`,
:class:`~engine.model.Quote`) and :class:`~engine.model.Alert`,
:class:`~engine.model.Signal`, :class:`~engine.model.Prediction` are published as they are;
the classes here describe changes of state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.model import Fill, Order, Position


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderEvent:
    """Base of order events: the order as it is after the event, and the event's sequence
    number within that order (``order_events.seq``)."""

    order: Order
    seq: int
    ts_ns: int
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """The event type as stored in ``order_events.event_type`` (e.g. ``filled``)."""
        return _KIND[type(self)]


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderSubmitted(OrderEvent):
    """The engine accepted an intent (risk passed) and sent it towards a gateway."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderAccepted(OrderEvent):
    """The venue (or the emulator) acknowledged the order: it is working."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRejected(OrderEvent):
    """Risk or the venue refused the order; ``order.reject_reason`` says why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderTriggered(OrderEvent):
    """An emulated stop order's trigger price traded."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderFilled(OrderEvent):
    """A fill (partial or complete) happened."""

    fill: Fill


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCancelled(OrderEvent):
    """The order was cancelled (by request, IOC remainder, shutdown policy)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderExpired(OrderEvent):
    """The order's time in force ran out."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionChanged:
    """A position after a fill or a mark-to-market."""

    position: Position
    ts_ns: int


_KIND: dict[type, str] = {
    OrderSubmitted: "submitted",
    OrderAccepted: "accepted",
    OrderRejected: "rejected",
    OrderTriggered: "triggered",
    OrderFilled: "filled",
    OrderCancelled: "cancelled",
    OrderExpired: "expired",
}
