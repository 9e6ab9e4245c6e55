"""Grid (grid_trading): limit orders on a fixed price grid, each fill answered one step away.

Levels ``k = -levels .. levels`` sit at ``center * (1 + k * step_pct / 100)`` (rounded to
``tick``); ``center`` is the config's, else the first close seen. The grid starts with a
buy of ``qty`` at each level below the center and a sell at each level above it. When an
order at level ``k`` has filled in full, its counter-order is wanted: a buy at ``k`` ->
a sell at ``k + 1``; a sell at ``k`` -> a buy at ``k - 1`` (so levels stay in range).

Wanted orders are placed at each closed bar (after that bar's fills), while the limits
allow: a buy only when ``position + working buys + qty <= max_position``, a sell only when
``position - working sells - qty >= -max_position`` (``>= 0`` unless ``allow_short``,
which ``[risk] allow_short`` must allow too). Buys are tried from the highest level down,
sells from the lowest up; what does not fit waits for a later bar. Working orders are
never cancelled or moved. An order the risk engine rejects is dropped (logged).

The account's risk state is read first: while it is HALTED nothing is placed, while it is
REDUCING only what unwinds the position (the limits above with ``max_position`` and
``-max_position`` taken as 0); the rest waits. An order cancelled outside the strategy (a
halt's cancel policy, an operator) before any of it filled is wanted again at its level,
so the grid comes back whole when trading resumes; to stop a grid, disable the strategy.

Hot reload and a restart hand the grid over (``on_save``/``on_load``): its prices, wanted
levels and working orders, so the new version answers the old version's fills. A reload
(or a restart with a new config) that changes the grid itself (``levels``, ``step_pct``,
``center``, ``tick``, ``qty``) cancels the old grid's working orders instead and builds the
new grid at the next bar; other changes (``max_position``, ``allow_short``) keep it. Its
orders cancelled at shutdown (``[engine] on_shutdown = "cancel_orders"``, the default)
before any fill are wanted again at the restart, so the grid is placed again whole.
"""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from engine.ids import OrderId, StrategyId
from engine.intents import LimitOrder
from engine.model import Bar, Fill, Order, OrderStatus, to_decimal
from engine.strategy import Context, PositiveInt, RiskState, Strategy, StrategyConfig


class GridConfig(StrategyConfig, frozen=True):
    """Parameters of :class:`Grid`."""

    symbol: str
    timeframe: str = "1m"
    levels: PositiveInt = 5
    step_pct: Decimal = Decimal("0.5")
    qty: Decimal = Decimal("0.001")
    max_position: Decimal = Decimal("0.005")
    center: Decimal | None = None
    tick: Decimal = Decimal("0.01")
    allow_short: bool = False

    def __post_init__(self) -> None:
        if self.step_pct <= 0:
            raise ValueError(f"step_pct must be > 0, got {self.step_pct}")
        if self.levels * self.step_pct >= 100:
            raise ValueError(
                f"levels * step_pct must be < 100, got levels={self.levels}, "
                f"step_pct={self.step_pct}")
        if self.qty <= 0:
            raise ValueError(f"qty must be > 0, got {self.qty}")
        if self.max_position < self.qty:
            raise ValueError(f"max_position must be >= qty, got max_position="
                             f"{self.max_position}, qty={self.qty}")
        if self.center is not None and self.center <= 0:
            raise ValueError(f"center must be > 0, got {self.center}")
        if self.tick <= 0:
            raise ValueError(f"tick must be > 0, got {self.tick}")


