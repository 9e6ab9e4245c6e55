"""The execution gateway contract: what paper and live venues implement.

A gateway takes orders and reports what happened to them. The OMS is the only caller.

Contract (every implementation, paper or ccxt):

- ``submit(order)`` sends ``order`` as it is: ``order.type`` is what the venue should work
  (a triggered emulated stop arrives as ``MARKET``/``LIMIT``). The venue sees
  ``order.client_order_id``; submitting the same client order id twice must not create a
  second order (a retry after a timeout is safe).
- Outcomes are never return values: they arrive later as :class:`ExecutionReport` objects
  passed to the handler given to ``set_report_handler``, in the order the venue produced
  them, on the event loop's thread, one call per report.
- A gateway that cannot submit (network down, venue refusal) reports :class:`VenueRejected`;
  it never drops an order silently.
- ``capabilities`` says which order types and times in force the venue works natively; the
  OMS emulates the rest (stops, TWAP/VWAP).

Paper gateways also implement :class:`SyncExecution`, the same three calls as plain
functions, so the backtest and the paper hot path need no ``await`` between intent and fill.
An in-process gateway may also take a :class:`ReportSink` (``set_report_sink``): the OMS's
handler as one plain call per common report kind, so that an acceptance or a fill is not
first built as a report object and then dispatched on its type. Same reports, same order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

import msgspec

from engine.ids import ClientOrderId, Venue
from engine.model import LiquiditySide, Order, OrderType, TimeInForce

__all__ = [
    "ExecutionGateway",
    "ExecutionReport",
    "GatewayCapabilities",
    "GatewayHealth",
    "ReportHandler",
    "ReportSink",
    "SyncExecution",
    "VenueAccepted",
    "VenueCancelled",
    "VenueExpired",
    "VenueFilled",
    "VenueRejected",
    "VenueTriggered",
]


class ExecutionReport(msgspec.Struct, frozen=True, gc=False):
    """Base of what a venue says about one order, identified by its client order id."""

    client_order_id: ClientOrderId
    ts_ns: int


class VenueAccepted(ExecutionReport, frozen=True, gc=False):
    """The venue acknowledged the order; it is working."""

    exchange_order_id: str | None = None


class VenueRejected(ExecutionReport, frozen=True, gc=False):
    """The venue (or the path to it) refused the order."""

    reason: str


class VenueTriggered(ExecutionReport, frozen=True, gc=False):
    """A stop order held at the venue had its trigger price traded."""

    trigger_price: Decimal


class VenueFilled(ExecutionReport, frozen=True, gc=False):
    """An execution of ``qty`` at ``price``; ``trade_id`` is unique per venue, forever."""

    trade_id: str
    qty: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str | None
    liquidity: LiquiditySide


class VenueCancelled(ExecutionReport, frozen=True, gc=False):
    """The order stopped working before it was filled (request, IOC/FOK remainder)."""

    reason: str = "requested"


class VenueExpired(ExecutionReport, frozen=True, gc=False):
    """The venue expired the order."""

    reason: str = "expired"


ReportHandler = Callable[[ExecutionReport], None]
"""Where a gateway sends its reports (the OMS's ``on_report``)."""


class ReportSink(Protocol):
    """The OMS's report handler as plain calls: :meth:`report_accepted` means exactly what
    the handler does with ``VenueAccepted(client_order_id, ts_ns, exchange_order_id)``,
    :meth:`report_filled` what it does with the ``VenueFilled`` of the same fields."""

    def report_accepted(self, client_order_id: ClientOrderId, ts_ns: int,
                        exchange_order_id: str | None) -> None:
        """A ``VenueAccepted`` report."""
        ...

    def report_filled(self, client_order_id: ClientOrderId, ts_ns: int, trade_id: str,
                      qty: Decimal, price: Decimal, fee: Decimal, fee_currency: str | None,
                      liquidity: LiquiditySide) -> None:
        """A ``VenueFilled`` report."""
        ...


@dataclass(frozen=True, slots=True)
class GatewayCapabilities:
    """What a venue works natively; the OMS emulates the rest."""

    order_types: frozenset[OrderType] = frozenset({OrderType.MARKET, OrderType.LIMIT})
    time_in_force: frozenset[TimeInForce] = frozenset(TimeInForce)
    modify: bool = False
    orders_survive_restart: bool = True
    """False for paper: the OMS re-submits working orders after a restart."""


@dataclass(frozen=True, slots=True)
class GatewayHealth:
    """A gateway's own view of its health, for /readyz and /status."""

    connected: bool
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class ExecutionGateway(Protocol):
    """An execution venue (paper or live). See the module docstring for the contract."""

    @property
    def venue(self) -> Venue:
        """The venue's name as orders carry it."""
        ...

    @property
    def capabilities(self) -> GatewayCapabilities:
        """Order types and times in force worked natively."""
        ...

    def set_report_handler(self, handler: ReportHandler) -> None:
        """Send every report to ``handler`` from now on."""
        ...

    async def connect(self) -> None:
        """Open connections and start streams; raise to fail start-up."""
        ...

    async def close(self) -> None:
        """Stop streams and close connections; calling it twice is harmless."""
        ...

    async def submit(self, order: Order) -> None:
        """Send a new order (idempotent on ``order.client_order_id``)."""
        ...

    async def cancel(self, order: Order) -> None:
        """Ask the venue to cancel ``order``; the outcome comes as a report."""
        ...

    async def modify(
        self, order: Order, *, qty: Decimal | None = None, limit_price: Decimal | None = None
    ) -> None:
        """Change quantity or limit price where the venue supports it."""
        ...

    def health(self) -> GatewayHealth:
        """Current health."""
        ...


@runtime_checkable
class SyncExecution(Protocol):
    """The in-process, synchronous face of a gateway (paper, backtest)."""

    def submit_now(self, order: Order) -> None:
        """Like :meth:`ExecutionGateway.submit`, reports may arrive before it returns."""
        ...

    def cancel_now(self, order: Order) -> None:
        """Like :meth:`ExecutionGateway.cancel`, synchronously."""
        ...
