"""Built-in strategies hosted over a real paper trading stack (:class:`Harness`): what the
risk-state and reload tests share."""

from __future__ import annotations

from decimal import Decimal

from engine.ids import StrategyId
from engine.indicator_hub import IndicatorHub
from engine.plugins import instantiate
from engine.strategy_actions import StackActions
from engine.strategy_host import StrategyHost
from tests.orders.trading_harness import BTC, Harness

S1 = StrategyId("s1")


def host_on(h: Harness, table: dict[str, object], *, start: bool = True) -> StrategyHost:
    """A host (started unless ``start=False``) with strategy ``s1`` on BTC (``table``: its
    class and parameters)."""
    host = StrategyHost(bus=h.bus, clock=h.clock, indicators=IndicatorHub(lambda b: None),
                        actions=StackActions(h.stack), bars=lambda s, tf: None)
    host.add(instantiate(0, strategy_table(table)))
    if start:
        host.start()
    return host


def strategy_table(table: dict[str, object]) -> dict[str, object]:
    """The ``[[strategies]]`` table of ``s1`` on BTC (unless it names its ``symbols``)."""
    on = {} if "symbols" in table else {"symbol": BTC}
    return {"name": str(S1), **on, **table}


def working(h: Harness) -> list[tuple[str, Decimal, Decimal | None, bool]]:
    """``s1``'s working orders: (side, remaining, limit price, reduce-only), sorted."""
    return sorted((o.side.value, o.remaining_qty, o.limit_price, o.reduce_only)
                  for o in h.oms.open_orders(S1))
