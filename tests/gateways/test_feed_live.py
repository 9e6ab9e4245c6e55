"""The feed with the ccxt gateway against the local exchange server: stale detection,
readiness, and the whole path gateway -> inbox -> bus."""

from __future__ import annotations

import asyncio

from _exchange_helpers import ExchangeProcess

from engine.bus import MessageBus
from engine.clock import LiveClock
from engine.config import MarketDataConfig
from engine.marketdata import MarketDataFeed
from engine.model import Alert, AlertSeverity, Bar, TradeTick
from gateways.ccxt_gateway import CcxtMarketDataGateway


async def _until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def test_stall_makes_the_symbol_stale_and_not_ready(
        exchange_server: ExchangeProcess) -> None:
    clock = LiveClock()
    config = MarketDataConfig(symbols=["XRP/ETH"], streams=["trades", "bars"],
                              stale_after_bars=0.02)  # 1.2 s of silence
    gateway = CcxtMarketDataGateway(exchange_server.exchange_config(), config, clock,
                                    stall_timeout_s=30.0)
    bus = MessageBus()
    seen: dict[type, list[object]] = {TradeTick: [], Bar: [], Alert: []}
    for kind, items in seen.items():
        bus.subscribe(kind, items.append)
    feed = MarketDataFeed(bus, clock, config, gateway=gateway)
    await feed.start()
    task = asyncio.create_task(feed.run())
    try:
        await _until(lambda: len(seen[TradeTick]) >= 3 and feed.readiness().ok)
        await asyncio.to_thread(exchange_server.control, "stall", seconds=4.0)
        await _until(lambda: not feed.readiness().ok)
        assert feed.health().stale_symbols == ("XRP/ETH",)
        assert any(a.severity is AlertSeverity.WARNING for a in seen[Alert])  # type: ignore
        await _until(lambda: feed.readiness().ok, timeout=15.0)  # data flows again
        await _until(lambda: bool(seen[Bar]))  # closed 1m bars reach the bus
        assert feed.bad.total == 0, feed.bad.counts
    finally:
        await feed.close()
        await asyncio.wait_for(task, 10)


