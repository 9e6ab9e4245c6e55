"""Wiring of the trading side into an :class:`~engine.app.Engine`: the execution stack
(portfolio, risk, OMS over a paper or live gateway), the strategies and their indicators,
and the operator commands that reach them.

Subscription order on the bus matters (dispatch is synchronous, in subscription order):
market data -> paper matcher (fills against the new price first) -> portfolio and OMS ->
indicator hub -> strategies. So a strategy sees the bar with its fills and marks applied
and its indicators including the bar.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.commands import CommandError
from engine.config import Config
from engine.ids import StrategyId
from engine.indicator_hub import IndicatorHub
from engine.model import Bar, Order
from engine.plugins import check_symbols, instantiate
from engine.portfolio.performance import day_of
from engine.risk.pgstore import PostgresRiskStateStore
from engine.risk.state import JsonFileRiskStateStore, MemoryRiskStateStore
from engine.services import reload_strategies, warn_short_sellers
from engine.strategy_actions import StackActions
from engine.strategy_host import DISABLED, StrategyHost

if TYPE_CHECKING:
    from engine.app import Engine
    from engine.oms.stack import TradingStack
    from engine.portfolio import Portfolio

__all__ = ["ExecutionFactory", "StackActions", "add_strategies", "add_trading"]

_log = logging.getLogger(__name__)

ExecutionFactory = Callable[..., Any]
"""``factory(config, bus=, clock=, risk_store=, load_orders=) -> (gateway, TradingStack)``;
see ``gateways.factory.build_execution``."""


def add_trading(engine: Engine, factory: ExecutionFactory, *,
                load_orders: Callable[[], Any] | None = None,
                persist_risk_state: bool = True) -> TradingStack:
    """Build the execution stack and register it with its operator commands.

    ``persist_risk_state=False`` (backtests) keeps the risk state in memory, so a backtest
    never touches the live account's state file.
    """
    config = engine.config
    risk_store: Any = MemoryRiskStateStore()
    if persist_risk_state:  # in the database (the file as its local copy), a service of its own
        database = engine.database
        risk_store = PostgresRiskStateStore(
            lambda: (database.pool, database.account_id),
            JsonFileRiskStateStore(config.state_dir / config.risk.state_file))
        engine.add_service(risk_store)
    stack_box: list[TradingStack] = []

    async def restore_from_store() -> list[Any]:
        """At start-up: rebuild the portfolio from the trades ledger, then hand the OMS the
        working orders (emulated stops and algo parents carry on where they were)."""
        from engine.store import queries  # noqa: PLC0415

        database = engine.database
        if database.pool is None or database.account_id is None:
            return []
        # a replay's clock, unstarted here, reads 0: its first day counts every fill
        restored = await restore_portfolio(stack_box[0].portfolio, database.pool,
                                           database.account_id, engine.clock.now_ns() or None)
        orders = await queries.restorable_orders(database.pool, database.account_id)
        _log.info("restored trading state from the database",
                  extra={"fills": restored, "working_orders": len(orders)})
        return orders

    loader = load_orders if load_orders is not None else (
        restore_from_store if persist_risk_state else None)
    built: tuple[Any, TradingStack] = factory(config, bus=engine.bus, clock=engine.clock,
                                              risk_store=risk_store, load_orders=loader)
    stack = built[1]
    stack_box.append(stack)
    engine.add_service(stack)
    engine.trading = stack
    _register_trading_commands(engine, stack)
    return stack


async def restore_portfolio(portfolio: Portfolio, pool: Any, account_id: uuid.UUID,
                            now_ns: int | None) -> int:
    """Rebuild ``portfolio`` from the account's trades ledger; with ``now_ns``, today's
    figures count today's fills, and the performance figures carry on from the account's
    recorded ones (``queries.performance_history``). Returns the fills replayed."""
    from engine.store import queries  # noqa: PLC0415

    fills = await queries.fills(pool, account_id)
    history = None if now_ns is None else await queries.performance_history(
        pool, account_id, day_of(now_ns))
    return portfolio.restore(fills, now_ns, history)


def add_strategies(engine: Engine, config: Config, stack: TradingStack | None, *,
                   enforce_budget: bool = True) -> StrategyHost:
    """Load the configured strategies; bars reach them through the indicator hub.

    ``enforce_budget=False`` (backtests): a hook over its time budget is counted, not
    halted, since wall time would make a simulated run depend on the machine's load."""
    if stack is None:
        raise CommandError("strategies need an execution stack (marketdata and paper/live)")
    hub = IndicatorHub(lambda bar: None)  # delivers to the host, once made

    def bars(symbol: str, timeframe: str) -> Any:
        feed = engine.marketdata  # built after the strategies (see build_app)
        if feed is None:
            return None
        if timeframe not in feed.timeframes and timeframe not in host.timeframes_used():
            # an empty ring that never fills would look like a quiet market
            raise ValueError(f"ctx.bars: no {timeframe} bars are built; name {timeframe} in "
                             "the strategy's config (its timeframe or timeframes key)")
        return feed.bars(symbol, timeframe)

    host = StrategyHost(bus=engine.bus, clock=engine.clock, indicators=hub,
                        actions=StackActions(stack), bars=bars, subscribe_bars=False,
                        enforce_budget=enforce_budget)
    hub.deliver_to(host.on_bar)
    for index, table in enumerate(config.strategies):
        host.add(instantiate(index, table))
    warn_short_sellers(config, host, host.ids())
    md = config.marketdata
    if md.source == "ccxt":  # a strategy on a symbol not streamed would wait forever
        check_symbols(config.strategies, host.symbols_missing(md.symbols),
                      f"not in marketdata.symbols {sorted(md.symbols)}")
    engine.bus.subscribe(Bar, hub.on_bar)
    engine.strategies = host

    def reload(args: dict[str, Any], actor: str) -> Any:
        from engine.config import load_config

        if engine.config_path is None:
            raise CommandError("running on built-in defaults: no config file to reload from")
        return reload_strategies(engine, load_config(engine.config_path).strategies)

    engine.commands.register("reload-strategies", reload,
                             "re-import strategy code and config from the config file")
    _register_strategy_commands(engine, host)
    return host


