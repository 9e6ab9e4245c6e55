"""``grid`` across a hot reload, over a real paper trading stack: the new version takes the
grid over and answers the old version's fills; a reload that changes the grid cancels the
old grid's orders and builds the new one, with no order left behind."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.orders.trading_harness import BTC, Harness
from tests.strategy.stack_host import S1, host_on, strategy_table, working

GRID = {"class": "grid", "levels": 2, "step_pct": "1", "qty": "1", "max_position": "2",
        "center": "100", "tick": "0.01"}


def quiet(h: Harness) -> None:
    """A bar through no grid level."""
    h.bar(100, 100.5, 99.5, 100)


@pytest.fixture
def h(keep_builtin_strategies: None) -> Harness:
    """A paper stack with a price to mark at (reloads re-import the grid's module: the
    fixture puts it back for later tests)."""
    return quiet_start(Harness())


def quiet_start(harness: Harness) -> Harness:
    quiet(harness)
    return harness


def grid_orders(h: Harness) -> list[tuple[str, Decimal | None]]:
    return [(side, price) for side, _, price, _ in working(h)]


def test_the_reloaded_grid_answers_the_old_grids_fills(h: Harness) -> None:
    host = host_on(h, GRID)
    quiet(h)
    assert grid_orders(h) == [("buy", Decimal("98.00")), ("buy", Decimal("99.00"))]
    host.reload(S1, strategy_table(GRID))
    quiet(h)
    assert grid_orders(h) == [("buy", Decimal("98.00")), ("buy", Decimal("99.00"))]
    h.bar(99.5, 99.5, 98.9, 99)  # the old version's buy at 99 fills
    assert h.portfolio.strategy_position(S1, BTC) == 1
    # answered one step up (the sell at 101 waits: long 1 covers one sell)
    assert grid_orders(h) == [("buy", Decimal("98.00")), ("sell", Decimal("100.00"))]
    assert not h.rec.alerts()


def test_a_wider_limit_on_reload_keeps_the_grid(h: Harness) -> None:
    host = host_on(h, GRID)
    quiet(h)
    host.reload(S1, strategy_table({**GRID, "max_position": "3"}))
    quiet(h)
    assert grid_orders(h) == [("buy", Decimal("98.00")), ("buy", Decimal("99.00"))]


def test_a_reload_that_changes_the_grid_replaces_its_orders(h: Harness) -> None:
    host = host_on(h, GRID)
    quiet(h)
    h.bar(99.5, 99.5, 98.9, 99)  # long 1: buy at 98 and sell at 100 working
    assert grid_orders(h) == [("buy", Decimal("98.00")), ("sell", Decimal("100.00"))]
    host.reload(S1, strategy_table({**GRID, "step_pct": "2"}))
    assert not working(h)  # the old grid's orders, cancelled
    quiet(h)
    # the new grid at 2% steps, within the limits with long 1
    assert grid_orders(h) == [("buy", Decimal("98.00")), ("sell", Decimal("102.00"))]
