"""TWAP/VWAP slicing, emulated stops, and restoring both after a restart."""

from __future__ import annotations

from decimal import Decimal

from trading_harness import BTC, T0, D, Harness, ManualHarness

from engine.events import OrderEvent, OrderFilled, OrderSubmitted
from engine.execution import GatewayCapabilities, VenueAccepted, VenueFilled
from engine.ids import Venue
from engine.model import NS_PER_S, Bar, LiquiditySide, OrderStatus, OrderType
from engine.oms import AlgoParams, RestoredOrder, is_rollup

S = OrderStatus


def restored_from(events: list[OrderEvent]) -> list[RestoredOrder]:
    """What ``load_open_orders`` returns: each working order's last event + its algo."""
    last: dict[object, OrderEvent] = {}
    submitted: dict[object, OrderEvent] = {}
    for e in events:
        last[e.order.id] = e
        if isinstance(e, OrderSubmitted):
            submitted[e.order.id] = e
    out = []
    for oid, e in last.items():
        if e.order.status.is_terminal:
            continue
        sub = submitted[oid]
        algo = sub.payload.get("algo")
        out.append(RestoredOrder(
            order=e.order, last_seq=e.seq, last_kind=e.kind,
            algo=None if algo is None else AlgoParams.from_payload(algo),
            algo_start_ns=sub.ts_ns, decision_price=None))
    return out


def test_twap_child_schedule_and_parent_rollup() -> None:
    h = Harness()
    h.trade(100.0)
    parent = h.submit("buy", 1, "twap", algo=AlgoParams(duration_s=60, slices=4,
                                                        qty_step=D("0.01")))
    t_start = h.clock.now_ns()
    for _ in range(4):
        h.trade(100.0, qty=10, ms=1)  # fills the working child
        h.step(15_000 - 1)
    children = [e.order for e in h.rec.of(OrderSubmitted) if e.order.parent_id == parent.id]
    assert [c.qty for c in children] == [D("0.25")] * 4
    assert [c.created_ns - t_start for c in children] == [0, 15 * NS_PER_S, 30 * NS_PER_S,
                                                          45 * NS_PER_S]
    assert all(c.type is OrderType.MARKET for c in children)
    final = h.oms.get(parent.id)
    assert final is not None and final.status is S.FILLED and final.filled_qty == 1
    assert h.rec.kinds(parent.id) == ["submitted", "accepted"] + ["filled"] * 4
    rollups = [e for e in h.rec.of(OrderFilled) if e.order.id == parent.id]
    assert all(is_rollup(e.order, e.fill) for e in rollups)
    assert h.portfolio.position_qty(BTC) == 1  # roll-ups are not booked twice
    assert len(h.rec.fills()) == 4


def test_twap_makes_up_a_rejected_child_and_expires_unfilled() -> None:
    h = Harness()
    h.trade(100.0)
    parent = h.submit("sell", 1, "twap", algo=AlgoParams(duration_s=20, slices=2))
    # no trades: the first child (0.5) stays working; the second slice tops up nothing
    h.step(10_000)
    h.step(10_000)
    working = [o for o in h.oms.open_orders() if o.parent_id == parent.id]
    assert [o.qty for o in working] == [D("0.5"), D("0.5")]
    h.oms.cancel(parent.id)
    assert h.oms.get(parent.id).status is S.CANCELLED  # type: ignore[union-attr]
    assert not [o for o in h.oms.open_orders() if o.parent_id == parent.id]


def test_twap_expires_when_children_cannot_fill() -> None:
    h = Harness()
    h.trade(100.0)
    parent = h.submit("buy", 1, "twap", algo=AlgoParams(
        duration_s=2, slices=2, child_limit_bps=D(10)))  # IOC limit children
    h.trade(200.0)  # far above the child limit: IOC cancelled
    h.step(1000)  # second slice: 1 (makes up the first), limit 200.2
    h.trade(300.0)
    final = h.oms.get(parent.id)
    assert final is not None and final.status is S.EXPIRED
    assert h.rec.order_events(parent.id)[-1].payload["reason"] == "schedule ended"
    kids = [e.order for e in h.rec.of(OrderSubmitted) if e.order.parent_id == parent.id]
    assert [k.qty for k in kids] == [D("0.5"), D(1)]


