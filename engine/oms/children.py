"""The OMS's emulation side: emulated stops, TWAP/VWAP children, restart restore.

Split from :mod:`engine.oms.manager` by responsibility: this part creates orders the
strategy never sent itself (children, stops sent on trigger) and takes working orders back
after a restart. It relies on the transition methods of :class:`OrderManager`.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from engine.ids import ClientOrderId, OrderId
from engine.model import (
    ZERO,
    AlertSeverity,
    Fill,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from engine.oms.book import Entry, entry_for
from engine.oms.commands import AlgoParams, RestoredOrder
from engine.oms.stops import StopEmulator

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.clock import Clock
    from engine.execution import GatewayCapabilities
    from engine.oms.algos import AlgoExecutor
    from engine.oms.book import OrderBook
    from engine.oms.fastobj import IdGenerator
    from engine.oms.manager import PriceView

__all__ = ["ChildOrders", "is_rollup"]


_VENUE_TYPE: Final = {OrderType.STOP_LOSS: OrderType.MARKET, OrderType.STOP_LIMIT: OrderType.LIMIT}
_ALGO_TYPES: Final = frozenset({OrderType.TWAP, OrderType.VWAP})


def is_rollup(order: Order, fill: Fill) -> bool:
    """True for a parent's ``OrderFilled`` that repeats a child's fill.

    Whoever counts fills (portfolio, strategies' ``on_fill``) must skip these; the store's
    trades insert ignores them by its unique (exchange, exchange_trade_id) key.
    """
    return fill.order_id != order.id


def venue_version(order: Order) -> Order:
    """What the venue is sent for an emulated stop once triggered (market or limit)."""
    return order.replace(type=_VENUE_TYPE[order.type], stop_price=None)


class ChildOrders:
    """Base of :class:`OrderManager`: stops, children of algo parents, restore.

    A base class rather than a mixin so that the compiled build (``engine.native``) can
    make the OMS one native class; the attributes and methods below are set and defined by
    :class:`~engine.oms.transitions.OrderTransitions` and :class:`OrderManager`.
    """

    book: OrderBook
    ids: IdGenerator
    prices: PriceView
    algos: AlgoExecutor
    clock: Clock
    capabilities: GatewayCapabilities
    _route: Callable[[Order], str | None]

    def _admit(self, order: Order, algo: AlgoParams | None, now: int) -> Order:
        raise NotImplementedError  # OrderManager

    def _apply_fill(self, entry: Entry, fill: Fill) -> bool:
        raise NotImplementedError  # OrderTransitions

    def _apply_close(self, entry: Entry, kind: str, ts: int, payload: dict[str, Any]) -> None:
        raise NotImplementedError  # OrderTransitions

    def _cancel_entry(self, entry: Entry, reason: str) -> bool:
        raise NotImplementedError  # OrderManager

    def _alert(self, severity: AlertSeverity, title: str, message: str, ts: int,
               order: Order | None = None) -> None:
        raise NotImplementedError  # OrderTransitions

    def __init__(self) -> None:
        self.stops = StopEmulator()
        self._children: dict[OrderId, dict[ClientOrderId, Entry]] = {}

    # -- children (AlgoHost) ---------------------------------------------------------------

    def add_child(self, parent_id: OrderId, entry: Entry) -> None:
        """Link a working child to its parent."""
        self._children.setdefault(parent_id, {})[entry.order.client_order_id] = entry

    def working_child_qty(self, parent: Entry) -> Decimal:
        """Unfilled quantity of the parent's working children."""
        kids = self._children.get(parent.order.id)
        if not kids:
            return ZERO
        return sum((e.order.qty - e.order.filled_qty for e in kids.values()
                    if not e.order.status.is_terminal), ZERO)

    def submit_child(self, parent: Entry, qty: Decimal, params: AlgoParams,
                     ts_ns: int) -> None:
        """Send one child of ``parent`` (market, or IOC limit ``child_limit_bps`` through)."""
        p = parent.order
        oid = self.ids.order_id()
        limit: Decimal | None = None
        order_type = OrderType.MARKET
        tif = p.time_in_force
        last = self.prices.last_price(p.symbol)
        if params.child_limit_bps is not None and last is not None:
            order_type = OrderType.LIMIT
            sign = 1 if p.side is OrderSide.BUY else -1
            limit = last * (10_000 + sign * params.child_limit_bps) / 10_000
            tif = TimeInForce.IOC
        child = Order(
            oid, ClientOrderId(oid.hex), p.venue, p.symbol, p.side, order_type, qty, ts_ns,
            p.strategy_id, tif, limit, None, p.reduce_only, p.id, OrderStatus.PENDING, ZERO,
            None, ZERO, None, None, None, ts_ns, 1)
        self._admit(child, None, ts_ns)

    def child_filled(self, parent_id: OrderId, fill: Fill) -> None:
        """Roll a child's fill up into its parent."""
        parent = self.book.by_order_id(parent_id)
        if parent is None or parent.order.status.is_terminal:
            return  # a child still filling after its parent was cancelled: its own fill counts
        if self._apply_fill(parent, fill) and (
                parent.order.status.is_terminal):
            self.algos.stop(parent)
            self._children.pop(parent_id, None)

    def cancel_children(self, parent: Entry, reason: str) -> None:
        """Cancel the parent's working children."""
        for entry in list(self._children.get(parent.order.id, {}).values()):
            if not entry.order.status.is_terminal:
                self._cancel_entry(entry, f"parent {reason}")

    def finish_parent(self, parent: Entry, ts_ns: int) -> None:
        """Schedule over, no child working: expire the parent unless already filled."""
        if parent.order.status.is_terminal:
            return
        self.algos.stop(parent)
        self._children.pop(parent.order.id, None)
        self._apply_close(parent, "expired", ts_ns,
                          {"reason": "schedule ended", "unfilled": str(parent.order.remaining_qty)})

    def _after_close(self, entry: Entry, ts: int) -> None:
        pid = entry.order.parent_id
        if pid is None:
            return
        parent = self.book.by_order_id(pid)
        if parent is None or parent.order.status.is_terminal:
            return
        if self.algos.schedule_over(parent) and self.working_child_qty(parent) == 0:
            self.finish_parent(parent, ts)

    # -- restart ---------------------------------------------------------------------------

    def restore(self, orders: Iterable[RestoredOrder]) -> int:
        """Take back working orders loaded at start-up; re-arm stops, resume schedules.

        Orders already at a venue that keeps orders across restarts are left there; for a
        paper venue they are submitted again (same client order id). Returns how many.
        """
        items = [r for r in orders if not r.order.status.is_terminal]
        items.sort(key=lambda r: r.order.parent_id is not None, reverse=True)  # children first
        resubmit = not self.capabilities.orders_survive_restart
        for r in items:
            order = r.order
            emulated = "algo" if order.type in _ALGO_TYPES else (
                "stop" if order.type in _VENUE_TYPE
                and order.type not in self.capabilities.order_types else "")
            entry = entry_for(order, r.decision_price, emulated)
            entry.seq = r.last_seq
            entry.triggered = r.last_kind == "triggered" or (
                emulated == "stop" and order.filled_qty > 0)
            entry.notional = order.filled_qty * (order.avg_fill_price or ZERO)
            self.book.add(entry)
            if order.parent_id is not None:
                self.add_child(order.parent_id, entry)
        now = self.clock.now_ns()
        for r in items:
            found = self.book.get(r.order.client_order_id)
            assert found is not None
            entry = found
            if entry.emulated == "algo":
                if r.algo is None:
                    self._apply_close(entry, "expired", now, {"reason": "algo schedule lost"})
                else:
                    self.algos.start(entry, r.algo, r.algo_start_ns or r.order.created_ns)
            elif entry.emulated == "stop" and not entry.triggered:
                self.stops.arm(entry)
            elif resubmit:
                order = entry.order
                if entry.emulated == "stop":
                    order = venue_version(order)
                entry.routed_late = entry.order.status is not OrderStatus.PENDING
                refused = self._route(order)
                if refused is not None:
                    self._apply_close(entry, "cancelled", now, {"reason": refused})
        if items:
            self._alert(AlertSeverity.INFO, "orders restored",
                        f"{len(items)} working orders restored ({len(self.stops)} emulated "
                        f"stops, {len(self.algos)} algo parents)", now)
        return len(items)

