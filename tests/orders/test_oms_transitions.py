"""The order state machine: every legal and illegal transition, seqs, ids, rejections."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from trading_harness import BTC, D, ManualHarness

from engine.clock import SimClock
from engine.events import OrderEvent, OrderFilled
from engine.execution import (
    ExecutionReport,
    VenueAccepted,
    VenueCancelled,
    VenueExpired,
    VenueFilled,
    VenueRejected,
    VenueTriggered,
)
from engine.ids import ClientOrderId, client_order_id_for
from engine.model import LiquiditySide, Order, OrderStatus
from engine.oms import LEGAL_TRANSITIONS, InvalidOrder, InvalidTransition, QueuedRouter, SubmitOrder
from engine.oms.states import EVENT_KINDS, next_status

S = OrderStatus
ALL_KINDS = EVENT_KINDS


def report(kind: str, cid: ClientOrderId, ts: int, qty: str = "0.4", trade: str = "t1"
           ) -> ExecutionReport:
    if kind == "accepted":
        return VenueAccepted(client_order_id=cid, ts_ns=ts, exchange_order_id="x1")
    if kind == "rejected":
        return VenueRejected(client_order_id=cid, ts_ns=ts, reason="venue says no")
    if kind == "triggered":
        return VenueTriggered(client_order_id=cid, ts_ns=ts, trigger_price=D(99))
    if kind == "filled":
        return VenueFilled(client_order_id=cid, ts_ns=ts, trade_id=trade, qty=D(qty),
                           price=D(100), fee=D("0.01"), fee_currency="USDT",
                           liquidity=LiquiditySide.TAKER)
    if kind == "cancelled":
        return VenueCancelled(client_order_id=cid, ts_ns=ts)
    return VenueExpired(client_order_id=cid, ts_ns=ts)


def order_in(h: ManualHarness, status: OrderStatus) -> Order:
    """Drive a fresh order (qty 1) into ``status`` through venue reports."""
    h.trade(100.0)
    o = h.submit(qty=1)
    cid, ts = o.client_order_id, h.step()
    steps = {
        S.PENDING: [], S.OPEN: ["accepted"], S.PARTIALLY_FILLED: ["accepted", "filled"],
        S.FILLED: ["accepted", "filled-all"], S.CANCELLED: ["accepted", "cancelled"],
        S.REJECTED: ["rejected"], S.EXPIRED: ["accepted", "expired"],
    }[status]
    for step in steps:
        if step == "filled-all":
            h.venue.report(report("filled", cid, ts, qty="1", trade="t0"))
        elif step == "filled":
            h.venue.report(report("filled", cid, ts, qty="0.4", trade="t0"))
        else:
            h.venue.report(report(step, cid, ts))
    current = h.oms.get(o.id)
    assert current is not None and current.status is status
    return current


def expected(status: OrderStatus, kind: str) -> OrderStatus | None:
    """The status after ``kind`` (a 0.4 fill), or None when illegal: from the table."""
    targets = {to for (frm, k, to) in LEGAL_TRANSITIONS if frm is status and k == kind}
    if not targets:
        return None
    if kind == "filled":
        return S.PARTIALLY_FILLED  # 0.4 never completes 1 (nor the 0.6 left after 0.4)
    (only,) = targets
    return only


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("status", list(OrderStatus))
def test_every_transition(status: OrderStatus, kind: str) -> None:
    h = ManualHarness()
    before = order_in(h, status)
    n_events = len(h.rec.order_events(before.id))
    illegal_before = h.oms.counts["illegal"]
    h.venue.report(report(kind, before.client_order_id, h.step(), trade="t-new"))
    after = h.oms.get(before.id)
    events = h.rec.order_events(before.id)
    want = expected(status, kind)
    if want is None:
        assert after == before  # never applied
        assert len(events) == n_events
        assert h.oms.counts["illegal"] == illegal_before + 1
        assert h.rec.alerts("illegal order transition")
    else:
        assert after is not None and after.status is want
        assert len(events) == n_events + 1
        last = events[-1]
        assert last.kind == kind and last.order == after
        assert last.seq == n_events + 1 == after.version
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


def test_table_is_the_documented_machine() -> None:
    pairs = {(f, t) for f, _, t in LEGAL_TRANSITIONS}
    assert (S.PENDING, S.OPEN) in pairs and (S.OPEN, S.PARTIALLY_FILLED) in pairs
    assert (S.PARTIALLY_FILLED, S.FILLED) in pairs and (S.PENDING, S.REJECTED) in pairs
    assert not any(f.is_terminal for f, _ in pairs)
    assert (S.OPEN, S.REJECTED) not in pairs and (S.PENDING, S.PENDING) not in pairs


def test_fill_sequence_and_overfill() -> None:
    h = ManualHarness()
    o = order_in(h, S.OPEN)
    cid = o.client_order_id
    h.venue.report(report("filled", cid, h.step(), qty="0.25", trade="a"))
    h.venue.report(report("filled", cid, h.step(), qty="0.25", trade="a"))  # duplicate trade
    assert h.oms.counts["duplicate_fills"] == 1
    h.venue.report(report("filled", cid, h.step(), qty="0.8", trade="b"))  # overfill
    assert h.oms.counts["illegal"] == 1
    h.venue.report(report("filled", cid, h.step(), qty="0.75", trade="c"))
    final = h.oms.get(o.id)
    assert final is not None and final.status is S.FILLED and final.filled_qty == 1
    assert final.avg_fill_price == 100 and final.fee == D("0.02")
    assert h.rec.kinds(o.id) == ["submitted", "accepted", "filled", "filled"]
    with pytest.raises(InvalidTransition):
        next_status(final, "cancelled")


def test_unknown_report_is_alerted(caplog: pytest.LogCaptureFixture) -> None:
    h = ManualHarness()
    h.venue.report(report("accepted", ClientOrderId("nope"), h.step()))
    assert h.oms.counts["unknown_reports"] == 1
    assert h.rec.alerts("unknown order report")
    # and logged: an operator reading only the journal sees it too
    assert [(r.levelname, r.getMessage()[:22]) for r in caplog.records
            if "unknown order report" in r.getMessage()] == [("ERROR", "unknown order report: ")]


def test_ids_made_by_the_engine() -> None:
    h = ManualHarness()
    h.trade(100.0)
    a, b = h.submit(), h.submit()
    assert a.id.version == 7 and a.client_order_id == client_order_id_for(a.id)
    assert a.id.int >> 80 <= b.id.int >> 80  # time-ordered (milliseconds)
    assert h.venue.submitted[0].client_order_id == a.client_order_id  # the venue sees it
    assert h.rec.order_events(a.id)[0].kind == "submitted"
    assert h.rec.order_events(a.id)[0].payload["decision_price"] == "100.0"


def test_strategy_attribution() -> None:
    h = ManualHarness()
    h.trade(100.0)
    o = h.submit(strategy="alpha")
    h.venue.report(report("filled", o.client_order_id, h.step(), qty="1"))
    (event,) = h.rec.of(OrderFilled)
    assert event.order.strategy_id == "alpha" and event.fill.strategy_id == "alpha"
    assert h.portfolio.position_qty(BTC, "alpha", account=False) == 1  # type: ignore[arg-type]
    assert h.portfolio.position_qty(BTC, "beta", account=False) == 0  # type: ignore[arg-type]


def test_risk_rejection_is_one_rejected_event() -> None:
    h = ManualHarness()  # no price known yet: the no_price check rejects
    o = h.submit()
    assert o.status is S.REJECTED and o.reject_reason.startswith("no_price")  # type: ignore[union-attr]
    (event,) = h.rec.order_events(o.id)
    assert event.kind == "rejected" and event.seq == 1 and event.payload["source"] == "risk"
    assert h.venue.submitted == []


@pytest.mark.parametrize("kw", [
    {"qty": Decimal(0)}, {"qty": Decimal(-1)}, {"type": "limit"}, {"type": "stop_loss"},
    {"type": "market", "limit_price": D(1)}, {"type": "twap"},
])
def test_invalid_intents_raise(kw: dict[str, object]) -> None:
    from engine.model import OrderSide, OrderType

    args: dict[str, object] = {"symbol": BTC, "side": OrderSide.BUY, "qty": D(1)}
    args.update(kw)
    if "type" in args:
        args["type"] = OrderType(args["type"])
    with pytest.raises(InvalidOrder):
        SubmitOrder(**args).validate()  # type: ignore[arg-type]


async def test_queued_router_rejects_when_full_never_drops() -> None:
    h = ManualHarness()
    router = QueuedRouter(h.venue, SimClock(), capacity=2)
    h.oms.router = router
    h.trade(100.0)
    orders = [h.submit() for _ in range(3)]
    assert [o.status for o in orders] == [S.PENDING, S.PENDING, S.REJECTED]
    assert "execution queue full" in (orders[2].reject_reason or "")
    task = asyncio.create_task(router.run())
    for _ in range(5):
        await asyncio.sleep(0)
    task.cancel()
    assert [o.client_order_id for o in h.venue.submitted] == [
        o.client_order_id for o in orders[:2]]


def test_every_event_carries_the_order_after_it() -> None:
    h = ManualHarness()
    o = order_in(h, S.PARTIALLY_FILLED)
    for e in h.rec.order_events(o.id):
        assert isinstance(e, OrderEvent) and e.order.version == e.seq


def test_a_cancel_on_its_way_is_not_sent_again_until_the_router_gave_up() -> None:
    # Live, a cancel takes a round trip; asked again meanwhile (a strategy each bar, a halt,
    # an operator), the OMS does not send it twice: a venue may refuse the second.
    h = ManualHarness()
    o = order_in(h, S.OPEN)
    assert h.oms.cancel(o.id) and h.oms.cancel(o.id) and h.oms.cancel_all() == 1
    assert [c.id for c in h.venue.cancelled] == [o.id]
    cfg = h.oms.config  # the router's timeout times its tries: it has given up by then
    h.step(int(1000 * cfg.submit_timeout_s * (cfg.submit_retries + 1)))
    assert h.oms.cancel(o.id)
    assert [c.id for c in h.venue.cancelled] == [o.id, o.id]
    h.venue.report(report("cancelled", o.client_order_id, h.step()))
    assert not h.oms.cancel(o.id)  # closed: nothing to cancel
