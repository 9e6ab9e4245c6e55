"""The market data feed: gateway events in, validated records and closed bars out on the bus.

``gateway --Inbox--> MarketDataFeed --bus.publish (sync)--> strategies, indicators, paper``

One source of 1m bars per symbol: trades build bars until the venue's own closed 1m bars
arrive, which are used from then on (a bar delivered by both is kept once).

The feed drains the one bounded :class:`~engine.marketdata.inbox.Inbox` (one ``await`` per
wake-up, never per event), validates each record, builds 1m bars from trades and higher
timeframes from 1m bars (``engine.marketdata.aggregate``), keeps per-symbol ring buffers,
and publishes ``TradeTick``, ``Quote`` and ``Bar`` synchronously; closed bars also go to
``persist`` (the store writer's ``submit``). On a ``SimClock`` a replay's ``ClockAdvance``
items move the clock as they are handled; backtests push bars through replay lanes.

Bars close by event time (a trade of a later minute) or by the clock: every second, bars
that ended ``bar_close_grace_ms`` ago by the symbol's data time (its newest trade or bar's
time plus the clock time since it arrived; quotes carry no exchange time) close, once the
inbox is drained and unless the stream is reported interrupted (a backfill must land in
its own bars). The tick also raises stale symbols (silent ``stale_after_bars`` intervals).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Final

from engine.bus import MessageBus
from engine.clock import Clock, SimClock
from engine.config import MarketDataConfig
from engine.gateway import (
    ClockAdvance,
    FeedInterrupted,
    FeedRestored,
    InboundItem,
    MarketDataGateway,
    RecordRejected,
    TradeBatch,
)
from engine.ids import Symbol, Venue
from engine.marketdata import stale as _report
from engine.marketdata.gateway_runner import close_gateway, connect_and_subscribe, run_with_restarts
from engine.marketdata.inbox import Inbox
from engine.marketdata.replay_lane import ReplayLane
from engine.marketdata.ringbuffer import BarRing
from engine.marketdata.state import BASE_TIMEFRAME, CloseResult, SymbolState
from engine.marketdata.status import FeedHealth
from engine.marketdata.timeframes import timeframe_ns, validate_timeframe
from engine.marketdata.validate import (
    BadDataTracker,
    Reason,
    check_bar,
    check_quote,
    check_trade_values,
)
from engine.metrics import MetricsBuilder
from engine.model import Bar, OrderSide, Quote, TradeTick
from engine.monitor import CheckResult

__all__ = ["MarketDataFeed"]

_log = logging.getLogger(__name__)
_TICK_NS: Final = 1_000_000_000
_SIDES: Final = {1: OrderSide.BUY, -1: OrderSide.SELL, 0: None}


class MarketDataFeed:
    """Validates, aggregates and publishes market data; see the module docstring."""

    name = "marketdata"

    def __init__(self, bus: MessageBus, clock: Clock, config: MarketDataConfig, *,
                 gateway: MarketDataGateway | None = None,
                 persist: Callable[[Bar], object] | None = None,
                 connect_timeout_s: float = 30.0) -> None:
        self._bus = bus
        self._clock = clock
        self._config = config
        self._gateway = gateway
        self._persist = persist if config.persist_bars else None
        self._connect_timeout_s = connect_timeout_s
        # the timeframes whose bars are built (read-only outside; ensure_timeframes adds)
        self.timeframes = tuple(validate_timeframe(tf) for tf in config.timeframes)
        self._future_ns = config.max_future_ms * 1_000_000
        self._grace_ns = config.bar_close_grace_ms * 1_000_000
        self._partial_ns = config.partial_bars_ms * 1_000_000
        self._lengths: dict[str, int] = {}
        self.inbox = Inbox(config.queue_size)
        self.states: dict[Symbol, SymbolState] = {}
        self.bad = BadDataTracker(bus.publish, flood_threshold=config.bad_flood_threshold,
                                  flood_window_ns=int(config.bad_flood_window_s * 1e9))
        self.counts: dict[str, int] = {"trade": 0, "bar": 0, "quote": 0}
        self.bars_emitted: dict[str, int] = {}
        self.duplicate_bars = 0
        self._idle_pending = False
        self._arm_pending = False
        self._persist_errors = 0
        self._closed = False
        self._handlers: dict[type, Callable[[Any], None]] = {
            TradeTick: self.on_trade, TradeBatch: self.on_trades, Bar: self.on_bar,
            Quote: self.on_quote, FeedInterrupted: self._on_link, FeedRestored: self._on_link,
            RecordRejected: self._on_rejected, ClockAdvance: self._on_clock}
        now = clock.now_ns()
        for symbol in config.symbols:
            self._state(Venue(""), Symbol(symbol), now)

    # -- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Connect the gateway and subscribe the configured symbols and streams."""
        if self._gateway is not None:
            await connect_and_subscribe(self._gateway, self._config, self._connect_timeout_s)

    def start_timers(self) -> None:
        """Set the one-second clock tick (idle bar closing, stale detection). :meth:`run`
        does it; a backtest that drives :meth:`handle` on a SimClock calls it once. On a
        SimClock the tick starts with the first record, so that a clock still at its
        initial time does not fire a tick for every second up to the data."""
        if isinstance(self._clock, SimClock):
            self._arm_pending = True
        else:
            self._clock.set_timer("marketdata.tick", _TICK_NS, self.on_tick)

    async def run(self) -> None:
        """Consume the inbox (and run the gateway) until :meth:`close`; a TaskGroup task."""
        self.start_timers()
        try:
            async with asyncio.TaskGroup() as group:
                if self._gateway is not None:
                    group.create_task(run_with_restarts(self._gateway, self.inbox,
                                                        lambda: self._closed),
                                      name="md-gateway")
                await self._consume()
        finally:
            self._clock.cancel("marketdata.tick")

    async def close(self) -> None:
        """Stop intake, process what is queued, close the gateway. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.inbox.close()
        if self._gateway is not None:
            await close_gateway(self._gateway, self._connect_timeout_s)

    stop = close

    async def _consume(self) -> None:
        inbox = self.inbox
        while True:
            await inbox.wait()
            items = inbox.drain()
            if not items and inbox.closed:
                return
            handle = self.handle
            for item in items:
                handle(item)
            if self._idle_pending and not len(inbox):
                self._idle_pending = False
                try:
                    self._close_idle(self._clock.now_ns())
                except Exception:  # never let bar closing stop the intake
                    _log.exception("closing idle bars failed")

    # -- entry points (synchronous) -------------------------------------------------------

    def handle(self, item: InboundItem) -> None:
        """Process one inbound item now. Bad data is counted, never raised."""
        if self._arm_pending and item.__class__ is not ClockAdvance:
            self._arm_pending = False
            now = self._clock.now_ns()
            for st in self.states.values():
                st.last_recv_ns = max(st.last_recv_ns, now)
            self._clock.set_timer("marketdata.tick", _TICK_NS, self.on_tick)
        try:
            self._handlers[item.__class__](item)
        except Exception as exc:
            symbol = Symbol(str(getattr(item, "symbol", "?")))
            self.bad.reject(symbol, Reason.MALFORMED, self._clock.now_ns(), exc)

    def on_trade(self, trade: TradeTick) -> None:
        """One trade (the live path)."""
        now = self._clock.now_ns()
        st = self._of(trade.venue, trade.symbol, now)
        ts = trade.ts_ns
        reason = check_trade_values(trade.price, trade.qty, ts, now + self._future_ns)
        if reason:
            self.bad.reject(trade.symbol, reason, now, trade)
            return
        if trade.trade_id and st.seen_before(trade.trade_id):
            self.bad.reject(trade.symbol, Reason.DUPLICATE_TRADE_ID, now, trade)
            return
        closed = None
        if st.aggregate:
            accepted, closed = st.builder.add(ts, trade.price, trade.qty)
            if not accepted:
                self.bad.reject(trade.symbol, Reason.BEHIND_LAST_CLOSED, now, trade)
                return
        self._touch(st, now, ts)
        st.trades += 1
        self.counts["trade"] += 1
        if closed is not None:
            self._accept_closed(st, closed, now)
        self._bus.publish(trade)
        if self._partial_ns and st.aggregate and now - st.last_partial_ns >= self._partial_ns:
            st.last_partial_ns = now
            partial = st.builder.partial()
            if partial is not None:
                self._bus.publish(partial)

    def on_trades(self, batch: TradeBatch) -> None:
        """Trades as arrays (replay, backfill): numba validation and aggregation; one by one
        through :meth:`on_trade` while something subscribes to ``TradeTick`` (as live)."""
        if self._bus.has_subscribers(TradeTick):
            ts, price, qty = batch.ts.tolist(), batch.price.tolist(), batch.qty.tolist()
            sides, ids = batch.side.tolist(), batch.trade_id.tolist()
            for i in range(len(ts)):
                self.on_trade(TradeTick(batch.venue, batch.symbol, ts[i], price[i], qty[i],
                                        _SIDES[sides[i]], str(ids[i]) if ids[i] >= 0 else ""))
            return
        now = self._clock.now_ns()
        st = self._of(batch.venue, batch.symbol, now)
        rejected, accepted, closed = st.take_batch(batch, now + self._future_ns)
        for reason, n in rejected:
            self.bad.reject(batch.symbol, reason, now, batch, count=n)
        for bar in closed:
            self._accept_closed(st, bar, now)
        if accepted:
            st.trades += accepted
            self.counts["trade"] += accepted
            self._touch(st, now, st.last_batch_ts)

    def on_bar(self, bar: Bar) -> None:
        """A venue's bar (closed, or partial with ``closed=False``)."""
        now = self._clock.now_ns()
        st = self._of(bar.venue, bar.symbol, now)
        reason = check_bar(bar, now + self._future_ns)
        if reason:
            self.bad.reject(bar.symbol, reason, now, bar)
            return
        if not bar.closed:
            self._bus.publish(bar)
            return
        self.counts["bar"] += 1
        if bar.timeframe == BASE_TIMEFRAME:
            if st.aggregate:
                st.use_venue_bars()
            if bar.ts_ns < st.venue_bars_from:  # already built from trades
                self.duplicate_bars += 1
                return
        length = self._lengths.get(bar.timeframe) or self._lengths.setdefault(
            bar.timeframe, timeframe_ns(bar.timeframe))
        self._touch(st, now, bar.ts_ns + length)
        self._accept_closed(st, bar, now)

    def on_quote(self, quote: Quote) -> None:
        """Top of book."""
        now = self._clock.now_ns()
        st = self._of(quote.venue, quote.symbol, now)
        reason = check_quote(quote, now + self._future_ns)
        if reason:
            self.bad.reject(quote.symbol, reason, now, quote)
            return
        self.counts["quote"] += 1
        self._touch(st, now, 0)  # alive, but venues' book tickers carry no time (they get ours)
        self._bus.publish(quote)

    def ensure_timeframes(self, timeframes: list[str]) -> None:
        """Also build ``timeframes`` (before data flows: a backtest adds what its strategies
        asked for once they have started)."""
        extra = [validate_timeframe(tf) for tf in timeframes if tf not in self.timeframes]
        if not extra:
            return
        if any(st.base_tf is not None for st in self.states.values()):
            raise RuntimeError(f"timeframe {', '.join(extra)} can only be added before the "
                               "first bar")
        self.timeframes = (*self.timeframes, *extra)
        for st in self.states.values():
            st.targets = self.timeframes

    def on_tick(self, now_ns: int) -> None:
        """Clock tick (every second): close idle bars, detect stale symbols."""
        if len(self.inbox):
            self._idle_pending = True
        else:
            self._close_idle(now_ns)
        self.check_stale(now_ns)

    def warm(self, bars: list[Bar]) -> list[Bar]:
        """History before the stream (warm start): checked, recorded as if streamed (rings,
        higher timeframes), never published or persisted. Returns them and the bars closed."""
        out: list[Bar] = []
        now = self._clock.now_ns()
        for bar in bars:
            reason = check_bar(bar, now + self._future_ns)
            if not reason:
                self._of(bar.venue, bar.symbol, now).accept_closed(bar, out.append)
            else:
                self.bad.reject(bar.symbol, reason, now, bar)
        return out

    def replay_lane(self, timeframe: str) -> ReplayLane:
        """A lane for recorded closed bars of ``timeframe`` (backtests): :meth:`on_bar`'s
        result at a fraction of the cost. Persisting, bars take the feed's own emit."""
        if self._persist is not None:
            return ReplayLane(self, timeframe, self._emit, self._clock.now_ns)
        return ReplayLane(self, timeframe, self._bus.publish, self._clock.now_ns,
                          self.bars_emitted)

    def bars(self, symbol: Symbol | str, timeframe: str) -> BarRing:
        """The ring buffer of closed bars of ``symbol`` and ``timeframe`` (a live view)."""
        st = self.states.get(Symbol(symbol)) or self._state(
            Venue(""), Symbol(symbol), self._clock.now_ns())
        return st.ring(timeframe)

    # -- internals ------------------------------------------------------------------------

    def _of(self, venue: Venue, symbol: Symbol, now: int) -> SymbolState:
        st = self.states.get(symbol) or self._state(venue, symbol, now)
        if st.venue != venue:
            st.set_venue(venue)
        return st

    def _state(self, venue: Venue, symbol: Symbol, now: int) -> SymbolState:
        st = SymbolState(venue, symbol, self.timeframes, self._config.ring_size, now, 10_000)
        self.states[symbol] = st
        return st

    def _touch(self, st: SymbolState, now: int, event_ns: int) -> None:
        st.touch(now, event_ns)
        if st.stale:
            _report.set_stale(self, st, False, now)

    def _accept_closed(self, st: SymbolState, bar: Bar, now: int) -> None:
        result = st.accept_closed(bar, self._emit)
        if result == CloseResult.DUPLICATE:
            self.duplicate_bars += 1
        elif result == CloseResult.LATE:
            self.bad.reject(bar.symbol, Reason.BEHIND_LAST_CLOSED, now, bar)

    def _emit(self, bar: Bar) -> None:
        self.bars_emitted[bar.timeframe] = self.bars_emitted.get(bar.timeframe, 0) + 1
        self._bus.publish(bar)
        if self._persist is not None:
            try:
                self._persist(bar)
            except Exception as exc:
                self._persist_errors += 1
                if self._persist_errors == 1:
                    _log.exception("persisting a bar failed (further failures only counted)",
                                   exc_info=exc)

    def _close_idle(self, now: int) -> None:
        grace = self._grace_ns
        for st in self.states.values():
            if st.interrupted or not st.last_event_ns:
                continue
            st.flush(st.data_now(now) - grace, self._emit)

    def _on_link(self, event: FeedInterrupted | FeedRestored) -> None:
        # An interrupted symbol closes no bars by the clock: its backfill must land first.
        for st in self._states_of(event.symbols):
            st.interrupted = isinstance(event, FeedInterrupted)

    def _on_clock(self, event: ClockAdvance) -> None:
        if isinstance(self._clock, SimClock) and event.ts_ns > self._clock.now_ns():
            self._clock.advance_to(event.ts_ns)  # fires the timers due by then, in order

    def _on_rejected(self, event: RecordRejected) -> None:
        self.bad.reject(event.symbol, Reason.__members__.get(event.reason.upper(),
                        Reason.MALFORMED), self._clock.now_ns(), event.detail)

    def _states_of(self, symbols: tuple[Symbol, ...]) -> list[SymbolState]:
        now = self._clock.now_ns()
        return [self.states.get(s) or self._state(Venue(""), s, now)
                for s in symbols] if symbols else list(self.states.values())

    # -- reporting ------------------------------------------------------------------------

    def check_stale(self, now_ns: int) -> list[str]:
        """Mark symbols silent for ``stale_after_bars`` bar intervals (alert once)."""
        return _report.check_stale(self, now_ns)

    def health(self) -> FeedHealth:
        """Current state (see :class:`~engine.marketdata.status.FeedHealth`)."""
        return _report.build_health(self, self._gateway)

    def readiness(self) -> CheckResult:
        """For /readyz: fails while a symbol is stale or the gateway is down."""
        return _report.readiness(self)

    def status(self) -> dict[str, Any]:
        """A JSON-able summary for /status."""
        return _report.status(self)

    def metrics(self, out: MetricsBuilder) -> None:
        """Add the feed's samples to /metrics (see ``engine.marketdata.stale``)."""
        _report.fill_metrics(self, out)
