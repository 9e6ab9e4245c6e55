"""Service adapters and built-in operator commands that :func:`engine.app.build_app` wires."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from engine import logs
from engine.commands import CommandError
from engine.metrics import MetricsBuilder
from engine.service import Service

if TYPE_CHECKING:
    from engine.app import Engine, GatewayFactory

__all__ = ["FeedService", "StrategiesService", "add_market_data", "prepare_strategy_data",
           "register_builtin_commands", "reload_strategies"]

_log = logging.getLogger(__name__)


def add_market_data(engine: Engine, factory: GatewayFactory | None) -> None:
    from engine.marketdata import MarketDataFeed

    gateway = factory(engine.config, engine.clock) if factory is not None else None

    def persist(bar: Any) -> None:
        writer = engine.database.writer
        if writer is not None:
            writer.submit(bar)

    feed = MarketDataFeed(engine.bus, engine.clock, engine.config.marketdata, gateway=gateway,
                          persist=persist)
    engine.add_service(FeedService(feed))
    engine.readiness.add("marketdata", feed.readiness)
    engine.marketdata = feed


def prepare_strategy_data(engine: Engine, host: Any) -> None:
    """Have the feed build every timeframe the strategies read, ``[marketdata] timeframes``
    or not. Only before data flows: a reload that adds one later gets an alert instead, as
    does (on ccxt) a reloaded strategy on a symbol the feed does not stream: either would
    wait for bars that never come."""
    feed = engine.marketdata
    if feed is None:
        return
    problems = []
    try:
        feed.ensure_timeframes(host.timeframes_used())
    except RuntimeError as exc:
        problems.append(("timeframe not built",
                         f"{exc}: add it to [marketdata] timeframes and restart"))
    md = engine.config.marketdata
    if md.source == "ccxt":
        for sid, missing in host.symbols_missing(md.symbols).items():
            problems.append(("symbol not streamed", f"strategy {sid}: {', '.join(missing)} "
                             "not in marketdata.symbols: add it and restart"))
    from engine.model import Alert, AlertSeverity

    for title, message in problems:
        _log.error("%s: %s", title, message)
        engine.bus.publish(Alert(severity=AlertSeverity.ERROR, category="strategy",
                                 title=title, message=message, ts_ns=engine.clock.now_ns()))


def reload_strategies(engine: Engine, tables: list[dict[str, Any]]) -> dict[str, str]:
    """Apply a ``[[strategies]]`` list to the running engine (SIGHUP, ``reload-strategies``):
    every strategy reloaded, added, replaced, disabled or halted as the tables say, then the
    data they read prepared. Returns what happened to each, by name."""
    host = engine.strategies
    outcome: dict[str, str] = host.reload_all(tables)
    prepare_strategy_data(engine, host)
    return outcome


class StrategiesService(Service):
    """Starts strategies (on_start) with the engine; stops them (on_stop) before trading."""

    name = "strategies"

    def __init__(self, host: Any, engine: Engine) -> None:
        self.host = host
        self.engine = engine

    async def start(self) -> None:
        self.host.start()
        prepare_strategy_data(self.engine, self.host)  # events flow only after this

    async def stop(self) -> None:
        self.host.stop()

    def status(self) -> dict[str, Any]:
        return {"strategies": self.host.status()}

    def metrics(self, out: MetricsBuilder) -> None:
        self.host.metrics(out)


class FeedService(Service):
    """Adapts the market data feed to the engine's service life cycle."""

    name = "marketdata"

    def __init__(self, feed: Any) -> None:
        self.feed = feed

    async def start(self) -> None:
        await self.feed.start()

    def run(self) -> Awaitable[None] | None:
        return self.feed.run()  # type: ignore[no-any-return]

    async def stop(self) -> None:
        await self.feed.close()

    def status(self) -> dict[str, Any]:
        return self.feed.status()  # type: ignore[no-any-return]

    def metrics(self, out: MetricsBuilder) -> None:
        self.feed.metrics(out)


def register_builtin_commands(engine: Engine) -> None:
    def status(args: dict[str, Any], actor: str) -> Any:
        return engine.status()

    def log_level(args: dict[str, Any], actor: str) -> Any:
        level = args.get("level")
        if level not in ("debug", "info", "warning", "error"):
            raise CommandError("level: one of debug, info, warning, error")
        logs.set_level(level)
        return {"level": level}

    engine.commands.register("status", status, "the /status document")
    engine.commands.register("log-level", log_level, "set the log level: {\"level\": \"debug\"}")
