"""The order manager: intents in, order events out, every transition checked.

``submit`` turns a :class:`SubmitOrder` into an :class:`~engine.model.Order` (ids made here:
UUIDv7 order id, client order id derived from it), runs the pre-trade risk check and then
either rejects it (``OrderRejected``, seq 1) or publishes ``OrderSubmitted`` (seq 1) and
hands it on: to the gateway through the router, to the stop emulator, or to the TWAP/VWAP
executor. Gateway reports come back through :meth:`OrderManager.on_report`; each one is
applied through :func:`engine.oms.states.next_status` and published as exactly one order
event with the next seq (:mod:`engine.oms.transitions`). An illegal report is logged,
alerted and counted, never applied.

Everything here is synchronous: with a paper gateway an intent is filled, and the portfolio
updated, before ``submit`` returns when a quote is known.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, Final, Protocol

import msgspec

from engine.bus import MessageBus
from engine.clock import Clock
from engine.events import OrderSubmitted
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
from engine.ids import OrderId, StrategyId, Symbol, Venue
from engine.model import (
    NS_PER_S,
    ZERO,
    AlertSeverity,
    Bar,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    TradeTick,
    to_decimal,
)
from engine.oms.algos import AlgoExecutor
from engine.oms.book import Entry, OrderBook
from engine.oms.children import venue_version
from engine.oms.commands import AlgoParams, SubmitOrder
from engine.oms.fastobj import IdGenerator
from engine.oms.profile import OmsMarketTap, VolumeProfile
from engine.oms.router import OrderRouter
from engine.oms.transitions import OrderTransitions, describe

__all__ = ["OmsConfig", "OrderManager", "PreTradeCheck", "PriceView"]

_log: Final = logging.getLogger(__name__)



_PENDING: Final = OrderStatus.PENDING
_BUY: Final = OrderSide.BUY
_MARKET: Final = OrderType.MARKET


class OmsConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[oms]``: order management settings."""

    alert_fills: bool = True
    slippage_alert_bps: Decimal = Decimal(50)
    keep_closed_orders: int = 10_000
    execution_queue: int = 1000
    submit_timeout_s: float = 10.0
    submit_retries: int = 2
    volume_bucket_s: int = 60
    volume_profile: bool = True
    """Learn the volume profile from bars (VWAP weights); off, VWAP slices equally and a
    bar costs the OMS one set test (backtests without VWAP)."""


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


