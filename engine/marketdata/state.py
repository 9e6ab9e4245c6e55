"""Per-symbol market data state: bar builders, resamplers, ring buffers, dedup memory."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Final

import numpy as np

from engine.gateway import TradeBatch
from engine.ids import Symbol, Venue
from engine.marketdata.aggregate import BarResampler, TradeBarBuilder, aggregate_trades
from engine.marketdata.ringbuffer import BarRing
from engine.marketdata.timeframes import NS_PER_MINUTE, timeframe_ns
from engine.marketdata.validate import Reason, validate_trades
from engine.model import Bar

__all__ = ["CloseResult", "SymbolState"]

BASE_TIMEFRAME = "1m"
"""Trades are aggregated into bars of this timeframe; higher ones are resampled from it."""


class CloseResult:
    """Outcome codes of :meth:`SymbolState.accept_closed`."""

    ACCEPTED: Final = 0
    DUPLICATE: Final = 1
    LATE: Final = 2


class SymbolState:
    """Everything the feed keeps about one symbol."""

    __slots__ = (
        "aggregate",
        "bars_closed",
        "base_len",
        "base_tf",
        "builder",
        "interrupted",
        "last_batch_id",
        "last_batch_ts",
        "last_close",
        "last_closed",
        "last_event_ns",
        "last_event_recv_ns",
        "last_partial_ns",
        "last_recv_ns",
        "resamplers",
        "ring_size",
        "rings",
        "seen_ids",
        "seen_order",
        "stale",
        "symbol",
        "targets",
        "trades",
        "venue",
        "venue_bars_from",
    )

    def __init__(self, venue: Venue, symbol: Symbol, targets: tuple[str, ...], ring_size: int,
                 now_ns: int, id_memory: int) -> None:
        self.venue = venue
        self.symbol = symbol
        self.targets = targets
        self.ring_size = ring_size
        self.builder = TradeBarBuilder(venue, symbol, BASE_TIMEFRAME, NS_PER_MINUTE)
        self.base_tf: str | None = None
        self.base_len = NS_PER_MINUTE
        self.resamplers: list[BarResampler] = []
        self.rings: dict[str, BarRing] = {}
        self.last_closed: dict[str, int] = {}
        self.seen_ids: set[str] = set()
        self.seen_order: deque[str] = deque(maxlen=id_memory)
        self.last_recv_ns = now_ns  # clock time of the last record (or of creation)
        self.last_event_ns = 0  # data time of the newest timed record (a bar's end)
        self.last_event_recv_ns = now_ns  # clock time that record arrived
        self.last_partial_ns = 0
        self.last_close: float | None = None
        self.last_batch_id = -1  # highest integer trade id seen in a TradeBatch
        self.last_batch_ts = 0
        self.interrupted = False
        self.aggregate = True  # build 1m bars from trades (False: the venue's bars)
        self.venue_bars_from = 0  # venue 1m bars before this were built from trades
        self.stale = False
        self.trades = 0
        self.bars_closed = 0

    def set_venue(self, venue: Venue) -> None:
        """The venue the symbol's records come from (known with the first record when the
        symbol was configured before any data arrived)."""
        self.venue = venue
        self.builder.venue = venue
        for resampler in self.resamplers:
            resampler.venue = venue

    def use_venue_bars(self) -> None:
        """Take 1m bars from the venue from now on: trades build no more bars."""
        self.aggregate = False
        self.builder.start = -1  # the bar in progress is the venue's to deliver
        last = self.last_closed.get(BASE_TIMEFRAME)
        self.venue_bars_from = last + NS_PER_MINUTE if last is not None else 0

    def take_batch(self, batch: TradeBatch, max_ts_ns: int
                   ) -> tuple[list[tuple[Reason, int]], int, list[Bar]]:
        """Validate and aggregate an array batch of this symbol's trades (numba):
        (rejected counts by reason, trades accepted, bars closed)."""
        builder = self.builder
        min_ts = builder.start if builder.start >= 0 else builder.last_closed_end
        if not self.aggregate:
            min_ts = -(1 << 62)
        codes, bad = validate_trades(batch.ts, batch.price, batch.qty, batch.trade_id,
                                     max_ts_ns=max_ts_ns, min_ts_ns=min_ts,
                                     last_id=self.last_batch_id)
        ts, price, qty, ids = batch.ts, batch.price, batch.qty, batch.trade_id
        rejected: list[tuple[Reason, int]] = []
        if bad:
            counts = np.bincount(codes, minlength=len(Reason)).tolist()
            rejected = [(Reason(code), n) for code, n in enumerate(counts) if code and n]
            good = codes == 0
            ts, price, qty, ids = ts[good], price[good], qty[good], ids[good]
        if not len(ts):
            return rejected, 0, []
        self.last_batch_id = max(self.last_batch_id, int(ids.max()))
        self.last_batch_ts = int(ts[-1])
        closed: list[Bar] = []
        if self.aggregate:
            cols, _ = aggregate_trades(ts, price, qty, NS_PER_MINUTE, min_ts)
            closed = builder.absorb(cols, int(ts[-1]))
        return rejected, len(ts), closed

    def ring(self, timeframe: str) -> BarRing:
        """The ring of ``timeframe`` (created empty on first use)."""
        ring = self.rings.get(timeframe)
        if ring is None:
            ring = self.rings[timeframe] = BarRing(self.ring_size)
        return ring

    def seen_before(self, trade_id: str) -> bool:
        """True if ``trade_id`` was seen recently; otherwise remember it."""
        if trade_id in self.seen_ids:
            return True
        order = self.seen_order
        if len(order) == order.maxlen:
            self.seen_ids.discard(order[0])
        order.append(trade_id)
        self.seen_ids.add(trade_id)
        return False

    def _set_base(self, timeframe: str) -> None:
        self.base_tf = timeframe
        self.base_len = length = timeframe_ns(timeframe)
        self.resamplers = [
            BarResampler(self.venue, self.symbol, tf, timeframe_ns(tf))
            for tf in self.targets
            if timeframe_ns(tf) > length and timeframe_ns(tf) % length == 0
        ]

    def accept_closed(self, bar: Bar, emit: Callable[[Bar], None]) -> int:
        """Record a closed bar: dedupe, append to its ring, ``emit`` it and what it closes."""
        tf = bar.timeframe
        last = self.last_closed.get(tf)
        if last is not None and bar.ts_ns <= last:
            return CloseResult.DUPLICATE if bar.ts_ns == last else CloseResult.LATE
        if self.base_tf is None:
            self._set_base(tf)
        self.record_closed(bar, self.ring(tf))
        emit(bar)
        if tf == self.base_tf:
            for resampler in self.resamplers:
                for higher in resampler.add(bar, self.base_len):
                    self.accept_closed(higher, emit)
        return CloseResult.ACCEPTED

    def record_closed(self, bar: Bar, ring: BarRing) -> None:
        """The bookkeeping of an accepted closed bar (``ring`` is its timeframe's)."""
        self.last_closed[bar.timeframe] = bar.ts_ns
        ring.append(bar)
        self.bars_closed += 1
        self.last_close = bar.close

    def touch(self, now_ns: int, event_ns: int) -> None:
        """A record of data time ``event_ns`` (the exchange's; 0 for a record that only says
        the symbol is alive, such as a quote) arrived at ``now_ns``."""
        self.last_recv_ns = now_ns
        if event_ns > self.last_event_ns:
            self.last_event_ns = event_ns
            self.last_event_recv_ns = now_ns

    def data_now(self, now_ns: int) -> int:
        """The exchange's time now, as the newest timed record tells it: its data time plus
        the clock time since it arrived (differences of our clock only: a skewed clock does
        not move it)."""
        return self.last_event_ns + (now_ns - self.last_event_recv_ns)

    def flush(self, watermark_ns: int, emit: Callable[[Bar], None]) -> None:
        """Close every bar (built from trades or resampled) ending at or before the mark."""
        bar = self.builder.flush(watermark_ns)
        if bar is not None:
            self.accept_closed(bar, emit)
        for resampler in self.resamplers:
            higher = resampler.flush(watermark_ns)
            if higher is not None:
                self.accept_closed(higher, emit)
