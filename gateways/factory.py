"""Build the configured market data gateway (the engine never imports ``gateways``; the CLI
calls this and injects the result)."""

from __future__ import annotations

from engine.bus import MessageBus
from engine.clock import Clock
from engine.config import Config, ConfigError, convert_section
from engine.execution import ExecutionGateway
from engine.gateway import MarketDataGateway
from engine.oms.stack import OrderLoader, TradingStack
from engine.risk.state import RiskStateStore

__all__ = ["build_execution", "build_market_data_gateway"]


def build_market_data_gateway(config: Config, clock: Clock) -> MarketDataGateway | None:
    """The gateway ``marketdata.source`` names: ``replay`` (no network needed), ``ccxt``,
    or None for ``none``."""
    source = config.marketdata.source
    if source == "replay":
        from gateways.replay import ReplayGateway

        replay = config.replay
        return ReplayGateway(replay.files, clock, speed=replay.speed, loop=replay.loop,
                             align_start=replay.align_start)
    if source == "ccxt":
        from gateways.ccxt_gateway import CcxtMarketDataGateway

        gateway: MarketDataGateway = CcxtMarketDataGateway(config.exchange, config.marketdata,
                                                           clock)
        return gateway
    return None


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
