"""Driving a market data gateway for the feed: connect and subscribe, run it with restarts
after failures, close it quietly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from engine.config import MarketDataConfig
from engine.gateway import MarketDataGateway, MarketDataSink
from engine.ids import Symbol

__all__ = ["close_gateway", "connect_and_subscribe", "run_with_restarts"]

_log = logging.getLogger(__name__)


async def connect_and_subscribe(gateway: MarketDataGateway, config: MarketDataConfig,
                                timeout_s: float) -> None:
    """Connect and subscribe the configured symbols to the configured streams, within
    ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        await gateway.connect()
        for symbol in map(Symbol, config.symbols):
            if "trades" in config.streams:
                await gateway.subscribe_trades(symbol)
            if "bars" in config.streams:
                await gateway.subscribe_bars(symbol, "1m")
            if "quotes" in config.streams:
                await gateway.subscribe_quotes(symbol)


async def run_with_restarts(gateway: MarketDataGateway, sink: MarketDataSink,
                            closed: Callable[[], bool]) -> None:
    """Run the gateway into ``sink``; a failure (a gateway bug) is logged and the gateway
    restarted after a capped, doubling delay, until ``closed()``."""
    delay = 1.0
    while not closed():
        try:
            await gateway.run(sink)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a gateway bug must not stop the engine
            _log.exception("market data gateway failed; restarting in %.0f s", delay,
                           exc_info=exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60.0)


async def close_gateway(gateway: MarketDataGateway, timeout_s: float) -> None:
    """Close the gateway within ``timeout_s``; its errors are of no use at shutdown."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(timeout_s):
            await gateway.close()
