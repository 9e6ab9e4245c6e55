"""Stale-feed detection and the feed's reporting: health, /status, /readyz, /metrics."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from engine.gateway import GatewayHealth, MarketDataGateway
from engine.marketdata.state import SymbolState
from engine.marketdata.status import FeedHealth, SymbolStatus
from engine.metrics import MetricsBuilder
from engine.model import Alert, AlertSeverity
from engine.monitor import CheckResult

if TYPE_CHECKING:
    from engine.marketdata.feed import MarketDataFeed

__all__ = ["build_health", "check_stale", "fill_metrics", "readiness", "set_stale", "status"]

_log = logging.getLogger(__name__)



def check_stale(feed: MarketDataFeed, now_ns: int) -> list[str]:
    """Mark symbols without a record for ``stale_after_bars`` bar intervals; return the
    symbols that are stale now."""
    factor = feed._config.stale_after_bars
    stale: list[str] = []
    for st in feed.states.values():
        if now_ns - st.last_recv_ns > factor * st.base_len:
            if not st.stale:
                set_stale(feed, st, True, now_ns)
            stale.append(st.symbol)
    return stale

def set_stale(feed: MarketDataFeed, st: SymbolState, stale: bool, now_ns: int) -> None:
    st.stale = stale
    if stale:
        age_s = (now_ns - st.last_recv_ns) / 1e9
        _log.warning("market data stale", extra={"symbol": st.symbol, "age_s": age_s})
        feed._bus.publish(Alert(
            severity=AlertSeverity.WARNING, category="marketdata",
            title=f"market data stale: {st.symbol}",
            message=f"no data for {age_s:.0f} s (limit {feed._config.stale_after_bars} "
                    f"x {st.base_len // 1_000_000_000} s)",
            ts_ns=now_ns, symbol=st.symbol))
    else:
        _log.info("market data fresh again", extra={"symbol": st.symbol})
        feed._bus.publish(Alert(
            severity=AlertSeverity.INFO, category="marketdata",
            title=f"market data resumed: {st.symbol}", message="data flows again",
            ts_ns=now_ns, symbol=st.symbol))

def build_health(feed: MarketDataFeed, gateway: MarketDataGateway | None) -> FeedHealth:
    symbols = {
        str(st.symbol): SymbolStatus(
            symbol=st.symbol, last_receive_ns=st.last_recv_ns,
            last_event_ns=st.last_event_ns, stale=st.stale, interrupted=st.interrupted,
            trades=st.trades, bars_closed=st.bars_closed, last_close=st.last_close)
        for st in feed.states.values()
    }
    stale = tuple(s for s, v in symbols.items() if v.stale)
    gw: GatewayHealth | None = gateway.health() if gateway is not None else None
    detail = f"stale: {', '.join(stale)}" if stale else ""
    if gw is not None and not gw.connected:
        detail = "; ".join(filter(None, [detail, f"gateway: {gw.detail or 'down'}"]))
    events = dict(feed.counts)
    events["bars_emitted"] = sum(feed.bars_emitted.values())
    return FeedHealth(
        ready=not stale and (gw is None or gw.connected),
        stale_symbols=stale, symbols=symbols, bad_records=feed.bad.by_reason(),
        events=events, queue_depth=len(feed.inbox), queue_high_water=feed.inbox.high_water,
        coalesced=feed.inbox.coalesced, backpressure_waits=feed.inbox.backpressure_waits,
        duplicate_bars=feed.duplicate_bars, gateway=gw, detail=detail,
        extra={"persist_errors": feed._persist_errors},
    )

def readiness(feed: MarketDataFeed) -> CheckResult:
    """For /readyz: fails while a symbol is stale or the gateway is down."""
    health = feed.health()
    return CheckResult(health.ready, health.detail,
                       {"stale_symbols": list(health.stale_symbols)})

def status(feed: MarketDataFeed) -> dict[str, Any]:
    """A JSON-able summary for /status."""
    health = feed.health()
    gw = health.gateway
    return {
        "ready": health.ready,
        "symbols": {
            s: {"last_close": v.last_close, "last_event_ns": v.last_event_ns,
                "last_receive_ns": v.last_receive_ns, "stale": v.stale,
                "interrupted": v.interrupted, "trades": v.trades, "bars": v.bars_closed}
            for s, v in health.symbols.items()
        },
        "events": health.events,
        "bars_emitted": dict(feed.bars_emitted),
        "bad_records": health.bad_records,
        "queue": {"depth": health.queue_depth, "high_water": health.queue_high_water,
                  "coalesced": health.coalesced,
                  "backpressure_waits": health.backpressure_waits},
        "gateway": None if gw is None else {
            "venue": gw.venue, "connected": gw.connected, "detail": gw.detail,
            "reconnects": gw.reconnects, **gw.counters},
    }

def fill_metrics(feed: MarketDataFeed, out: MetricsBuilder) -> None:
    """Add the feed's samples to /metrics (names get the ``tradeengine_`` prefix)."""
    now = feed._clock.now_ns()
    for kind, n in feed.counts.items():
        out.counter("marketdata_records", "Accepted market data records by kind", n,
                    {"kind": kind})
    for tf, n in feed.bars_emitted.items():
        out.counter("marketdata_bars", "Closed bars published by timeframe", n,
                    {"timeframe": tf})
    for (symbol, reason), n in feed.bad.counts.items():
        out.counter("marketdata_bad_records", "Rejected market data records", n,
                    {"symbol": str(symbol), "reason": reason.label})
    out.counter("marketdata_bad_alerts", "Bad-data flood alerts raised",
                feed.bad.alerts_raised)
    out.counter("marketdata_duplicate_bars", "Closed bars seen twice and dropped",
                feed.duplicate_bars)
    out.gauge("marketdata_queue_depth", "Items waiting in the inbound queue",
              len(feed.inbox))
    out.gauge("marketdata_queue_high_water", "Most items ever waiting in the inbound queue",
              feed.inbox.high_water)
    out.counter("marketdata_queue_coalesced", "Quotes/partial bars replaced while queued",
                feed.inbox.coalesced)
    out.counter("marketdata_queue_backpressure_waits",
                "Times a gateway waited for room in the inbound queue",
                feed.inbox.backpressure_waits)
    for st in feed.states.values():
        labels = {"symbol": str(st.symbol)}
        out.gauge("marketdata_stale", "1 while the symbol's feed is stale",
                  1.0 if st.stale else 0.0, labels)
        out.gauge("marketdata_last_receive_age_seconds",
                  "Seconds since the symbol's last record", (now - st.last_recv_ns) / 1e9,
                  labels)
    gw = feed._gateway.health() if feed._gateway is not None else None
    if gw is not None:
        labels = {"venue": str(gw.venue)}
        out.gauge("marketdata_gateway_connected", "1 while the gateway streams",
                  1.0 if gw.connected else 0.0, labels)
        out.counter("marketdata_gateway_reconnects", "Gateway reconnections",
                    gw.reconnects, labels)
        for name, n in gw.counters.items():
            out.counter(f"marketdata_gateway_{name}", f"Gateway counter {name}", n, labels)
