"""The order state machine: which event may move an order from which status to which.

::

    pending --accepted--> open --filled--> partially_filled --filled--> filled
       |                   |  \\--triggered--> open (emulated or venue stop)
       |                   +--cancelled | expired
       +--rejected | cancelled | expired | filled (venue filled before its ack arrived)

Terminal statuses (filled, cancelled, rejected, expired) accept nothing. A fill must be for
a positive quantity no larger than what remains. Anything else is an
:class:`InvalidTransition`: the OMS logs it, alerts, counts it and does not apply it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from engine.model import Order, OrderStatus

__all__ = [
    "EVENT_KINDS",
    "LEGAL_TRANSITIONS",
    "InvalidOrder",
    "InvalidTransition",
    "OmsError",
    "is_working",
    "next_status",
]

P, OP, PF = OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED
F, C, R, E = OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED

_FROM: Final[dict[str, frozenset[OrderStatus]]] = {
    "accepted": frozenset({P}),
    "rejected": frozenset({P}),
    "triggered": frozenset({OP}),
    "filled": frozenset({P, OP, PF}),
    "cancelled": frozenset({P, OP, PF}),
    "expired": frozenset({P, OP, PF}),
}
_TO: Final[dict[str, OrderStatus]] = {
    "accepted": OP, "rejected": R, "triggered": OP, "cancelled": C, "expired": E,
}

EVENT_KINDS: Final[tuple[str, ...]] = tuple(_FROM)
"""Event kinds that change an existing order (``submitted`` creates one)."""

LEGAL_TRANSITIONS: Final[frozenset[tuple[OrderStatus, str, OrderStatus]]] = frozenset(
    {(s, k, _TO[k]) for k, froms in _FROM.items() if k != "filled" for s in froms}
    | {(s, "filled", t) for s in _FROM["filled"] for t in (PF, F)}
)
"""Every legal (from status, event kind, to status)."""


class OmsError(Exception):
    """Base of the order manager's errors."""


class InvalidOrder(OmsError, ValueError):
    """An order intent that can never be valid (bad quantity, missing price, ...)."""


class InvalidTransition(OmsError):
    """An event that the order's current status does not allow; never applied."""

    def __init__(self, order: Order, kind: str, detail: str = "") -> None:
        self.order = order
        self.kind = kind
        self.detail = detail
        msg = f"order {order.client_order_id}: illegal '{kind}' in status {order.status.value}"
        super().__init__(f"{msg} ({detail})" if detail else msg)


def next_status(order: Order, kind: str, fill_qty: Decimal | None = None) -> OrderStatus:
    """The status ``order`` moves to on an event of ``kind``; raise when illegal."""
    status = order.status
    # identity tests, not set membership: an Enum's __hash__ runs in Python (hot path)
    if kind == "filled":
        if not (status is OP or status is PF or status is P):
            raise InvalidTransition(order, kind)
        if fill_qty is None or fill_qty <= 0:
            raise InvalidTransition(order, kind, f"fill quantity {fill_qty} is not positive")
        remaining = order.qty - order.filled_qty
        if fill_qty > remaining:
            raise InvalidTransition(order, kind, f"overfill: {fill_qty} > remaining {remaining}")
        return F if fill_qty == remaining else PF
    if kind == "accepted" or kind == "rejected":
        ok = status is P
    elif kind == "triggered":
        ok = status is OP
    elif kind in _TO:
        ok = status is OP or status is PF or status is P
    else:
        raise InvalidTransition(order, kind, "unknown event kind")
    if not ok:
        raise InvalidTransition(order, kind)
    return _TO[kind]


def is_working(status: OrderStatus) -> bool:
    """True for pending, open and partially filled (identity tests, cheap)."""
    return status is OP or status is PF or status is P
