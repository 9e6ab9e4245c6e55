"""Commands into the OMS (imperative, frozen) and what a restart restores."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from engine.ids import StrategyId, Symbol, Venue
from engine.model import Order, OrderSide, OrderType, TimeInForce
from engine.oms.states import InvalidOrder

__all__ = ["AlgoParams", "RestoredOrder", "SubmitOrder"]

_ZERO = Decimal(0)
_MARKET = OrderType.MARKET


@dataclass(frozen=True, slots=True, kw_only=True)
class AlgoParams:
    """Schedule of a TWAP/VWAP parent: ``slices`` children over ``duration_s`` seconds.

    Children are market orders (``child_limit_bps`` set: limit orders that far through the
    last price, IOC). ``qty_step`` rounds child quantities down; the last child takes the
    rest. VWAP weights slices by the recent volume profile of the symbol.
    """

    duration_s: float
    slices: int
    qty_step: Decimal = Decimal("1e-8")
    child_limit_bps: Decimal | None = None

    def __post_init__(self) -> None:
        if self.duration_s <= 0 or self.slices < 1:
            raise InvalidOrder(f"algo needs duration_s > 0 and slices >= 1, got {self}")
        if self.qty_step <= 0:
            raise InvalidOrder(f"qty_step must be > 0, got {self.qty_step}")

    def to_payload(self) -> dict[str, Any]:
        """JSON-able form, stored in the parent's ``submitted`` event."""
        return {
            "duration_s": self.duration_s,
            "slices": self.slices,
            "qty_step": str(self.qty_step),
            "child_limit_bps": None if self.child_limit_bps is None else str(self.child_limit_bps),
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> AlgoParams:
        """Inverse of :meth:`to_payload`."""
        bps = data.get("child_limit_bps")
        return cls(
            duration_s=float(data["duration_s"]),
            slices=int(data["slices"]),
            qty_step=Decimal(str(data.get("qty_step", "1e-8"))),
            child_limit_bps=None if bps is None else Decimal(str(bps)),
        )


class SubmitOrder(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A strategy's (or operator's) intent to trade; passes risk before it becomes an order.

    A Struct (built per order by strategies: keyword construction in C; no cycles, so
    not tracked by the collector)."""

    symbol: Symbol
    side: OrderSide
    qty: Decimal
    type: OrderType = OrderType.MARKET
    strategy_id: StrategyId | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    algo: AlgoParams | None = None
    venue: Venue | None = None

    def validate(self) -> None:
        """Raise :class:`InvalidOrder` when the intent can never be a valid order."""
        qty = self.qty
        if (self.type is _MARKET and self.limit_price is None and self.stop_price is None
                and self.algo is None and type(qty) is Decimal and qty > _ZERO
                and qty.is_finite() and self.side.__class__ is OrderSide
                and self.time_in_force.__class__ is TimeInForce):
            return  # the common case, checked cheaply
        if not isinstance(self.qty, Decimal) or not self.qty.is_finite() or self.qty <= _ZERO:
            raise InvalidOrder(f"qty must be a positive Decimal, got {self.qty!r}")
        if not isinstance(self.side, OrderSide) or not isinstance(self.type, OrderType) or (
                not isinstance(self.time_in_force, TimeInForce)):
            raise InvalidOrder("side, type and time_in_force must be the engine's enums")
        t = self.type
        if t in (OrderType.LIMIT, OrderType.STOP_LIMIT) and not _positive(self.limit_price):
            raise InvalidOrder(f"{t.value} order needs a positive limit_price")
        if t in (OrderType.STOP_LOSS, OrderType.STOP_LIMIT) and not _positive(self.stop_price):
            raise InvalidOrder(f"{t.value} order needs a positive stop_price")
        if t in (OrderType.MARKET, OrderType.TWAP, OrderType.VWAP) and (
            self.limit_price is not None or self.stop_price is not None
        ):
            raise InvalidOrder(f"{t.value} order takes no limit_price/stop_price")
        if t is OrderType.LIMIT and self.stop_price is not None:
            raise InvalidOrder("limit order takes no stop_price (use stop_limit)")
        if t is OrderType.STOP_LOSS and self.limit_price is not None:
            raise InvalidOrder("stop_loss order takes no limit_price (use stop_limit)")
        if (t in (OrderType.TWAP, OrderType.VWAP)) != (self.algo is not None):
            raise InvalidOrder("algo params go with twap/vwap orders, and only with them")
        if self.algo is not None and self.time_in_force is not TimeInForce.GTC:
            raise InvalidOrder("twap/vwap parents are GTC")


def _positive(value: Decimal | None) -> bool:
    return isinstance(value, Decimal) and value.is_finite() and value > _ZERO


@dataclass(frozen=True, slots=True, kw_only=True)
class RestoredOrder:
    """A working order loaded at start-up: its last state, last event and algo schedule.

    ``last_kind`` is the kind of its latest ``order_events`` row (``triggered`` means an
    emulated stop already fired); ``algo`` comes from the payload of its ``submitted`` row
    (``payload["algo"]``) and ``algo_start_ns`` from that row's time.
    """

    order: Order
    last_seq: int
    last_kind: str
    algo: AlgoParams | None = None
    algo_start_ns: int | None = None
    decision_price: Decimal | None = None
