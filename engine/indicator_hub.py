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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from engine import indicators as ind
from engine.model import Bar

__all__ = ["Handle", "IndicatorHub"]


class Handle:
    """One symbol's view of a streaming indicator output row."""

    __slots__ = ("_column", "_group", "_row")

    def __init__(self, group: _Group, column: int, row: int = 0) -> None:
        self._group = group
        self._column = column
        self._row = row

    @property
    def value(self) -> float:
        """Latest value, NaN until ready."""
        return float(self._group.outputs[self._row][self._column])

    @property
    def ready(self) -> bool:
        """True once past the lookback."""
        state = self._group.state
        return state is not None and bool(state.ready[self._column])

    def __repr__(self) -> str:
        return f"Handle({self._group.key}, col={self._column}, value={self.value})"


class _Group:
    """One (timeframe, kind, params) indicator over the timeframe's symbols."""

    def __init__(self, key: tuple[Any, ...], factory: Callable[[int], Any],
                 rows: tuple[str, ...]) -> None:
        self.key = key
        self.factory = factory
        self.rows = rows
        self.state: Any = None
        self.outputs: list[np.ndarray] = [np.full(1, np.nan) for _ in rows]

    def build(self, k: int) -> None:
        self.state = self.factory(k)
        # Read-only views into the state: they follow every update without copying.
        self.outputs = [getattr(self.state, row) for row in self.rows]

    def advance(self, closes: np.ndarray) -> None:
        self.state.update(closes)


class _Timeframe:
    """The symbols of one timeframe and the bar time being gathered."""

    def __init__(self) -> None:
        self.symbols: dict[str, int] = {}
        self.groups: dict[tuple[Any, ...], _Group] = {}
        self.pending_ts: int | None = None
        self.pending: list[Bar] = []
        self.reported = np.zeros(0, dtype=bool)
        self.closes = np.full(0, np.nan)
        self.built = False

    def column(self, symbol: str) -> int:
        if symbol not in self.symbols:
            if self.built:
                raise RuntimeError(
                    f"indicator for new symbol {symbol!r} requested after data started; "
                    "request indicators in on_start"
                )
            self.symbols[symbol] = len(self.symbols)
        return self.symbols[symbol]


class IndicatorHub:
    """``ctx.indicators``: creates shared handles, advances them as bars close."""

    def __init__(self, deliver: Callable[[Bar], None]) -> None:
        self._deliver = deliver
        self._timeframes: dict[str, _Timeframe] = {}

    # -- the IndicatorSource API ---------------------------------------------------------

    def sma(self, symbol: str, timeframe: str, period: int) -> Handle:
        """Simple moving average of closes."""
        return self._handle(symbol, timeframe, ("sma", period), lambda k: ind.SmaState(period, k))

    def ema(self, symbol: str, timeframe: str, period: int) -> Handle:
        """Exponential moving average of closes."""
        return self._handle(symbol, timeframe, ("ema", period), lambda k: ind.EmaState(period, k))

    def rsi(self, symbol: str, timeframe: str, period: int = 14) -> Handle:
        """Wilder RSI."""
        return self._handle(symbol, timeframe, ("rsi", period), lambda k: ind.RsiState(period, k))

    def zscore(self, symbol: str, timeframe: str, period: int) -> Handle:
        """Rolling z-score of closes."""
        return self._handle(symbol, timeframe, ("zscore", period),
                            lambda k: ind.ZscoreState(period, k))

    def bbands(self, symbol: str, timeframe: str, period: int = 20,
               nbdev: float = 2.0) -> tuple[Handle, Handle, Handle]:
        """Bollinger bands (upper, middle, lower)."""
        key = ("bbands", period, nbdev)
        first = self._handle(symbol, timeframe, key,
                             lambda k: ind.BbandsState(period, k, nbdev, nbdev),
                             rows=("upper", "middle", "lower"))
        group, column = first._group, first._column
        return first, Handle(group, column, 1), Handle(group, column, 2)

    # -- feeding -------------------------------------------------------------------------

    def on_bar(self, bar: Bar) -> None:
        """A bar closed: gather it; advance and deliver when its bar time is complete."""
        tf = self._timeframes.get(bar.timeframe)
        if tf is None or bar.symbol not in tf.symbols or not bar.closed:
            if bar.closed:
                self._deliver(bar)
            return
        if not tf.built:
            self._build(tf)
        if tf.pending_ts is not None and bar.ts_ns > tf.pending_ts:
            self._flush(tf)
        column = tf.symbols[bar.symbol]
        tf.pending_ts = bar.ts_ns
        tf.closes[column] = bar.close
        tf.reported[column] = True
        tf.pending.append(bar)
        if tf.reported.all():
            self._flush(tf)

    def flush(self) -> None:
        """Advance every timeframe's gathered bar time now (end of data, timers)."""
        for tf in self._timeframes.values():
            if tf.pending:
                self._flush(tf)

    def _flush(self, tf: _Timeframe) -> None:
        for group in tf.groups.values():
            group.advance(tf.closes)
        pending, tf.pending = tf.pending, []
        tf.reported[:] = False
        tf.pending_ts = None
        for bar in pending:
            self._deliver(bar)

    def _build(self, tf: _Timeframe) -> None:
        k = len(tf.symbols)
        tf.reported = np.zeros(k, dtype=bool)
        tf.closes = np.full(k, np.nan)
        for group in tf.groups.values():
            group.build(k)
        tf.built = True

    def _handle(self, symbol: str, timeframe: str, key: tuple[Any, ...],
                factory: Callable[[int], Any], rows: tuple[str, ...] = ("value",)) -> Handle:
        tf = self._timeframes.setdefault(timeframe, _Timeframe())
        column = tf.column(symbol)
        group = tf.groups.get(key)
        if group is None:
            if tf.built:
                raise RuntimeError("indicators must be requested in on_start, before data flows")
            group = tf.groups[key] = _Group(key, factory, rows)
        return Handle(group, column)
