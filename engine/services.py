"""Service adapters and built-in operator commands that :func:`engine.app.build_app` wires."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from engine import logs
from engine.commands import CommandError
from engine.metrics import MetricsBuilder
from engine.service import Service

if TYPE_CHECKING:
    from engine.app import Engine, GatewayFactory

__all__ = ["FeedService", "add_market_data", "prepare_strategy_data",
           "register_builtin_commands", "reload_strategies", "warm_from_history",
           "warn_short_sellers"]

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
    engine.add_service(FeedService(feed, warm=lambda: warm_from_history(engine, gateway)))
    engine.readiness.add("marketdata", feed.readiness)
    engine.marketdata = feed


async def warm_from_history(engine: Engine, gateway: Any) -> dict[str, Any] | None:
    """A live (ccxt) engine's warm start, once the gateway is connected and before data
    flows: the strategies' indicators advanced over the bars before now
    (:mod:`engine.marketdata.warmup`). What it loaded, for /status; None when off."""
    from engine.ids import Symbol
    from engine.marketdata import warmup
    from engine.model import Alert, AlertSeverity

    md, host = engine.config.marketdata, engine.strategies
    if md.source != "ccxt" or not md.warmup_periods or host is None or gateway is None:
        return None
    hub = host.indicators
    rings = {symbol: {tf: min(bars, md.ring_size) for tf, bars in asked.items()}
             for symbol, asked in host.history_wanted().items()}  # a ring holds ring_size
    spans = warmup.plan_spans(hub.longest_periods(), hub.symbols, periods=md.warmup_periods,
                              max_bars=md.warmup_max_bars, rings=rings)
    if not spans:
        return None
    sources: list[warmup.HistorySource] = []
    if hasattr(gateway, "history"):  # optional in the MarketDataGateway protocol
        sources.append(warmup.GatewayHistory(gateway.history))
    if engine.database.pool is not None:
        sources.append(warmup.PriceDataHistory(engine.database.pool, str(gateway.venue),
                                               md.warmup_timeout_s))
    resume_from = getattr(gateway, "resume_from", None)
    report = await warmup.warm_start(
        engine.marketdata, hub, sources, spans, now_ns=await _venue_now_ns(engine, gateway),
        timeout_s=md.warmup_timeout_s,
        resume=None if resume_from is None else
        lambda symbol, ts_ns: resume_from(Symbol(symbol), bar_ts_ns=ts_ns))
    for symbol, by_source in report.bars.items():
        _log.info("warm start: %s: %d 1m bars (%s)", symbol, sum(by_source.values()),
                  ", ".join(f"{name} {n}" for name, n in by_source.items()))
    if report.failures:
        message = "; ".join(report.failures)
        _log.warning("warm start incomplete, indicators start colder: %s", message)
        engine.bus.publish(Alert(severity=AlertSeverity.WARNING, category="marketdata",
                                 title="warm start incomplete", message=message,
                                 ts_ns=engine.clock.now_ns()))
    return report.as_dict()


async def _venue_now_ns(engine: Engine, gateway: Any) -> int:
    """The present as the venue sees it, which history is read up to: the exchange's clock
    where it tells it (a skewed local clock would cut history short or read the bar still
    open), else ours."""
    ours = engine.clock.now_ns()
    if not hasattr(gateway, "exchange_now_ns"):
        return ours
    try:
        theirs = await asyncio.wait_for(gateway.exchange_now_ns(),
                                        min(10.0, engine.config.marketdata.warmup_timeout_s))
    except Exception as exc:  # the clock only refines the span; ours will do
        _log.warning("warm start: the exchange's clock could not be read (%s); using ours", exc)
        return ours
    if theirs is None:
        return ours
    if abs(theirs - ours) > 1_000_000_000:  # a round trip is well under a second
        _log.warning("the exchange's clock is %.1f s %s ours (records stamped more than "
                     "max_future_ms %d ms ahead of ours are refused as from the future); "
                     "check the host's time synchronisation (NTP)", abs(theirs - ours) / 1e9,
                     "ahead of" if theirs > ours else "behind",
                     engine.config.marketdata.max_future_ms)
    return int(theirs)


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
    warn_short_sellers(engine.config, host, [sid for sid, what in outcome.items()
                                             if what in ("added", "reloaded", "replaced")])
    return outcome


def warn_short_sellers(config: Any, host: Any, ids: Iterable[str]) -> None:
    """Warn of each strategy of ``ids`` running that sells short while ``[risk]
    allow_short`` is false: the risk engine will refuse its short orders."""
    if config.risk.allow_short:
        return
    for sid in ids:
        if host.sells_short(sid):
            _log.warning("strategy %s sells short but [risk] allow_short is false: the risk "
                         "engine will refuse its short orders", sid)


class FeedService(Service):
    """Adapts the market data feed to the engine's service life cycle."""

    name = "marketdata"

    def __init__(self, feed: Any,
                 warm: Callable[[], Awaitable[dict[str, Any] | None]] | None = None) -> None:
        self.feed = feed
        self._warm = warm
        self.warmup: dict[str, Any] | None = None

    async def start(self) -> None:
        await self.feed.start()
        if self._warm is not None:  # the gateway is connected; no data flows yet
            self.warmup = await self._warm()

    def run(self) -> Awaitable[None] | None:
        return self.feed.run()  # type: ignore[no-any-return]

    async def stop(self) -> None:
        await self.feed.close()

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.feed.status()
        return status if self.warmup is None else {**status, "warmup": self.warmup}

    def metrics(self, out: MetricsBuilder) -> None:
        self.feed.metrics(out)
        if self.warmup is not None:
            for symbol, by_source in self.warmup["bars"].items():
                for source, bars in by_source.items():
                    out.gauge("warmup_bars", "1m history bars the warm start loaded",
                              float(bars), {"symbol": symbol, "source": source})
            out.gauge("warmup_failures", "History reads that failed or timed out at start",
                      float(len(self.warmup["failures"])))


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
