"""The order manager: intents in, order events out, every transition checked.

``submit`` turns a :class:`SubmitOrder` into an :class:`~engine.model.Order` (ids made here:
UUIDv7 order id, client order id derived from it), runs the pre-trade risk check and then
either rejects it (``OrderRejected``, seq 1) or publishes ``OrderSubmitted`` (seq 1) and
hands it on: to the gateway through the router, to the stop emulator, or to the TWAP/VWAP
executor. Gateway reports come back through :meth:`OrderManager.on_report`; each one is
applied through :func:`engine.oms.states.next_status` and published as exactly one order
event with the next seq. An illegal report is logged, alerted and counted, never applied.

Everything here is synchronous: with a paper gateway an intent is filled, and the portfolio
updated, before ``submit`` returns when a quote is known.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, Protocol

import msgspec

from engine.bus import MessageBus
from engine.clock import Clock
from engine.events import (
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
)
from engine.execution import (
    ExecutionReport,
    GatewayCapabilities,
    VenueAccepted,
    VenueCancelled,
    VenueExpired,
    VenueFilled,
    VenueRejected,
    VenueTriggered,
)
from engine.ids import ClientOrderId, OrderId, StrategyId, Symbol, Venue
from engine.model import (
    ZERO,
    Alert,
    AlertSeverity,
    Bar,
    Fill,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    TradeTick,
    to_decimal,
)
from engine.oms.algos import AlgoExecutor, VolumeProfile
from engine.oms.book import Entry, OrderBook
from engine.oms.children import ChildOrders
from engine.oms.commands import AlgoParams, SubmitOrder
from engine.oms.fastobj import IdGenerator, constructor, evolver
from engine.oms.router import OrderRouter
from engine.oms.states import InvalidTransition, next_status

__all__ = ["OmsConfig", "OrderManager", "PreTradeCheck", "PriceView"]

_log = logging.getLogger(__name__)

_new_order = constructor(Order)
_new_fill = constructor(Fill)
_submitted = constructor(OrderSubmitted)
_accepted = constructor(OrderAccepted)
_rejected = constructor(OrderRejected)
_triggered = constructor(OrderTriggered)
_filled = constructor(OrderFilled)
_cancelled = constructor(OrderCancelled)
_expired = constructor(OrderExpired)
_ev_accept = evolver(Order, ("status", "exchange_order_id", "updated_ns", "version"))
_ev_close = evolver(Order, ("status", "reject_reason", "updated_ns", "version"))
_ev_touch = evolver(Order, ("updated_ns", "version"))
_ev_fill = evolver(Order, ("status", "filled_qty", "avg_fill_price", "fee", "fee_currency",
                           "updated_ns", "version"))
_ev_venue = evolver(Order, ("type", "stop_price"))
_ev_exchange_id = evolver(Order, ("exchange_order_id",))

_PENDING = OrderStatus.PENDING
_EMULATED_STOP_TYPE = {OrderType.STOP_LOSS: OrderType.MARKET, OrderType.STOP_LIMIT: OrderType.LIMIT}
_CLOSE_EVENTS = {"rejected": _rejected, "cancelled": _cancelled, "expired": _expired}


class OmsConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[oms]``: order management settings."""

    alert_fills: bool = True
    slippage_alert_bps: Decimal = Decimal(50)
    keep_closed_orders: int = 10_000
    execution_queue: int = 1000
    submit_timeout_s: float = 10.0
    submit_retries: int = 2
    volume_bucket_s: int = 60


class PreTradeCheck(Protocol):
    """The risk engine as the OMS sees it."""

    def check(self, order: Order, price: Decimal | None) -> str | None:
        """None to pass, else the reason to reject (the risk engine records it)."""
        ...


class PriceView(Protocol):
    """Last traded prices (the portfolio's marks)."""

    def last_price(self, symbol: Symbol) -> Decimal | None:
        """The last price of ``symbol`` or None."""
        ...


