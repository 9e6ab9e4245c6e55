"""Build the configured market data gateway (the engine never imports ``gateways``; the CLI
calls this and injects the result)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from engine.bus import MessageBus
from engine.clock import Clock
from engine.config import Config, ConfigError, convert_section
from engine.execution import ExecutionGateway
from engine.gateway import GatewayError, MarketDataGateway
from engine.marketdata.recorded import RecordedData
from engine.oms.stack import OrderLoader, TradingStack
from engine.risk.state import RiskStateStore

__all__ = ["build_execution", "build_market_data_gateway", "database_dsn"]

_PRICE_READ_TIMEOUT_S: Final = 25.0
"""Budget of the whole price_data read: the market data feed gives ``connect()`` 30 s."""


def build_market_data_gateway(config: Config, clock: Clock) -> MarketDataGateway | None:
    """The gateway ``marketdata.source`` names: ``replay`` (no network needed), ``ccxt``,
    or None for ``none``."""
    source = config.marketdata.source
    if source == "replay":
        from gateways.replay import ReplayGateway

        replay = config.replay
        if replay.source == "price_data":
            return ReplayGateway((), clock, speed=replay.speed, loop=replay.loop,
                                 align_start=replay.align_start,
                                 load_data=_price_data_loader(config))
        return ReplayGateway(replay.files, clock, speed=replay.speed, loop=replay.loop,
                             align_start=replay.align_start)
    if source == "ccxt":
        from gateways.ccxt_gateway import CcxtMarketDataGateway

        gateway: MarketDataGateway = CcxtMarketDataGateway(config.exchange, config.marketdata,
                                                           clock)
        return gateway
    return None


def database_dsn(config: Config) -> str:
    """The DSN the engine's database runs on: ``database.dsn``, else the private cluster's
    in the state directory (the one :class:`engine.database.Database` starts)."""
    if config.database.dsn:
        return config.database.dsn.reveal()
    from engine.database import embedded_cluster

    return embedded_cluster(config).dsn()


def _price_data_loader(config: Config) -> Callable[[], Sequence[RecordedData]]:
    """``[replay] source = "price_data"``: read the ``tables`` series between ``start`` and
    ``end`` from the engine's own database. The read happens when the gateway connects (in
    its worker thread): the engine starts its database, embedded cluster included, before
    it connects market data."""
    from engine.secrets import Secret
    from engine.store.errors import StoreError
    from engine.store.price_reader import PriceDataSource, PriceSeries

    replay, db = config.replay, config.database
    start_ns, end_ns = replay.range_ns()
    source = PriceDataSource(
        dsn=Secret(database_dsn(config)), schema=db.schema,
        series=tuple(PriceSeries(*one) for one in replay.table_series()),
        start_ns=start_ns, end_ns=end_ns, connect_timeout_s=db.connect_timeout_s,
        command_timeout_s=db.command_timeout_s, timeout_s=_PRICE_READ_TIMEOUT_S)

    def load() -> Sequence[RecordedData]:
        try:
            return source()
        except StoreError as exc:
            raise GatewayError(f"replay: {exc}") from exc

    return load


def build_execution(
    config: Config, *, bus: MessageBus, clock: Clock, risk_store: RiskStateStore,
    load_orders: OrderLoader | None = None,
) -> tuple[ExecutionGateway, TradingStack]:
    """The execution gateway for ``engine.mode`` and the trading stack over it.

    ``paper``: the paper matcher over whatever market data flows (``[paper]`` fill model).
    ``live``: not available yet (the ccxt order-entry half lands with the live-trading
    issue); refusing is safer than pretending.
    """
    if config.engine.mode != "paper":
        raise ConfigError("engine.mode: 'live' execution is not available yet; use 'paper'")
    from gateways.fillmodel import PaperFillModel
    from gateways.paper import build_paper_stack

    model = convert_section(config.paper, PaperFillModel, "paper")
    return build_paper_stack(bus=bus, clock=clock, risk_store=risk_store, model=model,
                             risk=config.risk, portfolio=config.portfolio, oms=config.oms,
                             load_orders=load_orders)
