"""The OMS's transitions: gateway reports applied to orders, each one checked, each one an
order event.

Split from :mod:`engine.oms.manager` by responsibility: the manager takes intents in and
routes them; this part moves an order from one status to the next. Every change goes
through :func:`engine.oms.states.next_status` (an illegal one is logged, alerted, counted
and never applied) and is published as exactly one order event with the order's next seq.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from engine.events import (
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderTriggered,
)
from engine.execution import VenueAccepted, VenueFilled
from engine.model import Alert, AlertSeverity, Fill, LiquiditySide, Order, OrderSide, OrderStatus
from engine.oms.book import Entry, entry_for
from engine.oms.children import ChildOrders
from engine.oms.states import InvalidTransition, next_status

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.execution import (
        ExecutionReport,
        VenueCancelled,
        VenueExpired,
        VenueRejected,
        VenueTriggered,
    )
    from engine.ids import ClientOrderId, FillId
    from engine.oms.manager import OmsConfig

__all__ = ["OrderTransitions", "describe"]

_log: Final = logging.getLogger(__name__)
_LOG_LEVEL: Final = {AlertSeverity.INFO: logging.DEBUG, AlertSeverity.WARNING: logging.WARNING,
                     AlertSeverity.ERROR: logging.ERROR, AlertSeverity.CRITICAL: logging.CRITICAL}

_PENDING: Final = OrderStatus.PENDING
_OPEN: Final = OrderStatus.OPEN
_PARTIAL: Final = OrderStatus.PARTIALLY_FILLED
_FILLED: Final = OrderStatus.FILLED
_ZERO: Final = Decimal(0)
_BUY: Final = OrderSide.BUY
_CLOSE_EVENTS: Final = {"rejected": OrderRejected, "cancelled": OrderCancelled,
                        "expired": OrderExpired}


class OrderTransitions(ChildOrders):
    """Base of :class:`~engine.oms.manager.OrderManager`: reports in, order events out."""

    # set by OrderManager.__init__
    config: OmsConfig
    counts: dict[str, int]
    _publish: Callable[[object], None]
    _slip_up: Decimal | None
    _slip_down: Decimal
    _fill_id: Callable[[], FillId]
    _alert_fills: bool
    _get_working: Callable[[ClientOrderId], Entry | None]

    def on_report(self, report: ExecutionReport) -> None:
        raise NotImplementedError  # OrderManager

    # -- reports from the gateway ----------------------------------------------------------

    def report_accepted(self, client_order_id: ClientOrderId, ts: int,
                        exchange_order_id: str | None) -> None:
        """A ``VenueAccepted`` as a plain call (:class:`engine.execution.ReportSink`)."""
        entry = self._get_working(client_order_id)
        if entry is None:  # unknown or closed: the report path judges it
            self.on_report(VenueAccepted(client_order_id, ts, exchange_order_id))
        else:
            self._accepted(entry, ts, exchange_order_id)

    def report_filled(self, client_order_id: ClientOrderId, ts: int, trade_id: str,
                      qty: Decimal, price: Decimal, fee: Decimal, fee_currency: str | None,
                      liquidity: LiquiditySide) -> None:
        """A ``VenueFilled`` as a plain call (:class:`engine.execution.ReportSink`)."""
        entry = self._get_working(client_order_id)
        if entry is None:  # unknown or closed: the report path judges it
            self.on_report(VenueFilled(client_order_id, ts, trade_id, qty, price, fee,
                                       fee_currency, liquidity))
        else:
            self._filled(entry, ts, trade_id, qty, price, fee, fee_currency, liquidity)

    def _on_accepted(self, entry: Entry, r: VenueAccepted) -> None:
        self._accepted(entry, r.ts_ns, r.exchange_order_id)

    def _accepted(self, entry: Entry, ts: int, exchange_order_id: str | None) -> None:
        order = entry.order
        if order.status is _PENDING:  # the legal case of _apply_accept, inlined
            seq = entry.seq = entry.seq + 1
            entry.order = new = order.accepted(_OPEN, exchange_order_id, ts, seq)
            self._publish(OrderAccepted(new, seq, ts, {}))
        elif entry.routed_late:
            entry.order = order.with_exchange_id(exchange_order_id)
        else:
            self._apply_accept(entry, ts, exchange_order_id, None)

    def _on_rejected(self, entry: Entry, r: VenueRejected) -> None:
        if entry.routed_late and entry.order.status is not _PENDING:
            # the emulator had accepted it: the venue's refusal ends it as cancelled
            self._apply_close(entry, "cancelled", r.ts_ns, {"reason": r.reason, "venue": True})
        else:
            self._apply_close(entry, "rejected", r.ts_ns, {"reason": r.reason, "source": "venue"})

    def _on_cancelled(self, entry: Entry, r: VenueCancelled) -> None:
        self._apply_close(entry, "cancelled", r.ts_ns, {"reason": r.reason})

    def _on_expired(self, entry: Entry, r: VenueExpired) -> None:
        self._apply_close(entry, "expired", r.ts_ns, {"reason": r.reason})

    def _on_venue_triggered(self, entry: Entry, r: VenueTriggered) -> None:
        self._apply_trigger(entry, r.ts_ns, r.trigger_price)

    def _on_filled(self, entry: Entry, r: VenueFilled) -> None:
        self._filled(entry, r.ts_ns, r.trade_id, r.qty, r.price, r.fee, r.fee_currency,
                     r.liquidity)

    def _filled(self, entry: Entry, ts: int, tid: str, qty: Decimal, price: Decimal,
                fee: Decimal, fee_currency: str | None, liquidity: LiquiditySide) -> None:
        first = entry.first_trade
        if first is None:
            entry.first_trade = tid
        else:
            trade_ids = entry.trade_ids
            if tid == first or (trade_ids is not None and tid in trade_ids):
                self.counts["duplicate_fills"] += 1
                return
            if trade_ids is None:
                entry.trade_ids = {tid}
            else:
                trade_ids.add(tid)
        order = entry.order
        fill = Fill(
            self._fill_id(), order.id, order.client_order_id, order.venue, order.symbol,
            order.side, qty, price, ts, tid, fee, fee_currency, liquidity,
            order.strategy_id, entry.decision_price)
        if not self._apply_fill(entry, fill):
            return
        self.counts["fills"] += 1
        order = entry.order
        if self._alert_fills:
            self._alert(AlertSeverity.INFO, "order filled",
                        f"{describe(order)}: {fill.qty} @ {fill.price}", fill.ts_ns, order)
        decision = entry.decision_price
        if decision is not None and self._slip_up is not None and (
                fill.price > decision * self._slip_up if order.side is _BUY
                else fill.price < decision * self._slip_down):
            self._slippage_alert(order, fill, decision)
        if order.parent_id is not None:
            self.child_filled(order.parent_id, fill)
            if order.status is _FILLED:
                self._after_close(entry, fill.ts_ns)

    # -- transitions -----------------------------------------------------------------------

    def _reject_new(self, order: Order, price: Decimal | None, reason: str, now: int) -> Order:
        """A new order refused by risk: closed as rejected at seq 1, never routed."""
        self.counts["rejected"] += 1
        rejected = order.closed(OrderStatus.REJECTED, reason, now, 1)
        entry = entry_for(rejected, price)
        entry.seq = 1
        self.book.add_closed(entry)
        self._publish(OrderRejected(rejected, 1, now, {"reason": reason, "source": "risk"}))
        return rejected

    def _apply_accept(self, entry: Entry, ts: int, exchange_id: str | None,
                      payload: dict[str, Any] | None) -> None:
        order = entry.order
        try:
            status = next_status(order, "accepted")
        except InvalidTransition as exc:
            self._illegal(exc, ts)
            return
        seq = entry.seq + 1
        entry.seq = seq
        entry.order = new = order.accepted(status, exchange_id, ts, seq)
        self._publish(OrderAccepted(new, seq, ts, payload or {}))

    def _apply_trigger(self, entry: Entry, ts: int, price: Decimal) -> bool:
        try:
            next_status(entry.order, "triggered")
        except InvalidTransition as exc:
            self._illegal(exc, ts)
            return False
        seq = entry.seq + 1
        entry.seq = seq
        entry.triggered = True
        entry.order = new = entry.order.touched(ts, seq)
        self._publish(OrderTriggered(new, seq, ts, {"trigger_price": str(price)}))
        return True

    def _apply_close(self, entry: Entry, kind: str, ts: int, payload: dict[str, Any]) -> None:
        order = entry.order
        try:
            status = next_status(order, kind)
        except InvalidTransition as exc:
            self._illegal(exc, ts)
            return
        seq = entry.seq + 1
        entry.seq = seq
        reason = payload.get("reason") if kind == "rejected" else order.reject_reason
        entry.order = new = order.closed(status, reason, ts, seq)
        self.book.close(entry, order.qty - order.filled_qty)
        if entry.emulated == "stop" and not entry.triggered:
            self.stops.disarm(entry)
        self._publish(_CLOSE_EVENTS[kind](new, seq, ts, payload))
        if kind == "rejected":
            self.counts["rejected"] += 1
            self._alert(AlertSeverity.WARNING, "order rejected", f"{describe(new)}: "
                        f"{payload.get('reason')}", ts, new)
        self._after_close(entry, ts)

    def _apply_fill(self, entry: Entry, fill: Fill) -> bool:
        order = entry.order
        qty = fill.qty
        status = order.status
        remaining = order.qty - order.filled_qty
        if (status is _OPEN or status is _PARTIAL or status is _PENDING) and (
                qty is not None and _ZERO < qty <= remaining):
            status = _FILLED if qty == remaining else _PARTIAL  # next_status's legal case
        else:
            try:
                status = next_status(order, "filled", qty)
            except InvalidTransition as exc:
                self._illegal(exc, fill.ts_ns)
                return False
        price = fill.price
        if order.filled_qty:
            filled = order.filled_qty + qty
            entry.notional += qty * price
            avg = entry.notional / filled
        else:  # the first fill: its price is the average (qty x price / qty, exactly)
            filled = qty
            avg = price
            if status is not _FILLED:
                entry.notional = qty * price
        seq = entry.seq = entry.seq + 1
        ts = fill.ts_ns
        entry.order = new = order.filled(status, filled, avg, order.fee + fill.fee,
                                         fill.fee_currency, ts, seq)
        self.book.filled(entry, qty, status is _FILLED)
        self._publish(OrderFilled(new, seq, ts, {}, fill=fill))
        return True

    def _slippage_alert(self, order: Order, fill: Fill, decision: Decimal) -> None:
        bps = (fill.price - decision) / decision * (10_000 if order.side is _BUY else -10_000)
        self._alert(AlertSeverity.WARNING, "large slippage",
                    f"{describe(order)}: filled {fill.price} vs decision {decision} "
                    f"({bps:.1f} bps)", fill.ts_ns, order)

    def _illegal(self, exc: InvalidTransition, ts: int) -> None:
        self.counts["illegal"] += 1
        _log.error("%s", exc)
        self._alert(AlertSeverity.ERROR, "illegal order transition", str(exc), ts, exc.order)

    def _alert(self, severity: AlertSeverity, title: str, message: str, ts: int,
               order: Order | None = None) -> None:
        # the journal gets what MQTT and the alerts table get (order fills only at debug)
        _log.log(_LOG_LEVEL[severity], "%s: %s", title, message)
        self._publish(Alert(
            severity=severity, category="oms", title=title, message=message, ts_ns=ts,
            symbol=None if order is None else order.symbol,
            order_id=None if order is None else order.id,
            strategy_id=None if order is None else order.strategy_id))


def describe(order: Order) -> str:
    """One line naming an order, for alerts."""
    return (f"{order.side.value} {order.qty} {order.symbol} {order.type.value} "
            f"[{order.strategy_id or '-'}] {order.client_order_id[:8]}")

