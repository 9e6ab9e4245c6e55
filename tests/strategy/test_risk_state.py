"""Strategies under a risk halt or a reducing state: ``ctx.risk_state`` reads it,
``ctx.order_target`` only unwinds or goes quiet, and the built-in strategies that submit
their own orders wait instead of having an order rejected on every bar; over a real paper
trading stack."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from engine.risk.state import OrderRiskRejected, RiskState
from engine.store.records import RiskEventRecord
from engine.strategy_actions import StackActions
from engine.strategy_context import StrategyContext
from tests.orders.trading_harness import BTC, LOOSE, Harness
from tests.strategy.stack_host import S1, host_on, working


def context(h: Harness) -> StrategyContext:
    return StrategyContext(S1, clock=h.clock, bus=h.bus, indicators=None,  # type: ignore[arg-type]
                           actions=StackActions(h.stack), bars=lambda s, tf: None)


def refusals(h: Harness) -> int:
    """Orders the risk engine refused, as published and as ``risk_events`` rows."""
    events = h.rec.of(OrderRiskRejected)
    rows = [r for r in h.rec.of(RiskEventRecord) if r.decision == "reject"]
    assert len(events) == len(rows)
    return len(events)


def long_two(h: Harness) -> StrategyContext:
    ctx = context(h)
    ctx.order_target(BTC, Decimal(2))
    h.bar(100, 101, 99, 100, v=1_000)
    assert ctx.position(BTC) == 2
    return ctx


@pytest.fixture
def h() -> Harness:
    harness = Harness(risk=msgspec.structs.replace(LOOSE, allow_short=False))
    harness.bar(100, 101, 99, 100)  # a price to mark at
    return harness


def test_the_context_reads_the_accounts_risk_state(h: Harness) -> None:
    ctx = context(h)
    assert ctx.risk_state is RiskState.ACTIVE
    h.risk.set_state(RiskState.REDUCING, "test", "drill")
    assert ctx.risk_state is RiskState.REDUCING
    h.risk.set_state(RiskState.HALTED, "test", "drill")
    assert ctx.risk_state is RiskState.HALTED


def test_reducing_takes_a_target_towards_flat_and_never_past_it(h: Harness) -> None:
    ctx = long_two(h)
    h.risk.set_state(RiskState.REDUCING, "test", "drill")
    assert ctx.order_target(BTC, Decimal(3)) is None  # growing: nothing
    assert ctx.order_target(BTC, Decimal(2)) is None
    assert ctx.order_target(BTC, Decimal(-2)) is not None  # a flip: only the close
    assert working(h) == [("sell", Decimal(2), None, False)]
    h.bar(100, 101, 99, 100, v=1_000)
    assert ctx.position(BTC) == 0
    assert ctx.order_target(BTC, Decimal(-2)) is None  # flat stays flat
    assert ctx.order_target(BTC, Decimal(1)) is None
    assert refusals(h) == 0 and not working(h)


def test_reducing_lets_a_position_shrink_part_way(h: Harness) -> None:
    ctx = long_two(h)
    h.risk.set_state(RiskState.REDUCING, "test", "drill")
    assert ctx.order_target(BTC, Decimal("0.5")) is not None
    h.bar(100, 101, 99, 100, v=1_000)
    assert ctx.position(BTC) == Decimal("0.5") and refusals(h) == 0


def test_halted_sends_nothing_and_nothing_is_refused(h: Harness) -> None:
    ctx = long_two(h)
    h.risk.set_state(RiskState.HALTED, "test", "drill")
    for target in (Decimal(0), Decimal(5), Decimal(-1)):
        assert ctx.order_target(BTC, target) is None
    assert not working(h) and refusals(h) == 0
    h.risk.reset_halt("test", "drill over")
    assert ctx.order_target(BTC, Decimal(0)) is not None  # trading again
    h.bar(100, 101, 99, 100, v=1_000)
    assert ctx.position(BTC) == 0


def test_submit_still_hands_the_order_to_risk_which_refuses_it(h: Harness) -> None:
    """The read is advice: an explicit order is the author's choice, and refused with a
    reason as before."""
    from engine.intents import MarketOrder  # noqa: PLC0415

    ctx = context(h)
    h.risk.set_state(RiskState.HALTED, "test", "drill")
    assert ctx.submit(MarketOrder(BTC, Decimal(1))) is None
    assert refusals(h) == 1


# -- the built-in strategies that submit their own orders -----------------------------------


def test_market_maker_unwinds_only_while_reducing_and_quotes_nothing_while_halted(
        h: Harness) -> None:
    host_on(h, {"class": "market_maker", "qty": "1", "max_position": "3",
                  "spread_bps": 10})
    h.bar(100, 100.01, 99.99, 100)
    assert [w[:3] for w in working(h)] == [("buy", Decimal(1), Decimal("99.90"))]  # no shorts
    h.bar(100, 100, 99, 99.5)  # through the bid: filled, then quotes both sides
    assert h.portfolio.strategy_position(S1, BTC) == 1
    assert [w[0] for w in working(h)] == ["buy", "sell"]
    h.risk.set_state(RiskState.REDUCING, "test", "drill")
    h.bar(99.5, 99.51, 99.49, 99.5)  # inside both quotes: nothing fills
    assert [(w[0], w[1], w[3]) for w in working(h)] == [("sell", Decimal(1), True)]
    h.risk.set_state(RiskState.HALTED, "test", "drill")  # its orders cancelled by policy
    for _ in range(3):
        h.bar(99.5, 99.51, 99.49, 99.5)
    assert not working(h) and refusals(h) == 0
    h.risk.reset_halt("test", "drill over")
    h.bar(99.5, 99.51, 99.49, 99.5)
    assert [w[0] for w in working(h)] == ["buy", "sell"]


def test_grid_waits_under_a_halt_and_comes_back_whole(h: Harness) -> None:
    host_on(h, {"class": "grid", "levels": 2, "step_pct": "1", "qty": "1",
                  "max_position": "2", "center": "100", "tick": "0.01"})
    h.bar(100, 100.5, 99.5, 100)
    before = working(h)
    assert [w[:3] for w in before] == [("buy", Decimal(1), Decimal("98.00")),
                                       ("buy", Decimal(1), Decimal("99.00"))]
    h.risk.set_state(RiskState.HALTED, "test", "drill")  # cancels them (policy)
    assert not working(h)
    for _ in range(3):
        h.bar(100, 100.5, 99.5, 100)
    assert not working(h) and refusals(h) == 0
    h.risk.reset_halt("test", "drill over")
    h.bar(100, 100.5, 99.5, 100)
    assert working(h) == before


def test_grid_places_only_what_unwinds_while_reducing(h: Harness) -> None:
    host_on(h, {"class": "grid", "levels": 2, "step_pct": "1", "qty": "1",
                  "max_position": "2", "center": "100", "tick": "0.01"})
    h.bar(100, 100.5, 99.5, 100)
    h.bar(99.5, 99.5, 98.9, 99)  # the buy at 99 fills: a sell at 100 is wanted
    assert h.portfolio.strategy_position(S1, BTC) == 1
    h.risk.set_state(RiskState.REDUCING, "test", "drill")
    h.oms.cancel_all(strategy_id=S1, reason="test: make room")
    h.bar(99.2, 99.4, 99.1, 99.2)
    assert [w[:3] for w in working(h)] == [("sell", Decimal(1), Decimal("100.00"))]
    assert refusals(h) == 0


def test_dca_skips_buys_that_fall_due_while_the_account_is_not_active(h: Harness) -> None:
    host_on(h, {"class": "dca", "amount": "100", "every_bars": 1, "qty_step": "0.01"})
    h.bar(100, 100, 100, 100)
    h.bar(100, 100, 100, 100)
    assert h.portfolio.strategy_position(S1, BTC) == 1
    h.risk.set_state(RiskState.REDUCING, "test", "drill")
    h.bar(100, 100, 100, 100)
    h.risk.set_state(RiskState.HALTED, "test", "drill")
    h.bar(100, 100, 100, 100)
    assert refusals(h) == 0
    h.risk.reset_halt("test", "drill over")
    h.bar(100, 100, 100, 100)
    h.bar(100, 100, 100, 100)
    assert h.portfolio.strategy_position(S1, BTC) == 3
    assert working(h) == [("buy", Decimal(1), None, False)]  # the last bar's, due next bar
