"""The bars half of the ccxt market data gateway (:class:`CcxtBars`, a mixin of
:class:`~gateways.ccxt_gateway.CcxtMarketDataGateway`).

``watch_ohlcv`` is the trigger, REST ``fetch_ohlcv`` the source of truth: when the stream
shows a newer candle, the closed candles after the last delivered one are fetched and
delivered (ccxt drops Binance's "closed" flag, so a streamed candle's last values could be
a partial update). The same call backfills after a reconnect, and :meth:`CcxtBars.history`
reads the bars before the stream for a warm start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from engine.config import ExchangeConfig
from engine.gateway import MarketDataSink
from engine.ids import Symbol, Venue
from engine.model import Bar
from gateways.ccxt_common import NS_PER_MS, fetch_history, ohlcv_bar
from gateways.ccxt_track import SymbolTrack

__all__ = ["CcxtBars"]


class CcxtBars:
    """Bars over ccxt: the streamed timeframe's closed candles, live and from history."""

    _config: ExchangeConfig
    _venue: Venue
    _ex: Any
    _ws: bool
    _tf: str
    _tf_ms: int
    _track: dict[Symbol, SymbolTrack]
    counters: dict[str, int]
    _rest: Callable[[Any], Awaitable[Any]]
    _watch: Callable[[Any], Awaitable[Any]]
    _drop_sockets: Callable[[Symbol], None]

    async def history(self, symbol: Symbol, start_ns: int) -> list[Bar]:
        """Closed bars of the streamed timeframe from ``start_ns`` on, by REST (a warm
        start; the newest row, maybe still open, is left to the stream)."""
        return await fetch_history(self._ex, self._venue, symbol, self._tf,
                                   start_ns // NS_PER_MS, self._config.backfill_limit,
                                   self._rest)

    async def exchange_now_ns(self) -> int | None:
        """The exchange's clock, where it tells it (``fetchTime``); None otherwise."""
        if not getattr(self._ex, "has", {}).get("fetchTime"):
            return None
        return int(await self._rest(self._ex.fetch_time())) * NS_PER_MS

    async def _resync_bars(self, sink: MarketDataSink, symbol: Symbol) -> None:
        if self._track[symbol].newest_open_ms or not self._ws:
            await self._sync_bars(sink, symbol, poll=True)

    async def _bars_step(self, sink: MarketDataSink, symbol: Symbol) -> None:
        track = self._track[symbol]
        if not self._ws:
            await asyncio.sleep(self._config.poll_interval_s)
            await self._sync_bars(sink, symbol, poll=True)
            return
        try:
            candles = await self._watch(self._ex.watch_ohlcv(symbol, self._tf))
        except TimeoutError:
            if await self._sync_bars(sink, symbol, poll=True):
                self._drop_sockets(symbol)
            return
        newest = max((int(c[0]) for c in candles), default=0)
        if newest > track.newest_open_ms:
            first = not track.newest_open_ms
            track.newest_open_ms = newest
            if first and track.last_bar_ms is None:
                track.last_bar_ms = newest - self._tf_ms  # start with the first live bar
            await self._sync_bars(sink, symbol)

    async def _sync_bars(self, sink: MarketDataSink, symbol: Symbol, *,
                         poll: bool = False) -> int:
        """Deliver the closed bars after the last delivered one, from REST."""
        track = self._track[symbol]
        delivered = 0
        limit = self._config.backfill_limit
        while True:
            since = track.last_bar_ms + self._tf_ms if track.last_bar_ms is not None else None
            rows = await self._rest(self._ex.fetch_ohlcv(symbol, self._tf, since, limit))
            rows = sorted(rows, key=lambda r: r[0])
            if poll and rows:  # the newest REST row may still be open
                track.newest_open_ms = max(track.newest_open_ms, int(rows[-1][0]))
            if track.last_bar_ms is None:
                if not rows:
                    return delivered
                track.last_bar_ms = int(rows[-1][0]) - self._tf_ms
                continue
            for row in rows:
                ts = int(row[0])
                if ts <= track.last_bar_ms or ts >= track.newest_open_ms:
                    continue
                await sink.put(ohlcv_bar(self._venue, symbol, self._tf, row))
                track.last_bar_ms = ts
                delivered += 1
                self.counters["bars"] += 1
            if len(rows) < limit:
                break
        if delivered and not poll:
            self.counters["backfilled_bars"] += max(0, delivered - 1)
        return delivered
