"""The paper execution gateway: orders matched in-process against the market data that flows.

It implements :class:`engine.execution.ExecutionGateway` (async, like a live venue) and
:class:`engine.execution.SyncExecution` (the OMS's direct path). The matching rules are
:class:`gateways.fillmodel.Matcher`'s, the same object a backtest drives, so paper and
backtest results agree by construction. Attach it to the bus to feed it market data:
``gateway.attach(bus)`` subscribes it to trades, bars and quotes.

The paper venue keeps nothing across restarts (``orders_survive_restart`` is False): the
OMS submits its working orders again at start-up under the same client order ids.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.bus import MessageBus
from engine.clock import Clock
from engine.decimal_prices import DecimalPrices
from engine.execution import (
    ExecutionReport,
    GatewayCapabilities,
    GatewayHealth,
    ReportHandler,
    ReportSink,
)
from engine.ids import Venue
from engine.model import Bar, Order, OrderType, Quote, TimeInForce, TradeTick
from engine.oms.fastobj import IdGenerator
from engine.oms.manager import OmsConfig
from engine.oms.stack import OrderLoader, TradingStack
from engine.portfolio import PortfolioConfig
from engine.risk import RiskConfig, RiskStateStore
from gateways.fillmodel import Matcher, PaperFillModel

__all__ = ["PaperFillModel", "PaperGateway", "build_paper_stack"]

PAPER_VENUE = Venue("paper")
PAPER_CAPABILITIES = GatewayCapabilities(
    order_types=frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_LOSS,
                           OrderType.STOP_LIMIT}),
    time_in_force=frozenset(TimeInForce),
    modify=False,
    orders_survive_restart=False,
)


class PaperGateway:
    """Paper venue: see the module docstring."""

    name = "paper-gateway"

    def __init__(self, *, clock: Clock, model: PaperFillModel | None = None,
                 venue: Venue = PAPER_VENUE, ids: IdGenerator | None = None,
                 prices: DecimalPrices | None = None) -> None:
        self._clock = clock
        self._venue = venue
        self._handler: ReportHandler | None = None
        self.model = model or PaperFillModel()
        self.matcher = Matcher(self.model, self._report, ids, prices=prices)
        self._submit = self.matcher.submit
        self._now = clock.now_ns
        self.on_trade = self.matcher.on_trade
        self.on_bar = self.matcher.on_bar
        self.on_quote = self.matcher.on_quote
        self._connected = False

    @property
    def venue(self) -> Venue:
        """The venue name orders carry."""
        return self._venue

    @property
    def capabilities(self) -> GatewayCapabilities:
        """Market, limit and stops natively; IOC/FOK/GTC; nothing kept across restarts."""
        return PAPER_CAPABILITIES

    def set_report_handler(self, handler: ReportHandler) -> None:
        """Send reports to ``handler`` (the OMS's ``on_report``): the matcher calls it
        directly, with nothing in between."""
        self._handler = handler
        self.matcher.set_emit(handler)

    def set_report_sink(self, sink: ReportSink) -> None:
        """Acceptances and fills as plain calls into ``sink`` (the OMS, whose ``on_report``
        is the report handler); :meth:`set_report_handler` undoes it."""
        self.matcher.set_sink(sink)

    def attach(self, bus: MessageBus) -> None:
        """Subscribe the matcher to market data on ``bus``.

        Subscribe it before the strategies so that a bar reaches the matcher before a
        strategy reacts to it (the matcher's eligibility rule makes the other order safe too).
        """
        bus.subscribe(TradeTick, self.on_trade)
        bus.subscribe(Bar, self.on_bar)
        bus.subscribe(Quote, self.on_quote)

    def _report(self, report: ExecutionReport) -> None:
        if self._handler is not None:  # reports before a handler is set go nowhere
            self._handler(report)

    # -- SyncExecution ---------------------------------------------------------------------

    def submit_now(self, order: Order) -> None:
        """Submit synchronously; the acceptance (and a fill against a known quote) is
        reported before this returns."""
        self._submit(order, self._now())

    def cancel_now(self, order: Order) -> None:
        """Cancel synchronously."""
        self.matcher.cancel(order.client_order_id, self._clock.now_ns())

    # -- ExecutionGateway ------------------------------------------------------------------

    async def connect(self) -> None:
        """Nothing to connect to."""
        self._connected = True

    async def close(self) -> None:
        """Nothing to close."""
        self._connected = False

    async def submit(self, order: Order) -> None:
        """See :meth:`submit_now`."""
        self.submit_now(order)

    async def cancel(self, order: Order) -> None:
        """See :meth:`cancel_now`."""
        self.cancel_now(order)

    async def modify(self, order: Order, *, qty: Decimal | None = None,
                     limit_price: Decimal | None = None) -> None:
        """Not supported by the paper venue (cancel and submit again)."""
        raise NotImplementedError("paper venue: cancel and submit a new order instead")

    def health(self) -> GatewayHealth:
        """Always healthy: it is in-process."""
        return GatewayHealth(connected=True, detail="paper",
                             extra={"working_orders": self.matcher.working(),
                                    "fills": self.matcher.fills})

    def status(self) -> dict[str, Any]:
        """For /status."""
        return {"venue": self._venue, "working_orders": self.matcher.working(),
                "fills": self.matcher.fills, "model": {
                    k: str(getattr(self.model, k)) for k in self.model.__struct_fields__}}


def build_paper_stack(
    *, bus: MessageBus, clock: Clock, risk_store: RiskStateStore,
    model: PaperFillModel | None = None, risk: RiskConfig | None = None,
    portfolio: PortfolioConfig | None = None, oms: OmsConfig | None = None,
    venue: Venue = PAPER_VENUE, load_orders: OrderLoader | None = None,
) -> tuple[PaperGateway, TradingStack]:
    """A paper gateway subscribed to ``bus`` first, then the trading stack over it.

    What paper mode and backtests wire; market data published on ``bus`` drives the fills.
    """
    prices = DecimalPrices()  # each trade price becomes a Decimal once, for both
    gateway = PaperGateway(clock=clock, model=model, venue=venue, prices=prices)
    gateway.attach(bus)
    stack = TradingStack(bus=bus, clock=clock, gateway=gateway, risk_store=risk_store,
                         risk=risk, portfolio=portfolio, oms=oms, load_orders=load_orders,
                         prices=prices)
    return gateway, stack