class Grid(Strategy[GridConfig]):
    """A static price grid, buy low / sell one step higher (and the reverse)."""

    strategy_type = "grid_trading"

    def __init__(self, strategy_id: StrategyId, config: GridConfig) -> None:
        super().__init__(strategy_id, config)
        self.prices: dict[int, Decimal] = {}
        self.wanted: list[tuple[int, int]] = []  # (level, +1 buy / -1 sell) not yet placed
        self.working: dict[OrderId, tuple[int, int]] = {}
        self.filled: dict[OrderId, Decimal] = {}
        self.replaced: list[OrderId] = []  # the old grid's orders, after a reload changed it

    def _shape(self) -> list[object]:
        cfg = self.config
        return [cfg.symbol, cfg.levels, str(cfg.step_pct),
                None if cfg.center is None else str(cfg.center), str(cfg.tick), str(cfg.qty)]

    def on_save(self) -> dict[str, Any]:
        """The grid, for the next version (hot reload) or the next run (restart)."""
        return {"shape": self._shape(),
                "prices": {str(level): str(price) for level, price in self.prices.items()},
                "wanted": [list(w) for w in self.wanted],
                "working": {str(oid): list(w) for oid, w in self.working.items()},
                "filled": {str(oid): str(qty) for oid, qty in self.filled.items()}}

    def on_load(self, state: dict[str, Any]) -> None:
        """Take the saved grid, or only its orders to cancel when the grid has changed."""
        if not state.get("prices"):
            return
        if state.get("shape") != self._shape():
            self.replaced = [_order_id(oid) for oid in state.get("working", {})]
            return
        self.prices = {int(level): Decimal(price) for level, price in state["prices"].items()}
        self.wanted = [(int(level), int(side)) for level, side in state["wanted"]]
        self.working = {_order_id(oid): (int(level), int(side))
                        for oid, (level, side) in state["working"].items()}
        self.filled = {_order_id(oid): Decimal(qty) for oid, qty in state["filled"].items()}

    def on_start(self, ctx: Context) -> None:
        """Orders of a taken-over grid cancelled while no version ran (at a restart: the
        ``on_shutdown = "cancel_orders"`` policy) before any fill are wanted again; after a
        change of grid, the old grid's orders are cancelled."""
        if self.working:
            still = {o.id for o in ctx.open_orders(self.config.symbol)}
            for oid in [o for o in self.working if o not in still and not self.filled.get(o)]:
                self._want_again(oid)
        if self.replaced:
            still = {o.id for o in ctx.open_orders()}  # the symbol may have changed too
            ctx.log.info("grid changed on reload: cancelling %d orders of the old grid",
                         len(still.intersection(self.replaced)))
            for oid in self.replaced:
                if oid in still:
                    ctx.cancel(oid)
            self.replaced = []

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        """Count what each grid order has filled."""
        self.filled[fill.order_id] = self.filled.get(fill.order_id, Decimal(0)) + fill.qty

    def on_order_update(self, ctx: Context, order: Order) -> None:
        """Want a level again when its order was cancelled from outside with nothing
        filled."""
        if (order.status is OrderStatus.CANCELLED and not order.filled_qty
                and order.id in self.working):
            self._want_again(order.id)

    def _want_again(self, oid: OrderId) -> None:
        """An order gone with nothing filled: its level is wanted again."""
        self.filled.pop(oid, None)
        self.wanted.append(self.working.pop(oid))

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        """Answer completed orders with their counter-orders; place what the limits allow."""
        cfg = self.config
        if bar.timeframe != cfg.timeframe:
            return
        if not self.prices:
            center = cfg.center if cfg.center is not None else to_decimal(bar.close)
            step = cfg.step_pct / 100
            self.prices = {
                k: (center * (1 + k * step)).quantize(cfg.tick, ROUND_HALF_EVEN)
                for k in range(-cfg.levels, cfg.levels + 1)}
            self.wanted = [(-k, 1) for k in range(1, cfg.levels + 1)]
            self.wanted += [(k, -1) for k in range(1, cfg.levels + 1)]
        for oid, (level, side) in list(self.working.items()):
            if self.filled.get(oid, Decimal(0)) >= cfg.qty:
                del self.working[oid]
                self.filled.pop(oid, None)
                self.wanted.append((level + side, -side))
        self._place(ctx)

    def _place(self, ctx: Context) -> None:
        cfg = self.config
        symbol = cfg.symbol
        open_ids = {o.id: o for o in ctx.open_orders(symbol)}
        for oid in [o for o in self.working if o not in open_ids and
                    self.filled.get(o, Decimal(0)) < cfg.qty]:
            del self.working[oid]  # cancelled outside the strategy: forget it
        state = ctx.risk_state
        if state is RiskState.HALTED:
            return
        position = ctx.position(symbol)
        buys = sum((o.remaining_qty for o in open_ids.values() if o.side.sign > 0), Decimal(0))
        sells = sum((o.remaining_qty for o in open_ids.values() if o.side.sign < 0), Decimal(0))
        cap = cfg.max_position
        floor = -cap if cfg.allow_short else Decimal(0)
        if state is RiskState.REDUCING:
            cap = floor = Decimal(0)
        keep: list[tuple[int, int]] = []
        order = sorted(self.wanted, key=lambda w: (w[1], w[0] if w[1] < 0 else -w[0]))
        for level, side in order:
            if side > 0 and position + buys + cfg.qty > cap:
                keep.append((level, side))
                continue
            if side < 0 and position - sells - cfg.qty < floor:
                keep.append((level, side))
                continue
            placed = ctx.submit(LimitOrder(symbol, side * cfg.qty, self.prices[level]))
            if placed is None:
                ctx.log.warning("grid order at level %d rejected by risk: dropped", level)
                continue
            self.working[placed] = (level, side)
            if side > 0:
                buys += cfg.qty
            else:
                sells += cfg.qty
        self.wanted = keep


def _order_id(text: str) -> OrderId:
    return OrderId(uuid.UUID(text))
