"""A paper trading stack on a simulated clock, recording what it publishes (shared by the
orders, risk, portfolio and paper gateway tests)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.bus import MessageBus
from engine.clock import SimClock
from engine.events import OrderEvent, OrderFilled, PositionChanged
from engine.execution import (
    ExecutionReport,
    GatewayCapabilities,
    GatewayHealth,
    ReportHandler,
)
from engine.ids import OrderId, StrategyId, Symbol, Venue
from engine.model import (
    NS_PER_MS,
    Alert,
    Bar,
    Fill,
    Order,
    OrderSide,
    OrderType,
    Quote,
    TimeInForce,
    TradeTick,
)
from engine.oms import SubmitOrder
from engine.oms.manager import OmsConfig
from engine.oms.stack import TradingStack
from engine.portfolio import PortfolioConfig
from engine.risk import (
    MemoryRiskStateStore,
    OrderRiskRejected,
    RiskConfig,
    RiskLimits,
    RiskStateChanged,
    RiskStateStore,
)
from engine.store.records import (
    PerformanceDaily,
    PortfolioSnapshot,
    PortfolioState,
    RiskEventRecord,
)
from gateways.paper import PaperFillModel, build_paper_stack

T0 = 1_700_000_000 * 1_000_000_000  # 2023-11-14T22:13:20Z
BTC = Symbol("BTC/USDT")
ETH = Symbol("ETH/USDT")
VENUE = Venue("paper")
LOOSE = RiskConfig(
    account=RiskLimits(max_orders_per_s=1e9), price_band_pct=None, max_daily_loss_pct=None,
    max_drawdown_pct=None, leverage=Decimal(100), allow_short=True)
NO_FEES = PaperFillModel(slippage_bps=Decimal(0), maker_fee_bps=Decimal(0),
                         taker_fee_bps=Decimal(0))
RECORDED = (OrderEvent, PositionChanged, Alert, RiskStateChanged, OrderRiskRejected,
            PortfolioState, PortfolioSnapshot, PerformanceDaily, RiskEventRecord)


def D(x: Any) -> Decimal:
    """Decimal of a literal."""
    return Decimal(str(x))


class Recorder:
    """Everything published on a bus that the store would persist."""

    def __init__(self, bus: MessageBus) -> None:
        self.events: list[Any] = []
        for t in RECORDED:
            bus.subscribe(t, self.events.append)

    def of(self, kind: type) -> list[Any]:
        """Events of one type."""
        return [e for e in self.events if isinstance(e, kind)]

    def order_events(self, order_id: OrderId) -> list[OrderEvent]:
        """Events of one order, in publication order."""
        return [e for e in self.of(OrderEvent) if e.order.id == order_id]

    def kinds(self, order_id: OrderId) -> list[str]:
        """Kinds of one order's events."""
        return [e.kind for e in self.order_events(order_id)]

    def fills(self) -> list[Fill]:
        """The trades ledger (roll-ups of parents excluded, as the store's key does)."""
        return [e.fill for e in self.of(OrderFilled) if e.fill.order_id == e.order.id]

    def alerts(self, text: str = "") -> list[Alert]:
        """Alerts whose title contains ``text``."""
        return [a for a in self.of(Alert) if text in a.title]


