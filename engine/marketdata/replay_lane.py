"""The feed's per-bar work for recorded closed bars, without the live path's generality.

A backtest pushes millions of closed bars of a few known streams through the feed. Most of
what :meth:`MarketDataFeed.on_bar <engine.marketdata.feed.MarketDataFeed.on_bar>` does per
bar is for live data: validating values, finding the symbol's state, telling venue bars
from trade-built ones, deduplicating. For recorded bars the values are checked once over
the whole arrays (:func:`good_bars`) and the state is known, so :class:`ReplayLane` keeps
only the steady-state work: the bar's ring, the symbol's bookkeeping, publishing (and
persisting) it.

Anything out of the steady state goes through ``on_bar`` unchanged, so the result is the
same as pushing every bar through ``on_bar``: a bar that failed the array check (rejected
there with its reason), the stream's first bar (which sets the symbol's state up), a bar not
after the last closed one (a duplicate or late bar), and every bar of a symbol whose bars
also build higher timeframes (the resamplers run in ``on_bar``'s path).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine.marketdata.timeframes import timeframe_ns
from engine.model import Bar

if TYPE_CHECKING:
    from engine.marketdata.feed import MarketDataFeed
    from engine.marketdata.ringbuffer import BarRing
    from engine.marketdata.state import SymbolState

__all__ = ["ReplayLane", "good_bars"]


def good_bars(open_: npt.NDArray[np.float64], high: npt.NDArray[np.float64],
              low: npt.NDArray[np.float64], close: npt.NDArray[np.float64],
              volume: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Per bar, True when it passes :func:`~engine.marketdata.validate.check_bar`'s value
    checks (the same chained comparison over whole columns; NaN fails every comparison).
    The future-timestamp check needs no array form: a replayed bar is pushed at its close,
    after its open time."""
    with np.errstate(invalid="ignore"):
        return ((low > 0.0) & (low <= open_) & (open_ <= high) & (high < math.inf)
                & (low <= close) & (close <= high) & (volume >= 0.0) & (volume < math.inf))


class ReplayLane:
    """Pushes one stream's recorded closed bars (venue, symbol, timeframe) into the feed."""

    __slots__ = ("_counts", "_emit", "_emitted", "_fallback", "_last", "_length", "_now",
                 "_ring", "_st", "_states", "_timeframe", "pushed_fast")

    def __init__(self, feed: MarketDataFeed, timeframe: str, emit: Callable[[Bar], None],
                 now: Callable[[], int], emitted: dict[str, int] | None = None) -> None:
        """``emit`` publishes (and persists) a closed bar as the feed does; ``now`` is the
        feed's clock. With ``emitted`` (the feed's bars-emitted counters), ``emit`` only
        publishes and the lane adds its bars to the counters at :meth:`finish`."""
        self._fallback = feed.on_bar
        self._states = feed.states
        self._counts = feed.counts
        self._emitted = emitted
        self._emit = emit
        self._now = now
        self._timeframe = timeframe
        self._length = timeframe_ns(timeframe)
        self._st: SymbolState | None = None
        self._ring: BarRing | None = None
        self._last = -1
        self.pushed_fast = 0
        """Bars that took the steady-state path (the rest went through ``on_bar``)."""

    def push(self, bar: Bar, checked: bool = True) -> None:
        """Handle ``bar`` as ``feed.on_bar`` would; ``checked`` when :func:`good_bars`
        passed it."""
        st = self._st
        if st is None or not checked or bar.ts_ns <= self._last or st.stale:
            self._slow(bar)
            return
        self._last = bar.ts_ns
        # What on_bar does for a steady-state bar, minus the lookups and checks.
        st.record_closed(bar, self._ring)  # type: ignore[arg-type]
        st.touch(self._now(), bar.ts_ns + self._length)
        self.pushed_fast += 1
        self._emit(bar)

    def _slow(self, bar: Bar) -> None:
        self._fallback(bar)
        st = self._states.get(bar.symbol)
        tf = self._timeframe
        # The steady state: the symbol's state exists, this timeframe is its base and
        # builds nothing higher, and no stale flag waits to be cleared.
        if (st is not None and st.base_tf == tf and not st.resamplers and not st.aggregate
                and not st.stale and tf in st.last_closed):
            self._st, self._ring, self._last = st, st.ring(tf), st.last_closed[tf]
        else:
            self._st = None

    def finish(self) -> None:
        """Fold the steady-state bars into the feed's counters."""
        self._counts["bar"] += self.pushed_fast
        if self._emitted is not None and self.pushed_fast:
            tf = self._timeframe
            self._emitted[tf] = self._emitted.get(tf, 0) + self.pushed_fast
        self.pushed_fast = 0
