"""Streaming indicators shared by all strategies, advanced once per bar for all symbols.

Strategies ask ``ctx.indicators.ema("BTC/USDT", "1m", 20)`` in ``on_start`` and get a
handle; equal requests share one handle. Per (timeframe, kind, parameters) there is one
numba streaming state holding K symbols, so a bar time costs one kernel call per indicator
kind, whatever the number of symbols.

Bars of the symbols of a timeframe are gathered per bar time. The group advances when
every symbol has reported that bar time, or when a later bar arrives (then symbols that
sent nothing for the earlier time are carried at their last close, as exchanges print a
flat bar for a minute without trades; symbols that never traded are NaN, which the
kernels skip as leading NaN). Only after the indicators have advanced are the bars
delivered onwards (to the strategies), so ``on_bar`` always sees indicators that include
its bar.

Backtests know every bar in advance: :meth:`IndicatorHub.preload` computes a timeframe's
indicators over all of it with the batch functions (bit for bit what the streaming states
give after the same bars) and the hub then only moves a row cursor per bar time. Each bar
is checked against the preloaded one; the first that differs (a bar the feed rejected, say)
makes that timeframe seed its streaming states with the rows so far and stream on. Bars
read lists (what compiled code indexes fastest) of ``WINDOW`` bar times, refilled as the
cursor moves: lists of a million-bar run's values would hold some 150 MB of floats.

Indicators requested once data flows (a strategy reloaded with new parameters, or added)
are built and seeded with the closes of the last ``HISTORY`` bar times the timeframe
advanced; a symbol new to the timeframe widens all its indicators the same way.

A live engine's warm start (:mod:`engine.marketdata.warmup`) streams history bars through
:meth:`IndicatorHub.warm` before the first live bar: the indicators advance over them and
nothing is delivered, so strategies start with indicators ready.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Final

import numpy as np

from engine import indicators as ind
from engine.arrays import aligned_closes, sorted_unique
from engine.indicator_groups import Batch, Cursor, Handle, IndicatorGroup
from engine.marketdata.timeframes import validate_timeframe
from engine.model import Bar

__all__ = ["Handle", "IndicatorHub"]

_log: Final = logging.getLogger(__name__)
WINDOW: Final = 4096
"""Bar times per refill of the preloaded lists."""
HISTORY: Final = 1000
"""Bar times of closes a timeframe keeps to seed indicators requested once data flows."""


def _discard(bar: Bar) -> None:
    """Where :meth:`IndicatorHub.warm` sends bars: nowhere."""


class _Timeframe:
    """The symbols of one timeframe and the bar time being gathered."""

    def __init__(self) -> None:
        self.symbols: dict[str, int] = {}
        self.groups: dict[tuple[Any, ...], IndicatorGroup] = {}
        self.pending_ts: int | None = None
        self.pending: list[Bar] = []
        self.reported: list[bool] = []
        self.reported_count = 0
        self.closes = np.full(0, np.nan)
        self.built = False
        self.row = -1  # bar times flushed so far, minus one
        self.cursor = Cursor()
        # Preloaded with one symbol: that symbol and its closes (the fast path of on_bar).
        self.solo: str | None = None
        self.solo_closes: list[float] = []
        # Preloaded: the expected bar times, closes (T, K) and how many symbols have a
        # bar at each time, as arrays (``total`` rows) and, for the window of rows ``lo``
        # to ``hi`` (exclusive), as lists (closes per symbol).
        self.grid = np.zeros(0, dtype=np.int64)
        self.grid_closes = np.full((0, 0), np.nan)
        self.counts = np.zeros(0, dtype=np.int64)
        self.total = self.lo = self.hi = 0
        self.grid_ts: list[int] | None = None
        self.grid_close_lists: list[list[float]] = []
        self.grid_counts: list[int] = []
        # Streaming: the closes of the last HISTORY bar times advanced, which seed what a
        # reloaded strategy asks for once data flows.
        self.history: deque[np.ndarray] = deque(maxlen=HISTORY)


class IndicatorHub:
    """``ctx.indicators``: creates shared handles, advances them as bars close."""

    def __init__(self, deliver: Callable[[Bar], None]) -> None:
        self._deliver = deliver
        self._timeframes: dict[str, _Timeframe] = {}

    def deliver_to(self, deliver: Callable[[Bar], None]) -> None:
        """Where bars go once their indicators have advanced."""
        self._deliver = deliver

    @property
    def timeframes(self) -> list[str]:
        """Timeframes that indicators were requested on."""
        return list(self._timeframes)

    # -- the IndicatorSource API ---------------------------------------------------------

    def sma(self, symbol: str, timeframe: str, period: int) -> Handle:
        """Simple moving average of closes."""
        return self._handle(symbol, timeframe, ("sma", period), lambda k: ind.SmaState(period, k),
                            lambda x: (ind.sma(x, period),))

    def ema(self, symbol: str, timeframe: str, period: int) -> Handle:
        """Exponential moving average of closes."""
        return self._handle(symbol, timeframe, ("ema", period), lambda k: ind.EmaState(period, k),
                            lambda x: (ind.ema(x, period),))

    def rsi(self, symbol: str, timeframe: str, period: int = 14) -> Handle:
        """Wilder RSI."""
        return self._handle(symbol, timeframe, ("rsi", period), lambda k: ind.RsiState(period, k),
                            lambda x: (ind.rsi(x, period),))

    def zscore(self, symbol: str, timeframe: str, period: int) -> Handle:
        """Rolling z-score of closes."""
        return self._handle(symbol, timeframe, ("zscore", period),
                            lambda k: ind.ZscoreState(period, k),
                            lambda x: (ind.zscore(x, period),))

    def bbands(self, symbol: str, timeframe: str, period: int = 20,
               nbdev: float = 2.0) -> tuple[Handle, Handle, Handle]:
        """Bollinger bands (upper, middle, lower)."""
        key = ("bbands", period, nbdev)
        first = self._handle(symbol, timeframe, key,
                             lambda k: ind.BbandsState(period, k, nbdev, nbdev),
                             lambda x: tuple(ind.bbands(x, period, nbdev, nbdev)),
                             rows=("upper", "middle", "lower"))
        group, column = first._group, first._column
        return first, Handle(group, column, 1), Handle(group, column, 2)

    # -- feeding -------------------------------------------------------------------------

    def preload(self, timeframe: str, series: Mapping[str, tuple[np.ndarray, np.ndarray]],
                start_ns: int | None = None) -> None:
        """Precompute ``timeframe``'s indicators from every bar to come (a backtest):
        ``series`` maps a symbol to its bars' open times and closes, in time order. Bar
        times before ``start_ns`` are history (a warm start): advanced over, not expected.

        Call after the strategies asked for their indicators and before the first bar.
        """
        tf = self._timeframes.get(timeframe)
        if tf is None or not tf.groups:
            return
        if not tf.built:
            self._build(tf)
        if tf.row >= 0 or tf.pending:
            raise RuntimeError("preload before the first bar")
        known = {s: v for s, v in series.items() if s in tf.symbols}
        if not known:
            return
        grid = sorted_unique(np.concatenate([np.asarray(ts, dtype=np.int64)
                                         for ts, _ in known.values()]))
        closes, counts = aligned_closes(grid, known, tf.symbols)
        for group in tf.groups.values():
            group.preload(closes)
        tf.grid, tf.grid_closes, tf.counts, tf.total = grid, closes, counts, len(grid)
        first = 0 if start_ns is None else int(np.searchsorted(grid, start_ns))
        tf.cursor.at, tf.row = first, first - 1
        if len(tf.symbols) == 1:
            (tf.solo,) = tf.symbols
        self._window(tf, first)

    def on_bar(self, bar: Bar) -> None:
        """A bar closed: gather it; advance and deliver when its bar time is complete."""
        tf = self._timeframes.get(bar.timeframe)
        if tf is not None and bar.symbol == tf.solo:
            # Preloaded, one symbol: the bar is the whole bar time. The expected one moves
            # the cursor; any other takes the general path below (which streams on).
            row = tf.row + 1
            if tf.hi <= row < tf.total:
                self._window(tf, row)
            i = row - tf.lo
            if (i < len(tf.grid_ts) and bar.ts_ns == tf.grid_ts[i]  # type: ignore[arg-type,index]
                    and bar.close == tf.solo_closes[i] and bar.closed):
                tf.row = row
                tf.cursor.at = row + 1
                self._deliver(bar)
                return
        if tf is None or bar.symbol not in tf.symbols or not bar.closed:
            if bar.closed:
                self._deliver(bar)
            return
        if not tf.built:
            self._build(tf)
        if tf.pending_ts is not None and bar.ts_ns > tf.pending_ts:
            self._flush(tf)
        column = tf.symbols[bar.symbol]
        if tf.grid_ts is not None:
            row = tf.row + 1
            if tf.hi <= row < tf.total:
                self._window(tf, row)
            i, grid = row - tf.lo, tf.grid_ts
            if (i >= len(grid) or bar.ts_ns != grid[i]
                    or bar.close != tf.grid_close_lists[column][i]):
                self._stream_on(tf, row, f"bar {bar.symbol} {bar.timeframe} at {bar.ts_ns} "
                                         "differs from the preloaded bars")
        if tf.grid_ts is None:  # preloaded, the closes are known; streaming gathers them
            tf.closes[column] = bar.close
        tf.pending_ts = bar.ts_ns
        if not tf.reported[column]:
            tf.reported[column] = True
            tf.reported_count += 1
        tf.pending.append(bar)
        if tf.reported_count == len(tf.reported):
            self._flush(tf)

    def warm(self, bars: list[Bar]) -> None:
        """Advance the indicators over history, delivering nothing (a live engine's warm
        start, before the first live bar): closed ``bars`` of any symbols and timeframes,
        in time order within each timeframe."""
        deliver = self._deliver
        self._deliver = _discard
        try:
            for bar in bars:
                self.on_bar(bar)
            self.flush()
        finally:
            self._deliver = deliver

    def longest_periods(self) -> dict[str, int]:
        """The longest period of the indicators requested on each timeframe (how much
        history a warm start needs)."""
        return {name: max(int(key[1]) for key in tf.groups)
                for name, tf in self._timeframes.items() if tf.groups}

    def symbols(self, timeframe: str) -> list[str]:
        """The symbols indicators were requested for on ``timeframe``."""
        tf = self._timeframes.get(timeframe)
        return list(tf.symbols) if tf is not None else []

    def flush(self) -> None:
        """Advance every timeframe's gathered bar time now (end of data, timers)."""
        for tf in self._timeframes.values():
            if tf.pending:
                self._flush(tf)

    def _flush(self, tf: _Timeframe) -> None:
        tf.row += 1
        if tf.grid_ts is not None and tf.reported_count != tf.grid_counts[tf.row - tf.lo]:
            self._stream_on(tf, tf.row, f"{tf.reported_count} bars at {tf.pending_ts}, "
                                        f"expected {tf.grid_counts[tf.row - tf.lo]}")
        if tf.grid_ts is not None:
            tf.cursor.at = tf.row + 1  # past the NaN row
        else:
            for group in tf.groups.values():
                group.advance(tf.closes)
            tf.history.append(tf.closes.copy())
        pending, tf.pending = tf.pending, []
        tf.reported = [False] * len(tf.reported)
        tf.reported_count = 0
        tf.pending_ts = None
        for bar in pending:
            self._deliver(bar)

    def _stream_on(self, tf: _Timeframe, consumed: int, why: str) -> None:
        """The data left the preloaded path: seed the streaming states with the ``consumed``
        bar times before it and stream from here."""
        _log.warning("indicators: %s; streaming from here", why)
        for group in tf.groups.values():
            group.stream_from(tf.grid_closes[:consumed])
        tf.history = deque(tf.grid_closes[max(0, consumed - HISTORY):consumed], maxlen=HISTORY)
        tf.grid_ts = tf.solo = None
        # What streaming would have gathered: the last bar time's closes (carried), then
        # the bars of the time being gathered.
        tf.closes = (tf.grid_closes[consumed - 1].copy() if consumed
                     else np.full(len(tf.reported), np.nan))
        for bar in tf.pending:
            tf.closes[tf.symbols[bar.symbol]] = bar.close

    def _window(self, tf: _Timeframe, lo: int) -> None:
        """List the preloaded rows from ``lo`` on (``WINDOW`` of them): bar times, closes,
        counts and every indicator's values (see the module docstring)."""
        hi = min(lo + WINDOW, tf.total)
        tf.lo, tf.hi, tf.cursor.base = lo, hi, lo
        tf.grid_ts, tf.grid_counts = tf.grid[lo:hi].tolist(), tf.counts[lo:hi].tolist()
        closes = tf.grid_closes[lo:hi]
        tf.grid_close_lists = [closes[:, j].tolist() for j in range(closes.shape[1])]
        tf.solo_closes = tf.grid_close_lists[0] if tf.solo is not None else []
        for group in tf.groups.values():
            group.window(lo, hi)

    def _build(self, tf: _Timeframe) -> None:
        k = len(tf.symbols)
        tf.reported = [False] * k
        tf.closes = np.full(k, np.nan)
        for group in tf.groups.values():
            group.build(k)
        tf.built = True

    def _handle(self, symbol: str, timeframe: str, key: tuple[Any, ...],
                factory: Callable[[int], Any], batch: Batch,
                rows: tuple[str, ...] = ("value",)) -> Handle:
        tf = self._timeframes.get(timeframe)
        if tf is None or key not in tf.groups:
            factory(1)  # bad parameters raise here, in the caller's on_start, not at a bar
            validate_timeframe(timeframe)  # one the feed builds, or no bar ever comes
        tf = self._timeframes.setdefault(timeframe, _Timeframe())
        if tf.built and (key not in tf.groups or symbol not in tf.symbols):
            self._add_late(tf, symbol, key, factory, rows, batch)
        if symbol not in tf.symbols:
            tf.symbols[symbol] = len(tf.symbols)
        group = tf.groups.get(key)
        if group is None:
            group = tf.groups[key] = IndicatorGroup(key, factory, rows, batch, tf.cursor)
        return Handle(group, tf.symbols[symbol])

    def _add_late(self, tf: _Timeframe, symbol: str, key: tuple[Any, ...],
                  factory: Callable[[int], Any], rows: tuple[str, ...], batch: Batch) -> None:
        """A request once data flows (a reloaded or added strategy): the timeframe streams
        on, and the new indicator (or, for a new symbol, every indicator, one column wider)
        is built and seeded with the closes of the last HISTORY bar times advanced."""
        if tf.grid_ts is not None:  # preloaded: leave the preloaded rows, exactly
            self._stream_on(tf, tf.row + 1, "an indicator was requested during the run")
        k = len(tf.symbols)
        history = np.array(tf.history) if tf.history else np.full((0, k), np.nan)
        renew = list(tf.groups.values()) if symbol not in tf.symbols else []
        if renew:
            tf.symbols[symbol] = k
            k += 1
            history = np.hstack([history, np.full((len(history), 1), np.nan)])
            tf.history = deque(history, maxlen=HISTORY)
            tf.closes = np.append(tf.closes, np.nan)
            tf.reported.append(False)
        if key not in tf.groups:
            renew.append(tf.groups.setdefault(key, IndicatorGroup(key, factory, rows, batch,
                                                                  tf.cursor)))
        for group in renew:
            group.build(k)
            group.stream_from(history)