class Harness:
    """Bus + SimClock + paper gateway + trading stack + recorder."""

    def __init__(self, *, model: PaperFillModel | None = None, risk: RiskConfig | None = LOOSE,
                 portfolio: PortfolioConfig | None = None, oms: OmsConfig | None = None,
                 store: RiskStateStore | None = None, start_ns: int = T0) -> None:
        self.bus = MessageBus()
        self.clock = SimClock(start_ns)
        self.rec = Recorder(self.bus)
        self.store = store or MemoryRiskStateStore()
        self.gateway, self.stack = build_paper_stack(
            bus=self.bus, clock=self.clock, risk_store=self.store, model=model or NO_FEES,
            risk=risk, portfolio=portfolio, oms=oms or OmsConfig(alert_fills=False))
        self.oms = self.stack.oms
        self.risk = self.stack.risk
        self.portfolio = self.stack.portfolio

    def step(self, ms: int = 1) -> int:
        """Move time forward."""
        self.clock.advance_to(self.clock.now_ns() + ms * NS_PER_MS)
        return self.clock.now_ns()

    def trade(self, price: float, qty: float = 1.0, symbol: Symbol = BTC, ms: int = 1) -> None:
        """Publish a trade ``ms`` after the previous event."""
        ts = self.step(ms)
        self.bus.publish(TradeTick(VENUE, symbol, ts, price, qty))

    def quote(self, bid: float, ask: float, bid_qty: float = 10.0, ask_qty: float = 10.0,
              symbol: Symbol = BTC, ms: int = 1) -> None:
        """Publish a quote."""
        ts = self.step(ms)
        self.bus.publish(Quote(VENUE, symbol, ts, bid, bid_qty, ask, ask_qty))

    def bar(self, o: float, h: float, lo: float, c: float, v: float = 10.0,
            symbol: Symbol = BTC) -> None:
        """Publish the 1m bar that opens now, then move time to its end."""
        ts = self.clock.now_ns()
        self.bus.publish(Bar(VENUE, symbol, "1m", ts, o, h, lo, c, v))
        self.step(60_000)

    def submit(self, side: str = "buy", qty: Any = 1, type: str = "market",
               symbol: Symbol = BTC, strategy: str | None = "s1", **kw: Any) -> Order:
        """Submit an intent (qty/prices as literals)."""
        for key in ("limit_price", "stop_price"):
            if key in kw and kw[key] is not None:
                kw[key] = D(kw[key])
        if isinstance(kw.get("time_in_force"), str):
            kw["time_in_force"] = TimeInForce(kw["time_in_force"])
        return self.stack.submit(SubmitOrder(
            symbol=symbol, side=OrderSide(side), qty=D(qty), type=OrderType(type),
            strategy_id=None if strategy is None else StrategyId(strategy), **kw))


class ManualGateway:
    """A venue that only records what it is sent; tests play the venue's reports."""

    def __init__(self, capabilities: GatewayCapabilities | None = None) -> None:
        self.submitted: list[Order] = []
        self.cancelled: list[Order] = []
        self.handler: ReportHandler | None = None
        self._caps = capabilities or GatewayCapabilities(orders_survive_restart=True)

    @property
    def venue(self) -> Venue:
        return VENUE

    @property
    def capabilities(self) -> GatewayCapabilities:
        return self._caps

    def set_report_handler(self, handler: ReportHandler) -> None:
        self.handler = handler

    def report(self, report: ExecutionReport) -> None:
        assert self.handler is not None
        self.handler(report)

    def submit_now(self, order: Order) -> None:
        self.submitted.append(order)

    def cancel_now(self, order: Order) -> None:
        self.cancelled.append(order)

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def submit(self, order: Order) -> None:
        self.submit_now(order)

    async def cancel(self, order: Order) -> None:
        self.cancel_now(order)

    async def modify(self, order: Order, *, qty: Decimal | None = None,
                     limit_price: Decimal | None = None) -> None:
        raise NotImplementedError

    def health(self) -> GatewayHealth:
        return GatewayHealth(connected=True)


class ManualHarness(Harness):
    """Like :class:`Harness` but over a :class:`ManualGateway` (no matching)."""

    def __init__(self, *, capabilities: GatewayCapabilities | None = None,
                 risk: RiskConfig | None = LOOSE, store: RiskStateStore | None = None,
                 start_ns: int = T0) -> None:
        self.bus = MessageBus()
        self.clock = SimClock(start_ns)
        self.rec = Recorder(self.bus)
        self.store = store or MemoryRiskStateStore()
        self.venue = ManualGateway(capabilities)
        self.stack = TradingStack(bus=self.bus, clock=self.clock, gateway=self.venue,
                                  risk_store=self.store, risk=risk,
                                  oms=OmsConfig(alert_fills=False))
        self.oms = self.stack.oms
        self.risk = self.stack.risk
        self.portfolio = self.stack.portfolio
