"""The trading stack of one account, wired: portfolio, risk engine, OMS, router, gateway.

``TradingStack`` is what ``build_app`` adds as a service (and what a backtest drives). The
wiring, in bus-subscription order (which is dispatch order):

- ``OrderFilled`` -> portfolio (position and cash, then ``PositionChanged``);
- ``TradeTick``/``Bar``/``Quote`` -> portfolio marks; ``TradeTick``/``Bar`` -> OMS stop
  emulation and volume profile. A paper gateway subscribes itself (``gateway.attach(bus)``)
  *before* this stack is built, so it sees each price before anyone reacts to it;
- portfolio equity marks -> risk guards (on the marks where they could act); risk state
  change to HALTED -> cancel all working orders (``risk.cancel_orders_on_halt``);
- gateway reports -> ``oms.on_report``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from engine.bus import MessageBus
from engine.clock import Clock
from engine.decimal_prices import DecimalPrices
from engine.events import OrderFilled
from engine.execution import ExecutionGateway, SyncExecution
from engine.model import Bar, TradeTick
from engine.oms.book import OrderBook
from engine.oms.commands import RestoredOrder
from engine.oms.fastobj import IdGenerator
from engine.oms.manager import OmsConfig, OrderManager
from engine.oms.router import DirectRouter, OrderRouter, QueuedRouter
from engine.portfolio import Portfolio, PortfolioConfig
from engine.risk import RiskConfig, RiskEngine, RiskState, RiskStateChanged, RiskStateStore

__all__ = ["TradingStack"]

OrderLoader = Callable[[], Awaitable[Iterable[RestoredOrder]]]


class TradingStack:
    """Portfolio + risk + OMS over one execution gateway (a Service for ``Engine``)."""

    name = "trading"

    def __init__(
        self, *, bus: MessageBus, clock: Clock, gateway: ExecutionGateway,
        risk_store: RiskStateStore, risk: RiskConfig | None = None,
        portfolio: PortfolioConfig | None = None, oms: OmsConfig | None = None,
        queued: bool | None = None, load_orders: OrderLoader | None = None,
        prices: DecimalPrices | None = None,
    ) -> None:
        self.bus = bus
        self.clock = clock
        self.gateway = gateway
        self.risk_config = risk or RiskConfig()
        oms_config = oms or OmsConfig()
        self._load_orders = load_orders
        ids = IdGenerator()
        self.portfolio = Portfolio(bus=bus, config=portfolio, prices=prices)
        self.book = OrderBook(oms_config.keep_closed_orders)
        self.risk = RiskEngine(
            bus=bus, clock=clock, config=self.risk_config, portfolio=self.portfolio,
            orders=self.book, store=risk_store,
            starting_equity=self.portfolio.config.starting_cash)
        direct = isinstance(gateway, SyncExecution) if queued is None else not queued
        self.queue: QueuedRouter | None = None
        router: OrderRouter
        if direct:
            assert isinstance(gateway, SyncExecution)
            router = DirectRouter(gateway)
        else:
            self.queue = QueuedRouter(gateway, clock, capacity=oms_config.execution_queue,
                                      timeout_s=oms_config.submit_timeout_s,
                                      retries=oms_config.submit_retries)
            router = self.queue
        self.oms = OrderManager(
            bus=bus, clock=clock, venue=gateway.venue, risk=self.risk, router=router,
            prices=self.portfolio, capabilities=gateway.capabilities, config=oms_config,
            ids=ids, book=self.book)
        gateway.set_report_handler(self.oms.on_report)
        set_sink = getattr(gateway, "set_report_sink", None)
        if set_sink is not None:  # an in-process gateway: acceptances and fills as calls
            set_sink(self.oms)
        if self.queue is not None:
            self.queue.set_report_handler(self.oms.on_report)
        self.portfolio.attach(bus)
        bus.subscribe(TradeTick, self.oms.market_tap.on_trade)
        bus.subscribe(Bar, self.oms.market_tap.on_bar)
        self.portfolio.add_guard(self.risk)
        self.risk.add_state_listener(self._on_risk_state)
        self.submit = self.oms.submit
        self.cancel = self.oms.cancel

    def _on_risk_state(self, event: RiskStateChanged) -> None:
        if event.state is RiskState.HALTED and self.risk_config.cancel_orders_on_halt:
            self.oms.cancel_all(reason=f"risk halted: {event.reason}")

    # -- Service ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Adopt the persisted risk state (a database-backed store has opened by now),
        connect the gateway, then restore working orders from the store."""
        self.risk.reload()
        await self.gateway.connect()
        if self._load_orders is not None:
            self.oms.restore(await self._load_orders())

    def run(self) -> Awaitable[None] | None:
        """The router's drain loop when a queue stands before the gateway."""
        return None if self.queue is None else self.queue.run()

    async def stop(self) -> None:
        """Persist the risk state and close the gateway (cancel policy is the engine's)."""
        self.risk.flush()
        await self.gateway.close()

    def status(self) -> dict[str, Any]:
        """For /status: risk, orders, portfolio, gateway."""
        gw_status = getattr(self.gateway, "status", None)
        return {
            "risk": self.risk.status(),
            "orders": self.oms.status(),
            "portfolio": self.portfolio.status(),
            "gateway": gw_status() if callable(gw_status) else {
                "connected": self.gateway.health().connected},
            "execution_queue": None if self.queue is None else self.queue.depth(),
        }

    def metrics(self, out: Any) -> None:
        """Samples for /metrics (``out`` is an ``engine.metrics.MetricsBuilder``)."""
        s = self.oms.counts
        out.gauge("risk_state", "0 active, 1 reducing, 2 halted", float(self.risk.state.rank))
        out.gauge("open_orders", "Working orders", float(len(self.book)))
        out.gauge("equity", "Account equity", float(self.portfolio.equity()))
        out.gauge("open_positions", "Symbols with a non-zero position",
                  float(sum(1 for p in self.portfolio.positions() if p.qty)))
        out.gauge("cash", "Account cash", float(self.portfolio.cash))
        out.gauge("drawdown_pct", "Drawdown from the high-water mark, percent",
                  float(self.portfolio.drawdown_pct()))
        for name in ("submitted", "rejected", "fills", "illegal"):
            out.counter(f"oms_{name}", f"OMS {name} orders/reports", float(s[name]))
        for check, n in self.risk.rejections.items():
            out.counter("risk_rejections", "Orders rejected by risk", float(n), {"check": check})
        if self.queue is not None:
            out.gauge("queue_depth", "Items waiting in a queue", float(self.queue.depth()),
                      {"queue": "execution"})

    def fills_subscribed(self) -> bool:
        """True when the portfolio is wired to fills (for start-up checks)."""
        return self.bus.has_subscribers(OrderFilled)
