"""The paper fill model against hand-checked sequences of trades, quotes and bars."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "orders"))

from trading_harness import NO_FEES, D, Harness

from engine.events import OrderFilled
from engine.model import LiquiditySide, Order, OrderStatus
from gateways.paper import PaperFillModel

S = OrderStatus


def fills_of(h: Harness, o: Order) -> list[tuple[Decimal, Decimal, LiquiditySide]]:
    return [(e.fill.qty, e.fill.price, e.fill.liquidity) for e in h.rec.of(OrderFilled)
            if e.order.id == o.id]


def status(h: Harness, o: Order) -> OrderStatus:
    current = h.oms.get(o.id)
    assert current is not None
    return current.status


def test_market_fills_at_next_trade_plus_slippage_and_taker_fee() -> None:
    h = Harness(model=PaperFillModel(slippage_bps=D(10), taker_fee_bps=D(5)))
    h.trade(100.0)
    o = h.submit("buy", 2)
    assert status(h, o) is S.OPEN  # no quote: waits for the next price
    h.trade(100.0, qty=5)
    assert fills_of(h, o) == [(D(2), D("100.1"), LiquiditySide.TAKER)]
    (event,) = h.rec.of(OrderFilled)
    assert event.fill.fee == D("0.1001")  # 2 x 100.1 x 5 bps
    s = h.submit("sell", 2)
    h.trade(200.0, qty=5)
    assert fills_of(h, s) == [(D(2), D("199.8"), LiquiditySide.TAKER)]


def test_market_against_top_of_book_fills_now() -> None:
    h = Harness()
    h.trade(100.0)
    h.quote(99.5, 100.5, ask_qty=0.5)
    o = h.submit("buy", 2)
    assert fills_of(h, o) == [(D("0.5"), D("100.5"), LiquiditySide.TAKER)]  # quoted size
    assert status(h, o) is S.PARTIALLY_FILLED
    h.trade(101.0, qty=3)  # the rest on the next trade
    assert fills_of(h, o)[1] == (D("1.5"), D(101), LiquiditySide.TAKER)
    assert status(h, o) is S.FILLED


def test_limit_fills_only_through_with_partials_capped_by_volume_share() -> None:
    h = Harness(model=PaperFillModel(slippage_bps=D(0), maker_fee_bps=D(0),
                                     taker_fee_bps=D(0), volume_share=D("0.5")))
    h.trade(100.0)
    o = h.submit("buy", 1, "limit", limit_price=99)
    h.trade(99.5)
    h.trade(99.0, qty=10)  # touches: no fill in "through" mode
    assert fills_of(h, o) == []
    h.trade(98.9, qty=0.6)  # through: half the trade's volume
    assert fills_of(h, o) == [(D("0.3"), D(99), LiquiditySide.MAKER)]
    assert status(h, o) is S.PARTIALLY_FILLED
    h.trade(98.5, qty=4)
    assert fills_of(h, o)[1] == (D("0.7"), D(99), LiquiditySide.MAKER)
    assert status(h, o) is S.FILLED


def test_touch_mode_fills_at_the_limit() -> None:
    h = Harness(model=PaperFillModel(limit_fill="touch", maker_fee_bps=D(0),
                                     taker_fee_bps=D(0), slippage_bps=D(0)))
    h.trade(100.0)
    o = h.submit("sell", 1, "limit", limit_price=101)
    h.trade(100.5)  # arrival: not marketable
    h.trade(101.0)
    assert fills_of(h, o) == [(D(1), D(101), LiquiditySide.MAKER)]


def test_marketable_limit_takes_at_market_never_worse_than_limit() -> None:
    h = Harness(model=PaperFillModel(slippage_bps=D(50), maker_fee_bps=D(0),
                                     taker_fee_bps=D(0)))
    h.trade(100.0)
    o = h.submit("buy", 1, "limit", limit_price="100.2")
    h.trade(100.0)
    assert fills_of(h, o) == [(D(1), D("100.2"), LiquiditySide.TAKER)]  # 100.5 capped


def test_stop_loss_triggers_on_trade_through_and_fills_like_market() -> None:
    h = Harness(model=PaperFillModel(slippage_bps=D(10), taker_fee_bps=D(0)))
    h.trade(100.0)
    h.submit("buy", 1)
    h.trade(100.0)
    stop = h.submit("sell", 1, "stop_loss", stop_price=95, reduce_only=True)
    h.trade(96.0)
    h.trade(95.5)
    assert h.rec.kinds(stop.id) == ["submitted", "accepted"]
    h.trade(94.5)
    assert h.rec.kinds(stop.id) == ["submitted", "accepted", "triggered", "filled"]
    assert fills_of(h, stop) == [(D(1), D("94.4055"), LiquiditySide.TAKER)]
    assert h.portfolio.position_qty(h.rec.fills()[0].symbol) == 0


def test_stop_limit_becomes_a_limit() -> None:
    h = Harness()
    h.trade(100.0)
    o = h.submit("buy", 1, "stop_limit", stop_price=105, limit_price="105.5")
    h.trade(106.0)  # triggers at 106, not through 105.5: rests as a limit
    assert h.rec.kinds(o.id) == ["submitted", "accepted", "triggered"]
    h.trade(105.4)
    assert fills_of(h, o) == [(D(1), D("105.5"), LiquiditySide.MAKER)]


def test_ioc_remainder_cancelled() -> None:
    h = Harness()
    h.trade(100.0)
    o = h.submit("buy", 3, "limit", limit_price=101, time_in_force="ioc")
    h.trade(100.0, qty=1)
    assert fills_of(h, o) == [(D(1), D(100), LiquiditySide.TAKER)]
    assert h.rec.kinds(o.id) == ["submitted", "accepted", "filled", "cancelled"]
    assert h.rec.order_events(o.id)[-1].payload["reason"] == "ioc: remainder cancelled"
    ioc = h.submit("buy", 1, "limit", limit_price=90, time_in_force="ioc")
    h.trade(100.0)
    assert h.rec.kinds(ioc.id)[-1] == "cancelled" and fills_of(h, ioc) == []


def test_fok_all_or_nothing() -> None:
    h = Harness()
    h.trade(100.0)
    o = h.submit("buy", 3, time_in_force="fok")
    h.trade(100.0, qty=2)  # only 2 available: nothing
    assert fills_of(h, o) == [] and status(h, o) is S.CANCELLED
    ok = h.submit("buy", 3, time_in_force="fok")
    h.trade(100.0, qty=5)
    assert fills_of(h, ok) == [(D(3), D(100), LiquiditySide.TAKER)]
    assert status(h, ok) is S.FILLED


def test_one_trade_volume_is_shared_in_arrival_order() -> None:
    h = Harness()
    h.trade(100.0)
    a, b = h.submit("buy", 1), h.submit("buy", 1)
    h.trade(100.0, qty=1.5)
    assert fills_of(h, a) == [(D(1), D(100), LiquiditySide.TAKER)]
    assert fills_of(h, b) == [(D("0.5"), D(100), LiquiditySide.TAKER)]


def test_bars_fill_at_next_open_and_never_inside_the_decision_bar() -> None:
    h = Harness()
    h.bar(100, 101, 99, 100.5)
    o = h.submit("buy", 1)
    lim = h.submit("buy", 1, "limit", limit_price="99.5")
    h.bar(100.6, 101, 99.0, 100)
    assert fills_of(h, o) == [(D(1), D("100.6"), LiquiditySide.TAKER)]
    assert fills_of(h, lim) == [(D(1), D("99.5"), LiquiditySide.MAKER)]
    stop = h.submit("sell", 1, "stop_loss", stop_price=98)
    h.bar(97, 97.5, 96, 97)  # gapped through the stop: triggers at the open
    assert fills_of(h, stop) == [(D(1), D(97), LiquiditySide.TAKER)]


def test_latency_delays_eligibility() -> None:
    h = Harness(model=PaperFillModel(latency_ms=50, slippage_bps=D(0), taker_fee_bps=D(0)))
    h.trade(100.0)
    o = h.submit("buy", 1)
    h.trade(101.0, ms=10)
    assert fills_of(h, o) == []
    h.trade(102.0, ms=45)
    assert fills_of(h, o) == [(D(1), D(102), LiquiditySide.TAKER)]


def test_resubmitting_a_client_order_id_is_idempotent() -> None:
    h = Harness(model=NO_FEES)
    h.trade(100.0)
    o = h.submit("buy", 1)
    h.gateway.submit_now(o)  # a retry of the same order
    assert h.gateway.matcher.working() == 1
    h.trade(100.0, qty=5)
    assert len(fills_of(h, o)) == 1


def test_cancel_resting_order() -> None:
    h = Harness()
    h.trade(100.0)
    o = h.submit("buy", 1, "limit", limit_price=90)
    assert h.oms.cancel(o.id)
    assert status(h, o) is S.CANCELLED and h.gateway.matcher.working() == 0
    assert not h.oms.cancel(o.id)


def test_venue_order_ids_stay_unique_for_many_orders_in_one_millisecond() -> None:
    # The venue id is unique in the orders table: a prefix of the (time-ordered) client
    # order id repeated for orders made within one millisecond, as backtests make them.
    from engine.events import OrderAccepted

    h = Harness()
    h.trade(100.0)
    h.quote(99.5, 100.5, bid_qty=1e9, ask_qty=1e9)
    for _ in range(3000):
        h.submit("buy", 1, type="limit", limit_price="90")
    ids = [e.order.exchange_order_id for e in h.rec.of(OrderAccepted)]
    assert len(ids) == 3000 and len(set(ids)) == 3000


def _scripted(h: Harness) -> list[tuple[object, ...]]:
    """A mix of order types, partial fills, an IOC remainder, a cancel and a bar; what was
    published, ids aside."""
    h.trade(100.0)
    h.submit("buy", 2)
    h.submit("sell", 1, type="limit", limit_price=101)
    h.submit("buy", 3, type="limit", limit_price=99, time_in_force="ioc")
    resting = h.submit("buy", 1, type="limit", limit_price=90)
    h.trade(100.0, qty=1.5)
    h.trade(101.5, qty=4)
    h.trade(98.5, qty=1)
    h.oms.cancel(resting.id)
    h.submit("sell", 1)
    h.bar(100.0, 101.0, 99.0, 100.5, v=0.5)
    h.bar(100.0, 101.0, 99.0, 100.5)
    out: list[tuple[object, ...]] = []
    for e in h.rec.events:
        order = getattr(e, "order", None)
        fill = getattr(e, "fill", None)
        out.append((type(e).__name__, getattr(e, "seq", None),
                    None if order is None else (order.status, order.filled_qty,
                                                order.avg_fill_price, order.fee),
                    None if fill is None else (fill.qty, fill.price, fill.fee, fill.liquidity)))
    return out


def test_report_sink_and_report_objects_publish_the_same() -> None:
    model = PaperFillModel(slippage_bps=D(2), taker_fee_bps=D(5), maker_fee_bps=D(1))
    direct = Harness(model=model)  # acceptances and fills as calls into the OMS
    objects = Harness(model=model)
    objects.gateway.set_report_handler(objects.oms.on_report)  # every report an object
    assert _scripted(direct) == _scripted(objects)
    assert direct.oms.counts == objects.oms.counts
