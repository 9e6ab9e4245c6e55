"""Events published on the bus: past tense, frozen, one class per fact.

Market data objects (:class:`~engine.model.Bar`, :class:`~engine.model.TradeTick`,
:class:`~engine.model.Quote`) and :class:`~engine.model.Alert`,
:class:`~engine.model.Signal`, :class:`~engine.model.Prediction` are published as they are;
the classes here describe changes of state. They are :class:`msgspec.Struct` like the
objects they carry; ``OrderFilled``'s ``fill`` is keyword-only (it follows ``payload``,
which has a default).
"""

from __future__ import annotations

from typing import Any

import msgspec

from engine.model import Fill, Order, Position


class OrderEvent(msgspec.Struct, frozen=True, gc=False):
    """Base of order events: the order as it is after the event, and the event's sequence
    number within that order (``order_events.seq``)."""

    order: Order
    seq: int
    ts_ns: int
    payload: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def kind(self) -> str:
        """The event type as stored in ``order_events.event_type`` (e.g. ``filled``)."""
        return _KIND[type(self)]


class OrderSubmitted(OrderEvent, frozen=True, gc=False):
    """The engine accepted an intent (risk passed) and sent it towards a gateway."""


class OrderAccepted(OrderEvent, frozen=True, gc=False):
    """The venue (or the emulator) acknowledged the order: it is working."""


class OrderRejected(OrderEvent, frozen=True, gc=False):
    """Risk or the venue refused the order; ``order.reject_reason`` says why."""


class OrderTriggered(OrderEvent, frozen=True, gc=False):
    """An emulated stop order's trigger price traded."""


class OrderFilled(OrderEvent, frozen=True, gc=False, kw_only=True):
    """A fill (partial or complete) happened."""

    fill: Fill


class OrderCancelled(OrderEvent, frozen=True, gc=False):
    """The order was cancelled (by request, IOC remainder, shutdown policy)."""


class OrderExpired(OrderEvent, frozen=True, gc=False):
    """The order's time in force ran out."""


class PositionChanged(msgspec.Struct, frozen=True, gc=False):
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