def _register_strategy_commands(engine: Engine, host: StrategyHost) -> None:
    """One strategy stopped or started again by an operator, the others untouched."""

    def named(args: dict[str, Any]) -> StrategyId:
        sid = StrategyId(str(args.get("strategy") or ""))
        if sid not in host.ids():
            raise CommandError(f'strategy: one of {sorted(host.ids())}, e.g. '
                               f'{{"strategy": "{next(iter(host.ids()), "name")}"}}; got {sid!r}')
        return sid

    def current(sid: StrategyId) -> dict[str, Any]:
        return next(s for s in host.status() if s["id"] == sid)

    def halt(args: dict[str, Any], actor: str) -> Any:
        sid = named(args)
        host.halt(sid, f"halted by {actor}: {args.get('reason') or 'operator'}")
        return current(sid)

    def resume(args: dict[str, Any], actor: str) -> Any:
        sid = named(args)
        reason = current(sid)["halt_reason"]
        if reason is None:
            raise CommandError(f"strategy {sid} is running")
        if reason == DISABLED:
            raise CommandError(f"strategy {sid} is disabled in the config (enabled = false)")
        host.reload(sid)  # a fresh instance: code re-imported, config kept, on_start
        if host.is_halted(sid):
            raise CommandError(f"strategy {sid} could not be restarted: see the alert")
        return current(sid)

    engine.commands.register("halt-strategy", halt, 'halt one strategy and cancel its orders: '
                             '{"strategy": "name", "reason": "..."}')
    engine.commands.register("resume-strategy", resume, 'restart a halted strategy (its code '
                             're-imported, its running config kept): {"strategy": "name"}')


def _register_trading_commands(engine: Engine, stack: TradingStack) -> None:
    risk = stack.risk

    def kill_switch(args: dict[str, Any], actor: str) -> Any:
        on = args.get("on")
        if not isinstance(on, bool):
            raise CommandError('on: true or false, e.g. {"on": true}')
        risk.set_kill_switch(on, actor, str(args.get("reason") or "operator"))
        return risk.status()

    def reset_halt(args: dict[str, Any], actor: str) -> Any:
        try:
            risk.reset_halt(actor, str(args.get("reason") or "operator"))
        except Exception as exc:
            raise CommandError(str(exc)) from exc
        return risk.status()

    def orders(args: dict[str, Any], actor: str) -> Any:
        sid = args.get("strategy")
        return [_order_row(o) for o in stack.oms.open_orders(StrategyId(sid) if sid else None)]

    def positions(args: dict[str, Any], actor: str) -> Any:
        return [{"symbol": p.symbol, "qty": str(p.qty), "avg_entry_price": str(p.avg_entry_price),
                 "realized_pnl": str(p.realized_pnl), "unrealized_pnl": str(p.unrealized_pnl)}
                for p in stack.portfolio.positions()]

    def cancel_all(args: dict[str, Any], actor: str) -> Any:
        sid = args.get("strategy")
        return {"cancelled": stack.oms.cancel_all(strategy_id=StrategyId(sid) if sid else None,
                                                  reason=f"operator {actor}")}

    engine.commands.register("kill-switch", kill_switch,
                             'halt trading (only cancels) or resume: {"on": true, "reason": "..."}')
    engine.commands.register("reset-halt", reset_halt, "leave HALTED/REDUCING after review")
    engine.commands.register("orders", orders, 'working orders: {"strategy": "name"} optional')
    engine.commands.register("positions", positions, "open positions")
    engine.commands.register("cancel-all", cancel_all,
                             'cancel working orders: {"strategy": "name"} optional')


def _order_row(order: Order) -> dict[str, Any]:
    return {"id": str(order.id), "client_order_id": order.client_order_id,
            "symbol": order.symbol, "side": order.side.value, "type": order.type.value,
            "qty": str(order.qty), "filled_qty": str(order.filled_qty),
            "limit_price": None if order.limit_price is None else str(order.limit_price),
            "stop_price": None if order.stop_price is None else str(order.stop_price),
            "status": order.status.value, "strategy": order.strategy_id}
