"""``ctx.order_target``: a strategy's position moved to a target over a real paper trading
stack, with the working orders it already has counted, or cancelled when they lead away."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from engine.execution import VenueAccepted, VenueCancelled
from engine.ids import StrategyId
from engine.intents import LimitOrder, MarketOrder, StopOrder
from engine.model import OrderSide, OrderStatus
from engine.strategy_actions import StackActions
from engine.strategy_context import StrategyContext
from tests.orders.trading_harness import BTC, LOOSE, Harness, ManualHarness

S1 = StrategyId("s1")


def context(h: Harness | ManualHarness) -> StrategyContext:
    return StrategyContext(S1, clock=h.clock, bus=h.bus, indicators=None,  # type: ignore[arg-type]
                           actions=StackActions(h.stack), bars=lambda s, tf: None)


def held(h: Harness, ctx: StrategyContext, price: float = 100.0) -> None:
    """Fill what is working at the next bar's open (``price``)."""
    h.bar(price, price + 1, price - 1, price, v=1_000)


def working(ctx: StrategyContext) -> list[tuple[str, Decimal]]:
    return [(o.side.value, o.remaining_qty) for o in ctx.open_orders(BTC)]


@pytest.fixture
def h() -> Harness:
    harness = Harness()
    harness.bar(100, 101, 99, 100)  # a price to mark at
    return harness


def test_from_flat_it_orders_the_target_and_then_nothing_more(h: Harness) -> None:
    ctx = context(h)
    oid = ctx.order_target(BTC, Decimal("0.5"))
    assert oid is not None and working(ctx) == [("buy", Decimal("0.5"))]
    assert ctx.order_target(BTC, Decimal("0.5")) is None  # the working buy is on the way
    held(h, ctx)
    assert ctx.position(BTC) == Decimal("0.5") and not working(ctx)
    assert ctx.order_target(BTC, Decimal("0.5")) is None
    assert ctx.order_target(BTC, Decimal("-0.5")) is not None  # shorts allowed here
    assert working(ctx) == [("sell", Decimal("1.0"))]


def test_a_flip_while_flat_cancels_the_working_buy_instead_of_selling_against_it() -> None:
    # shorts disallowed: an offsetting sell from flat is what risk refuses as no_short
    h = Harness(risk=msgspec.structs.replace(LOOSE, allow_short=False))
    h.bar(100, 101, 99, 100)
    ctx = context(h)
    buy = ctx.order_target(BTC, Decimal(1))
    assert buy is not None
    assert ctx.order_target(BTC, Decimal(0)) is None
    assert not working(ctx)
    order = h.oms.get(buy)
    assert order is not None and order.status is OrderStatus.CANCELLED
    assert not h.rec.alerts("rejected")  # nothing was refused
    held(h, ctx)
    assert ctx.position(BTC) == 0 and not h.rec.fills()


def test_a_flip_back_cancels_the_working_exit_and_keeps_the_position(h: Harness) -> None:
    ctx = context(h)
    ctx.order_target(BTC, Decimal(1))
    held(h, ctx)
    sell = ctx.order_target(BTC, Decimal(0))
    assert working(ctx) == [("sell", Decimal(1))]
    assert ctx.order_target(BTC, Decimal(1)) is None  # no buy beside the working sell
    order = h.oms.get(sell)  # type: ignore[arg-type]
    assert order is not None and order.status is OrderStatus.CANCELLED
    held(h, ctx)
    assert ctx.position(BTC) == 1 and len(h.rec.fills()) == 1


def test_working_orders_towards_the_target_count_and_overshooting_ones_are_replaced(
        h: Harness) -> None:
    ctx = context(h)
    ctx.submit(MarketOrder(BTC, Decimal("0.3")))
    ctx.order_target(BTC, Decimal(1))  # 0.3 on the way: 0.7 more
    assert sorted(working(ctx)) == [("buy", Decimal("0.3")), ("buy", Decimal("0.7"))]
    # the target shrinks below what is working: those orders go, one for the target comes
    ctx.order_target(BTC, Decimal("0.2"))
    assert working(ctx) == [("buy", Decimal("0.2"))]
    held(h, ctx)
    assert ctx.position(BTC) == Decimal("0.2")


def test_limit_and_stop_orders_are_the_strategys_own_and_are_left_alone(h: Harness) -> None:
    ctx = context(h)
    ctx.order_target(BTC, Decimal(1))
    held(h, ctx)
    stop = ctx.submit(StopOrder(BTC, Decimal(-1), Decimal(90)))  # protection
    take = ctx.submit(LimitOrder(BTC, Decimal(-1), Decimal(120)))  # a take-profit
    entry = ctx.submit(LimitOrder(BTC, Decimal(1), Decimal(80)))  # a resting entry
    assert ctx.order_target(BTC, Decimal(1)) is None  # at the target: nothing cancelled
    ctx.order_target(BTC, Decimal(2))  # more: a market buy of 1 (the limit buy not counted)
    assert sorted(working(ctx)) == [("buy", Decimal(1)), ("buy", Decimal(1)),
                                    ("sell", Decimal(1)), ("sell", Decimal(1))]
    for oid in (stop, take, entry):
        order = h.oms.get(oid)  # type: ignore[arg-type]
        assert order is not None and not order.status.is_terminal
    stop_order = h.oms.get(stop)  # type: ignore[arg-type]
    assert stop_order is not None and stop_order.side is OrderSide.SELL


def test_a_cancel_in_flight_is_not_asked_again() -> None:
    # Live, a cancel takes a round trip: meanwhile the order still works, and the next bar's
    # call must not send a second cancel (a venue may answer it with an error).
    h = ManualHarness()
    h.bar(100, 101, 99, 100)
    ctx = context(h)
    buy = ctx.order_target(BTC, Decimal(1))
    assert buy is not None
    cid = h.venue.submitted[0].client_order_id
    h.venue.report(VenueAccepted(client_order_id=cid, ts_ns=h.step(), exchange_order_id="v-1"))
    for _ in range(3):  # the signal flipped; the venue has not confirmed the cancel yet
        assert ctx.order_target(BTC, Decimal(0)) is None
    assert [o.id for o in h.venue.cancelled] == [buy]
    h.venue.report(VenueCancelled(client_order_id=cid, ts_ns=h.step()))
    assert not working(ctx)
    assert ctx.order_target(BTC, Decimal(0)) is None  # flat, nothing working: nothing to do
    again = ctx.order_target(BTC, Decimal(1))  # the signal turns again: a new buy...
    assert again is not None and again != buy
    assert ctx.order_target(BTC, Decimal(0)) is None  # ...whose own cancel is sent
    assert [o.id for o in h.venue.cancelled] == [buy, again]