def test_vwap_slices_follow_the_volume_profile() -> None:
    h = Harness()
    minute = 60 * NS_PER_S
    day0 = T0 - T0 % (86_400 * NS_PER_S)
    for k, vol in enumerate([10.0, 30.0, 60.0]):  # yesterday's profile at three minutes
        h.bus.publish(Bar(Venue("paper"), BTC, "1m", day0 - 86_400 * NS_PER_S + k * minute,
                          100, 100, 100, 100, vol))
    h.clock.advance_to(day0 + 86_400 * NS_PER_S)
    h.trade(100.0, ms=0)
    h.clock.advance_to(day0 + 86_400 * NS_PER_S)
    parent = h.submit("buy", 1, "vwap", algo=AlgoParams(duration_s=180, slices=3))
    for _ in range(3):
        h.trade(100.0, qty=100)
        h.step(60_000 - 1)
    qtys = [e.order.qty for e in h.rec.of(OrderSubmitted) if e.order.parent_id == parent.id]
    assert qtys == [D("0.1"), D("0.3"), D("0.6")]


def test_emulated_stop_triggers_and_goes_to_the_venue_as_market() -> None:
    h = ManualHarness(capabilities=GatewayCapabilities())  # venue without stops
    h.trade(100.0)
    stop = h.submit("sell", 1, "stop_loss", stop_price=95)
    assert h.rec.kinds(stop.id) == ["submitted", "accepted"] and h.venue.submitted == []
    assert h.rec.order_events(stop.id)[1].payload == {"emulated": True}
    h.trade(96.0)
    h.trade(94.0)
    assert h.rec.kinds(stop.id) == ["submitted", "accepted", "triggered"]
    (sent,) = h.venue.submitted
    assert sent.type is OrderType.MARKET and sent.client_order_id == stop.client_order_id
    h.venue.report(VenueAccepted(client_order_id=sent.client_order_id, ts_ns=h.step()))
    h.venue.report(VenueFilled(client_order_id=sent.client_order_id, ts_ns=h.step(),
                               trade_id="v1", qty=D(1), price=D("93.9"), fee=D(0),
                               fee_currency=None, liquidity=LiquiditySide.TAKER))
    assert h.rec.kinds(stop.id)[-1] == "filled" and h.oms.counts["illegal"] == 0


def test_restart_never_drops_a_stop_or_a_twap() -> None:
    h = ManualHarness(capabilities=GatewayCapabilities())
    h.trade(100.0)
    stop = h.submit("sell", 1, "stop_loss", stop_price=95)
    parent = h.submit("buy", 2, "twap", algo=AlgoParams(duration_s=40, slices=4))
    h.step(10_000)  # second slice sent
    assert len(h.venue.submitted) == 2
    # "restart": a new engine restored from what the store recorded
    events = h.rec.of(OrderEvent)
    h2 = ManualHarness(capabilities=GatewayCapabilities(), start_ns=h.clock.now_ns() + 15_000
                       * 1_000_000)
    h2.trade(100.0)
    n = h2.oms.restore(restored_from(events))
    assert n == 4  # stop, parent, two working children
    assert h2.oms.status()["emulated_stops"] == 1 and h2.oms.status()["algo_parents"] == 1
    # the slice due now was sent at once (cumulative target 1.5 of 2, 1.0 already working)
    assert [o.qty for o in h2.venue.submitted] == [Decimal("0.5")]
    h2.trade(94.0)
    assert h2.rec.kinds(stop.id) == ["triggered"]
    assert h2.rec.order_events(stop.id)[0].seq == 3  # seqs continue
    assert h2.rec.alerts("orders restored")
    h2.oms.cancel(parent.id)
    assert h2.oms.get(parent.id).status is S.CANCELLED  # type: ignore[union-attr]


def test_paper_restart_resubmits_working_orders() -> None:
    h = Harness()
    h.trade(100.0)
    lim = h.submit("buy", 1, "limit", limit_price=90)
    events = h.rec.of(OrderEvent)
    h2 = Harness(start_ns=h.clock.now_ns() + NS_PER_S)
    h2.trade(100.0)
    assert h2.oms.restore(restored_from(events)) == 1
    assert h2.gateway.matcher.working() == 1
    h2.trade(89.0)
    assert h2.rec.kinds(lim.id) == ["filled"] and h2.oms.counts["illegal"] == 0