class OrderManager(OrderTransitions):
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
        OrderTransitions.__init__(self)
        self._stop_symbols = self.stops.symbols
        self.market_tap = OmsMarketTap(self.profile if self.config.volume_profile else None,
                                 self._stop_symbols, self._on_stop_bar, self._on_stop_trade)
        """The bar and trade handlers the stack subscribes (profile and stops, compiled)."""
        self._publish = bus.publish
        self._now = clock.now_ns
        # a cancel on its way (the router retries it) is not sent again before the router
        # has given up on it
        self._cancel_resend_ns = int(self.config.submit_timeout_s * NS_PER_S
                                     * (self.config.submit_retries + 1))
        self._order_ids = self.ids.order_ids
        self._fill_id = self.ids.fill_id
        self._get_working = self.book.get_working
        self._alert_fills = self.config.alert_fills
        self._last_price = prices.last_price
        self._check = risk.check
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

    @property
    def router(self) -> OrderRouter:
        """Where orders go (a direct call or a bounded queue); may be replaced."""
        return self._router

    @router.setter
    def router(self, router: OrderRouter) -> None:
        self._router = router
        self._route = router.submit

    # -- intents ---------------------------------------------------------------------------

    def submit(self, cmd: SubmitOrder, *, strategy_id: StrategyId | None = None) -> Order:
        """Risk-check and send an intent; return the order as it stands afterwards.

        ``strategy_id``, when given, is the order's instead of the intent's (what a
        strategy's context attaches: no copy of the intent is made for it).
        """
        cmd.validate()
        now = self._now()
        oid, cid = self._order_ids()
        order = Order(
            oid, cid, cmd.venue or self.venue, cmd.symbol, cmd.side, cmd.type, cmd.qty, now,
            cmd.strategy_id if strategy_id is None else strategy_id, cmd.time_in_force,
            cmd.limit_price, cmd.stop_price, cmd.reduce_only, None, _PENDING, ZERO, None, ZERO,
            None, None, None, now, 1)
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

    # -- market data: market_tap (compiled) calls these while a stop is armed --------------

    def _on_stop_trade(self, tick: TradeTick) -> None:
        p = to_decimal(tick.price)
        self._fire_stops(self.stops.triggered(tick.symbol, p, p, p), tick.ts_ns)

    def _on_stop_bar(self, bar: Bar) -> None:
        fired = self.stops.triggered(bar.symbol, to_decimal(bar.open), to_decimal(bar.high),
                                     to_decimal(bar.low))
        self._fire_stops(fired, bar.ts_ns)

    # -- reports from the gateway ----------------------------------------------------------

    def on_report(self, report: ExecutionReport) -> None:
        """Apply a gateway report (the gateway's report handler)."""
        entry = self._get_working(report.client_order_id) or self.book.get(
            report.client_order_id)
        if entry is None:
            self.counts["unknown_reports"] += 1
            self._alert(AlertSeverity.ERROR, "unknown order report",
                        f"{type(report).__name__} for unknown {report.client_order_id}",
                        report.ts_ns)
            return
        self._handlers[type(report)](entry, report)

    # -- intake --------------------------------------------------------------------------

    def _admit(self, order: Order, algo: AlgoParams | None, now: int) -> Order:
        price = self._last_price(order.symbol)
        reason = self._check(order, price)
        if reason is not None:
            return self._reject_new(order, price, reason, now)
        self.counts["submitted"] += 1
        t = order.type
        emulated = "" if t is _MARKET and algo is None else (
            "algo" if algo is not None else
            "stop" if (t is OrderType.STOP_LOSS or t is OrderType.STOP_LIMIT)
            and t not in self.capabilities.order_types else "")
        entry = Entry(order, price, emulated, order.parent_id is None, order.side is _BUY, 1)
        self.book.add(entry)
        if order.parent_id is not None:
            self.add_child(order.parent_id, entry)
        payload: dict[str, Any] = {} if price is None else {"decision_price": str(price)}
        if algo is not None:
            payload["algo"] = algo.to_payload()
        self._publish(OrderSubmitted(order, 1, now, payload))
        if not emulated:
            refused = self._route(order)
            if refused is not None:
                self._apply_close(entry, "rejected", now, {"reason": refused, "source": "oms"})
        elif emulated == "algo":
            assert algo is not None
            self._apply_accept(entry, now, None, {"emulated": True})
            self.algos.start(entry, algo, now)
        else:
            self._apply_accept(entry, now, None, {"emulated": True})
            self.stops.arm(entry)
        return entry.order

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
        sent = entry.cancel_sent_ns
        if sent is not None and ts - sent < self._cancel_resend_ns:
            return True  # asked already and not yet confirmed: a venue may refuse a second
        if not self.router.cancel(entry.order):
            self.counts["cancel_refused"] += 1
            self._alert(AlertSeverity.ERROR, "cancel not sent",
                        f"{describe(entry.order)}: cancel queue full", ts, entry.order)
            return False
        entry.cancel_sent_ns = ts
        return True


    def _fire_stops(self, fired: list[tuple[Entry, Decimal]], ts: int) -> None:
        for entry, price in fired:
            if not self._apply_trigger(entry, ts, price):
                continue
            order = entry.order
            entry.routed_late = True
            refused = self.router.submit(venue_version(order))
            if refused is not None:
                self._apply_close(entry, "cancelled", ts, {"reason": refused})


    # -- observation -----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """For /status."""
        return {"open_orders": len(self.book), "emulated_stops": len(self.stops),
                "algo_parents": len(self.algos), **self.counts}

