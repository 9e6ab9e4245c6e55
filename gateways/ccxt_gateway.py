"""Live market data through ccxt: ccxt.pro websockets first, REST polling as the fallback.

Market data half of the ccxt gateway (the execution half is a separate class that will
share :mod:`gateways.ccxt_common`). One task per stream and symbol:

- trades: ``watch_trades`` (Binance: the ``aggTrade`` stream, whose ids REST's
  ``aggTrades`` continues with ``fromId``). Every trade is delivered once: ids at or below
  the last delivered are dropped; a jump in Binance's contiguous ids, a reconnect or a
  quiet stream (``stall_timeout_s``) triggers a REST backfill from the last id.
- bars (:mod:`gateways.ccxt_bars`): ``watch_ohlcv`` is the trigger, REST ``fetch_ohlcv``
  the source of truth, which also backfills after a reconnect and reads history for a warm
  start.
- quotes: ``watch_bids_asks`` (book ticker) where the venue has it, else ``watch_ticker``;
  offered to the inbox (latest wins), never backfilled.

Without websockets (``exchange.websocket = false`` or no ccxt.pro class) the same streams
poll REST every ``poll_interval_s``. A failing stream reports :class:`FeedInterrupted`,
backs off (capped exponential, jitter), backfills, then reports :class:`FeedRestored`. A
stream silent for ``stall_timeout_s`` is probed over REST; if REST has data the socket did
not deliver, the socket is dropped and reopened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final

import ccxt.async_support as ccxt_async

from engine.clock import Clock
from engine.config import ExchangeConfig, MarketDataConfig
from engine.gateway import (
    FeedInterrupted,
    FeedRestored,
    GatewayError,
    GatewayHealth,
    MarketDataSink,
    RecordRejected,
)
from engine.ids import Symbol, Venue
from engine.marketdata.timeframes import timeframe_ns
from engine.model import OrderSide, TradeTick
from gateways.ccxt_bars import CcxtBars
from gateways.ccxt_common import Backoff, build_exchange, next_ticker, ticker_quote
from gateways.ccxt_track import SymbolTrack

__all__ = ["CcxtMarketDataGateway"]

_log = logging.getLogger(__name__)
_NS_PER_MS: Final = 1_000_000
_SIDES: Final = {"buy": OrderSide.BUY, "sell": OrderSide.SELL}
_RETRYABLE: Final = (ccxt_async.NetworkError, ccxt_async.ExchangeNotAvailable, TimeoutError,
                     ConnectionError)


class CcxtMarketDataGateway(CcxtBars):
    """:class:`~engine.gateway.MarketDataGateway` over ccxt; see the module docstring."""

    def __init__(self, exchange: ExchangeConfig, marketdata: MarketDataConfig, clock: Clock,
                 *, stall_timeout_s: float = 60.0, bar_timeframe: str = "1m") -> None:
        self._config = exchange
        self._clock = clock
        self._venue = Venue(exchange.name)
        self._contiguous_ids = str(self._venue).startswith("binance")  # aggTrade ids
        self._stall_s = stall_timeout_s
        self._tf = bar_timeframe
        self._tf_ms = timeframe_ns(bar_timeframe) // _NS_PER_MS
        self._ex: Any = None
        self._trades: list[Symbol] = []
        self._bars: list[Symbol] = []
        self._quotes: list[Symbol] = []
        self._track: dict[Symbol, SymbolTrack] = {}
        self._closed = False
        self._ws = False
        self.reconnects = 0
        self.counters = {"trades": 0, "bars": 0, "quotes": 0, "backfilled_trades": 0,
                         "backfilled_bars": 0, "duplicates_dropped": 0, "malformed": 0,
                         "stalls": 0}
        self._last_message_ns = 0
        self._detail = "not connected"
        del marketdata  # streams are chosen by the feed through subscribe_*

    @property
    def venue(self) -> Venue:
        """The ccxt exchange id."""
        return self._venue

    @property
    def exchange(self) -> Any:
        """The ccxt exchange object (after :meth:`connect`)."""
        return self._ex

    def resume_from(self, symbol: Symbol, *, bar_ts_ns: int | None = None,
                    trade_id: int | None = None) -> None:
        """Continue after what the engine already holds: backfill bars after ``bar_ts_ns``
        (and, with no ``trade_id``, trades from that bar's end) and trades after
        ``trade_id`` on the first connection."""
        track = self._track.setdefault(symbol, SymbolTrack())
        if bar_ts_ns is not None:
            track.last_bar_ms = bar_ts_ns // _NS_PER_MS
        if trade_id is not None:
            track.last_trade_id = trade_id

    async def connect(self) -> None:
        """Build the ccxt exchange and load its markets."""
        if self._ex is None:
            self._ex = build_exchange(self._config)
            self._ws = bool(self._config.websocket and getattr(self._ex, "has", {}).get(
                "watchTrades"))
        try:
            await asyncio.wait_for(self._ex.load_markets(), self._config.timeout_s)
        except (TimeoutError, ccxt_async.BaseError) as exc:
            raise GatewayError(f"{self._venue}: cannot load markets: {exc}") from exc
        missing = [s for s in {*self._trades, *self._bars, *self._quotes}
                   if s not in self._ex.markets]
        if missing:
            raise GatewayError(f"{self._venue}: unknown symbols {sorted(missing)}")
        self._detail = ""

    async def subscribe_trades(self, symbol: Symbol) -> None:
        """Stream trades of ``symbol``."""
        self._add(self._trades, symbol)

    async def subscribe_bars(self, symbol: Symbol, timeframe: str) -> None:
        """Stream closed bars of ``symbol`` (the gateway's ``bar_timeframe``)."""
        if timeframe != self._tf:
            raise GatewayError(f"bars of {timeframe}: this gateway streams {self._tf}")
        self._add(self._bars, symbol)

    async def subscribe_quotes(self, symbol: Symbol) -> None:
        """Stream top of book of ``symbol``."""
        self._add(self._quotes, symbol)

    def _add(self, streams: list[Symbol], symbol: Symbol) -> None:
        if symbol not in streams:
            streams.append(symbol)
        self._track.setdefault(symbol, SymbolTrack())

    async def run(self, sink: MarketDataSink) -> None:
        """Stream every subscription into ``sink`` until closed."""
        if self._ex is None:
            await self.connect()
        async with asyncio.TaskGroup() as group:
            for symbol in self._trades:
                    group.create_task(self._stream(sink, symbol, "trades", self._trades_step,
                                               self._resync_trades))
            for symbol in self._bars:
                group.create_task(self._stream(sink, symbol, "bars", self._bars_step,
                                               self._resync_bars))
            for symbol in self._quotes:
                group.create_task(self._stream(sink, symbol, "quotes", self._quotes_step,
                                               None))

    async def close(self) -> None:
        """Stop streaming and close ccxt's sessions and sockets; idempotent."""
        self._closed = True
        if self._ex is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ex.close(), self._config.timeout_s)

    def health(self) -> GatewayHealth:
        """Connected when loaded and no stream is down."""
        down = sorted({f"{s}:{k}" for s, t in self._track.items() for k in t.down})
        detail = self._detail or (f"down: {', '.join(down)}" if down else "")
        return GatewayHealth(self._venue, connected=self._ex is not None and not down
                             and not self._closed and not self._detail, detail=detail,
                             reconnects=self.reconnects,
                             last_message_ns=self._last_message_ns, counters=dict(self.counters))

    # -- the stream loop ------------------------------------------------------------------

    async def _stream(self, sink: MarketDataSink, symbol: Symbol, kind: str,
                      step: Any, resync_fn: Any) -> None:
        """Run ``step`` forever; on failure: interrupt, back off, resync (backfill the gap
        over REST), restore."""
        backoff = Backoff(self._config.reconnect_initial_s, self._config.reconnect_max_s)
        track = self._track[symbol]
        resync = True
        while not self._closed:
            try:
                if resync:
                    if resync_fn is not None:
                        await resync_fn(sink, symbol)
                    if kind in track.down:
                        await self._restored(sink, symbol, kind)
                    resync = False
                await step(sink, symbol)
                backoff.reset()
            except asyncio.CancelledError:
                raise
            except _RETRYABLE as exc:
                if self._closed:
                    return
                await self._interrupted(sink, symbol, kind, exc)
                await asyncio.sleep(backoff.next())
                resync = True
            except ccxt_async.BaseError as exc:  # venue refused something: log, go on
                _log.warning("%s %s %s: %s", self._venue, symbol, kind, exc)
                await asyncio.sleep(backoff.next())
                resync = True
            except Exception as exc:  # malformed data inside ccxt: count, go on
                self.counters["malformed"] += 1
                sink.put_nowait(RecordRejected(self._venue, symbol, "malformed",
                                               self._clock.now_ns(), repr(exc)[:200]))
                resync = True

    async def _interrupted(self, sink: MarketDataSink, symbol: Symbol, kind: str,
                           exc: BaseException) -> None:
        track = self._track[symbol]
        if kind in track.down:
            return
        self.reconnects += 1
        _log.warning("%s %s %s stream lost: %s", self._venue, symbol, kind, exc)
        if track.stream_down(kind):
            await sink.put(FeedInterrupted(self._venue, (symbol,), self._clock.now_ns(),
                                           f"{kind}: {exc}"))

    async def _restored(self, sink: MarketDataSink, symbol: Symbol, kind: str) -> None:
        if self._track[symbol].stream_up(kind):
            await sink.put(FeedRestored(self._venue, (symbol,), self._clock.now_ns()))

    async def _watch(self, call: Any) -> Any:
        result = await asyncio.wait_for(call, self._stall_s)
        self._last_message_ns = self._clock.now_ns()
        return result

    def _drop_sockets(self, symbol: Symbol) -> None:
        """Force ccxt to reconnect the sockets that carry ``symbol``."""
        self.counters["stalls"] += 1
        for client in list(getattr(self._ex, "clients", {}).values()):
            if any(symbol in str(key) for key in getattr(client, "subscriptions", {})):
                client.on_error(ccxt_async.NetworkError(f"stalled stream of {symbol}"))

    # -- trades ---------------------------------------------------------------------------

    async def _resync_trades(self, sink: MarketDataSink, symbol: Symbol) -> None:
        if not self._track[symbol].fresh:
            await self._backfill_trades(sink, symbol)

    async def _trades_step(self, sink: MarketDataSink, symbol: Symbol) -> None:
        if not self._ws:
            await asyncio.sleep(self._config.poll_interval_s)
            await self._backfill_trades(sink, symbol)
            return
        params = {"name": "aggTrade"} if self._contiguous_ids else {}
        try:
            trades = await self._watch(self._ex.watch_trades(symbol, params=params))
        except TimeoutError:
            if await self._backfill_trades(sink, symbol):
                self._drop_sockets(symbol)  # REST had trades the socket did not deliver
            return
        for raw in trades:
            await self._deliver_trade(sink, symbol, raw, backfill=False)

    async def _deliver_trade(self, sink: MarketDataSink, symbol: Symbol, raw: dict[str, Any],
                             *, backfill: bool) -> bool:
        track = self._track[symbol]
        try:
            tid = str(raw["id"])
            ts_ms = int(raw["timestamp"])
            price, qty = float(raw["price"]), float(raw["amount"])
        except (KeyError, TypeError, ValueError) as exc:
            self.counters["malformed"] += 1
            await sink.put(RecordRejected(self._venue, symbol, "malformed",
                                          self._clock.now_ns(), f"{exc!r}: {raw!r}"[:200]))
            return False
        if not backfill and track.fresh:
            # First trade seen: fill its minute from its start, so its bar is complete, or
            # from the end of the bar resumed from (a warm start's history), so none is lost.
            track.last_trade_ms = ts_ms - ts_ms % 60_000
            if track.last_bar_ms is not None:
                track.last_trade_ms = min(track.last_trade_ms, track.last_bar_ms + self._tf_ms)
            await self._backfill_trades(sink, symbol, before_ms=ts_ms)
        if self._contiguous_ids:
            num = int(tid)
            last = track.last_trade_id
            if last is not None and num <= last:
                self.counters["duplicates_dropped"] += 1
                return False
            if last is not None and num > last + 1 and not backfill:
                await self._backfill_trades(sink, symbol, upto=num - 1)
                if track.last_trade_id is not None and num <= track.last_trade_id:
                    return False
            track.last_trade_id = num
        elif track.seen_by_time(tid, ts_ms):
            self.counters["duplicates_dropped"] += 1
            return False
        track.last_trade_ms = ts_ms
        tick = TradeTick(self._venue, symbol, ts_ms * _NS_PER_MS, price, qty,
                         _SIDES.get(raw.get("side") or ""), tid)
        if not sink.put_nowait(tick):
            await sink.put(tick)
        self.counters["trades"] += 1
        if backfill:
            self.counters["backfilled_trades"] += 1
        return True

    async def _backfill_trades(self, sink: MarketDataSink, symbol: Symbol,
                               upto: int | None = None, before_ms: int | None = None) -> int:
        """Fetch and deliver trades after the last delivered one (or since ``last_trade_ms``
        when no id is known; only those before ``before_ms`` if given); returns how many."""
        track = self._track[symbol]
        limit = self._config.backfill_limit
        delivered = 0
        while True:
            if self._contiguous_ids and track.last_trade_id is not None:
                page = await self._rest(self._ex.fetch_trades(
                    symbol, None, limit, {"fromId": track.last_trade_id + 1}))
            elif track.last_trade_ms:
                page = await self._rest(self._ex.fetch_trades(symbol, track.last_trade_ms,
                                                              limit))
            else:
                return delivered
            if before_ms is not None:
                page = [r for r in page if (r.get("timestamp") or 0) < before_ms]
            for raw in page:
                if await self._deliver_trade(sink, symbol, raw, backfill=True):
                    delivered += 1
            done = upto is not None and (track.last_trade_id or 0) >= upto
            if len(page) < limit or done or not page:
                return delivered

    async def _rest(self, call: Any) -> Any:
        return await asyncio.wait_for(call, self._config.timeout_s)

    # -- quotes ---------------------------------------------------------------------------

    async def _quotes_step(self, sink: MarketDataSink, symbol: Symbol) -> None:
        if not self._ws:
            await asyncio.sleep(self._config.poll_interval_s)
        ticker = await next_ticker(self._ex, symbol, self._watch if self._ws else self._rest,
                                   streaming=self._ws)
        if ticker:
            self._offer_quote(sink, symbol, ticker)

    def _offer_quote(self, sink: MarketDataSink, symbol: Symbol, ticker: dict[str, Any]) -> None:
        try:
            quote = ticker_quote(self._venue, symbol, ticker, self._clock.now_ns())
        except (KeyError, TypeError, ValueError) as exc:
            self.counters["malformed"] += 1
            sink.put_nowait(RecordRejected(self._venue, symbol, "malformed",
                                           self._clock.now_ns(), repr(exc)[:200]))
            return
        self.counters["quotes"] += 1
        sink.offer(quote)