class OrderManager(ChildOrders):
    """The OMS of one account: see the module docstring."""

    name = "oms"

    def __init__(
        self, *, bus: MessageBus, clock: Clock, venue: Venue, risk: PreTradeCheck,
        router: OrderRouter, prices: PriceView, capabilities: GatewayCapabilities,
        config: OmsConfig | None = None, ids: IdGenerator | None = None,
        book: OrderBook | None = None,
    ) -> None:
        self.config = config or OmsConfig()
        self.bus = bus
        self.clock = clock
        self.venue = venue
        self.risk = risk
        self.router = router
        self.prices = prices
        self.capabilities = capabilities
        self.ids = ids or IdGenerator()
        self.book = book if book is not None else OrderBook(self.config.keep_closed_orders)
        self.profile = VolumeProfile(self.config.volume_bucket_s)
        self.algos = AlgoExecutor(clock, self, self.profile)
        ChildOrders.__init__(self)
        self._publish = bus.publish
        bps = self.config.slippage_alert_bps
        self._slip_up = (10_000 + bps) / Decimal(10_000) if bps > 0 else None
        self._slip_down = (10_000 - bps) / Decimal(10_000)
        self._handlers: dict[type, Any] = {
            VenueFilled: self._on_filled, VenueAccepted: self._on_accepted,
            VenueRejected: self._on_rejected, VenueCancelled: self._on_cancelled,
            VenueExpired: self._on_expired, VenueTriggered: self._on_venue_triggered,
        }
        self.counts = {"submitted": 0, "rejected": 0, "fills": 0, "illegal": 0,
                       "unknown_reports": 0, "duplicate_fills": 0, "cancel_refused": 0}

    # -- intents ---------------------------------------------------------------------------

    def submit(self, cmd: SubmitOrder) -> Order:
        """Risk-check and send an intent; return the order as it stands afterwards."""
        cmd.validate()
        now = self.clock.now_ns()
        oid = self.ids.order_id()
        order = _new_order(
            oid, ClientOrderId(oid.hex), cmd.venue or self.venue, cmd.symbol, cmd.side,
            cmd.type, cmd.qty, now, cmd.strategy_id, cmd.time_in_force, cmd.limit_price,
            cmd.stop_price, cmd.reduce_only, None, _PENDING, ZERO, None, ZERO, None, None,
            None, now, 1)
        return self._admit(order, cmd.algo, now)

    def cancel(self, order_id: OrderId, reason: str = "requested") -> bool:
        """Cancel a working order; False when it is unknown, closed or could not be queued."""
        entry = self.book.by_order_id(order_id)
        if entry is None or entry.order.status.is_terminal:
            return False
        return self._cancel_entry(entry, reason)

    def cancel_all(
        self, *, strategy_id: StrategyId | None = None, symbol: Symbol | None = None,
        reason: str = "requested",
    ) -> int:
        """Cancel every working order (of one strategy / symbol); return how many."""
        n = 0
        for entry in self.book.working():
            o = entry.order
            if o.parent_id is not None and self.book.by_order_id(o.parent_id) is not None:
                continue  # children go with their parent
            if (strategy_id is None or o.strategy_id == strategy_id) and (
                    symbol is None or o.symbol == symbol):
                n += self._cancel_entry(entry, reason)
        return n

    def get(self, order_id: OrderId) -> Order | None:
        """The current version of an order (working or recently closed)."""
        entry = self.book.by_order_id(order_id)
        return None if entry is None else entry.order

    def open_orders(self, strategy_id: StrategyId | None = None) -> list[Order]:
        """Working orders, optionally of one strategy."""
        return [e.order for e in self.book.working()
                if strategy_id is None or e.order.strategy_id == strategy_id]

    # -- market data (stop emulation, volume profile) --------------------------------------

    def on_trade(self, tick: TradeTick) -> None:
        """Trigger emulated stops on a trade."""
        if self.stops.watching(tick.symbol):
            p = to_decimal(tick.price)
            self._fire_stops(self.stops.triggered(tick.symbol, p, p, p), tick.ts_ns)

    def on_bar(self, bar: Bar) -> None:
        """Learn the volume profile; trigger emulated stops on the bar's range."""
        self.profile.on_bar(bar)
        if self.stops.watching(bar.symbol):
            fired = self.stops.triggered(bar.symbol, to_decimal(bar.open), to_decimal(bar.high),
                                         to_decimal(bar.low))
            self._fire_stops(fired, bar.ts_ns)

    # -- reports from the gateway ----------------------------------------------------------

    def on_report(self, report: ExecutionReport) -> None:
        """Apply a gateway report (the gateway's report handler)."""
        entry = self.book.get(report.client_order_id)
        if entry is None:
            self.counts["unknown_reports"] += 1
            self._alert(AlertSeverity.ERROR, "unknown order report",
                        f"{type(report).__name__} for unknown {report.client_order_id}",
                        report.ts_ns)
            return
        self._handlers[type(report)](entry, report)

    def _on_accepted(self, entry: Entry, r: VenueAccepted) -> None:
        if entry.routed_late and entry.order.status is not _PENDING:
            entry.order = _ev_exchange_id(entry.order, r.exchange_order_id)
            return
        self._apply_accept(entry, r.ts_ns, r.exchange_order_id, None)

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
        trade_ids = entry.trade_ids
        if trade_ids is None:
            entry.trade_ids = {r.trade_id}
        elif r.trade_id in trade_ids:
            self.counts["duplicate_fills"] += 1
            return
        else:
            trade_ids.add(r.trade_id)
        order = entry.order
        fill = _new_fill(
            self.ids.fill_id(), order.id, order.client_order_id, order.venue, order.symbol,
            order.side, r.qty, r.price, r.ts_ns, r.trade_id, r.fee, r.fee_currency, r.liquidity,
            order.strategy_id, entry.decision_price)
        if self._apply_fill(entry, fill):
            self.counts["fills"] += 1
            self._after_fill(entry, fill)

    # -- transitions -----------------------------------------------------------------------

    def _admit(self, order: Order, algo: AlgoParams | None, now: int) -> Order:
        price = self.prices.last_price(order.symbol)
        reason = self.risk.check(order, price)
        if reason is not None:
            self.counts["rejected"] += 1
            rejected = _ev_close(order, OrderStatus.REJECTED, reason, now, 1)
            entry = Entry(rejected, price)
            entry.seq = 1
            self.book.add_closed(entry)
            self._publish(_rejected(rejected, 1, now, {"reason": reason, "source": "risk"}))
            return rejected
        self.counts["submitted"] += 1
        t = order.type
        emulated = "algo" if algo is not None else (
            "stop" if (t is OrderType.STOP_LOSS or t is OrderType.STOP_LIMIT)
            and t not in self.capabilities.order_types else "")
        entry = Entry(order, price, emulated)
        entry.seq = 1
        self.book.add(entry)
        if order.parent_id is not None:
            self.add_child(order.parent_id, entry)
        payload: dict[str, Any] = {} if price is None else {"decision_price": str(price)}
        if algo is not None:
            payload["algo"] = algo.to_payload()
        self._publish(_submitted(order, 1, now, payload))
        if emulated == "algo":
            assert algo is not None
            self._apply_accept(entry, now, None, {"emulated": True})
            self.algos.start(entry, algo, now)
        elif emulated == "stop":
            self._apply_accept(entry, now, None, {"emulated": True})
            self.stops.arm(entry)
        else:
            refused = self.router.submit(order)
            if refused is not None:
                self._apply_close(entry, "rejected", now, {"reason": refused, "source": "oms"})
        return entry.order

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
        entry.order = new = _ev_accept(order, status, exchange_id, ts, seq)
        self._publish(_accepted(new, seq, ts, payload or {}))

    def _apply_trigger(self, entry: Entry, ts: int, price: Decimal) -> bool:
        try:
            next_status(entry.order, "triggered")
        except InvalidTransition as exc:
            self._illegal(exc, ts)
            return False
        seq = entry.seq + 1
        entry.seq = seq
        entry.triggered = True
        entry.order = new = _ev_touch(entry.order, ts, seq)
        self._publish(_triggered(new, seq, ts, {"trigger_price": str(price)}))
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
        entry.order = new = _ev_close(order, status, reason, ts, seq)
        self.book.close(entry, order.qty - order.filled_qty)
        if entry.emulated == "stop" and not entry.triggered:
            self.stops.disarm(entry)
        self._publish(_CLOSE_EVENTS[kind](new, seq, ts, payload))
        if kind == "rejected":
            self.counts["rejected"] += 1
            self._alert(AlertSeverity.WARNING, "order rejected", f"{_describe(new)}: "
                        f"{payload.get('reason')}", ts, new)
        self._after_close(entry, ts)

    def _apply_fill(self, entry: Entry, fill: Fill) -> bool:
        order = entry.order
        qty = fill.qty
        try:
            status = next_status(order, "filled", qty)
        except InvalidTransition as exc:
            self._illegal(exc, fill.ts_ns)
            return False
        filled = order.filled_qty + qty
        entry.notional += qty * fill.price
        seq = entry.seq + 1
        entry.seq = seq
        entry.order = new = _ev_fill(order, status, filled, entry.notional / filled,
                                     order.fee + fill.fee, fill.fee_currency, fill.ts_ns, seq)
        self.book.filled(entry, qty)
        if status is OrderStatus.FILLED:
            self.book.close(entry, ZERO)
        self._publish(_filled(new, seq, fill.ts_ns, {}, fill))
        return True

    def _after_fill(self, entry: Entry, fill: Fill) -> None:
        order = entry.order
        cfg = self.config
        if cfg.alert_fills:
            self._alert(AlertSeverity.INFO, "order filled",
                        f"{_describe(order)}: {fill.qty} @ {fill.price}", fill.ts_ns, order)
        decision = entry.decision_price
        if decision is not None and self._slip_up is not None:
            buy = order.side is OrderSide.BUY
            if fill.price > decision * self._slip_up if buy else (
                    fill.price < decision * self._slip_down):
                bps = (fill.price - decision) / decision * (10_000 if buy else -10_000)
                self._alert(AlertSeverity.WARNING, "large slippage",
                            f"{_describe(order)}: filled {fill.price} vs decision {decision} "
                            f"({bps:.1f} bps)", fill.ts_ns, order)
        if order.parent_id is not None:
            self.child_filled(order.parent_id, fill)
            if order.status is OrderStatus.FILLED:
                self._after_close(entry, fill.ts_ns)

    def _cancel_entry(self, entry: Entry, reason: str) -> bool:
        ts = self.clock.now_ns()
        if entry.emulated == "algo":
            self.algos.stop(entry)
            self._apply_close(entry, "cancelled", ts, {"reason": reason})
            self.cancel_children(entry, reason)
            return True
        if entry.emulated == "stop" and not entry.triggered:
            self._apply_close(entry, "cancelled", ts, {"reason": reason})
            return True
        if not self.router.cancel(entry.order):
            self.counts["cancel_refused"] += 1
            self._alert(AlertSeverity.ERROR, "cancel not sent",
                        f"{_describe(entry.order)}: cancel queue full", ts, entry.order)
            return False
        return True

    def _fire_stops(self, fired: list[tuple[Entry, Decimal]], ts: int) -> None:
        for entry, price in fired:
            if not self._apply_trigger(entry, ts, price):
                continue
            order = entry.order
            entry.routed_late = True
            refused = self.router.submit(_ev_venue(order, _EMULATED_STOP_TYPE[order.type], None))
            if refused is not None:
                self._apply_close(entry, "cancelled", ts, {"reason": refused})

    def _illegal(self, exc: InvalidTransition, ts: int) -> None:
        self.counts["illegal"] += 1
        _log.error("%s", exc)
        self._alert(AlertSeverity.ERROR, "illegal order transition", str(exc), ts, exc.order)

    def _alert(self, severity: AlertSeverity, title: str, message: str, ts: int,
               order: Order | None = None) -> None:
        self._publish(Alert(
            severity=severity, category="oms", title=title, message=message, ts_ns=ts,
            symbol=None if order is None else order.symbol,
            order_id=None if order is None else order.id,
            strategy_id=None if order is None else order.strategy_id))

    # -- observation -----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """For /status."""
        return {"open_orders": len(self.book), "emulated_stops": len(self.stops),
                "algo_parents": len(self.algos), **self.counts}


def _describe(order: Order) -> str:
    return (f"{order.side.value} {order.qty} {order.symbol} {order.type.value} "
            f"[{order.strategy_id or '-'}] {order.client_order_id[:8]}")
