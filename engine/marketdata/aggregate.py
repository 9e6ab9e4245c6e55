"""Trades -> 1m bars and bars -> higher timeframes, one record at a time or over arrays.

Rules (the same in the streaming classes and the numba batch kernels):

- A bar covers ``[ts, ts + timeframe)`` on epoch-aligned UTC boundaries; ``ts`` is its open.
- Trades -> bars: open is the price of the earliest trade by timestamp (ties: first
  arrived), close the latest (ties: last arrived), high/low the extremes, volume the sum of
  quantities, ``vwap`` = sum(price x qty) / volume, ``num_trades`` the count. Minutes
  without trades produce no bar.
- Late and out-of-order ticks: a trade inside the bar being built is merged whatever its
  order of arrival. A trade older than the bar being built (or, when none is being built,
  older than the end of the last closed bar) is *late*: it is dropped and counted as
  ``behind_last_closed``; closed bars are never revised.
- Bars -> higher timeframe: a bar with zero volume (an exchange's flat "no trades" bar)
  contributes no prices unless every bar of the period is empty, in which case the result
  is the first empty bar's flat price with zero volume. The higher bar is emitted as soon
  as the input bar that ends its period arrives, or when a later period begins, or when
  :meth:`BarResampler.flush` is told its end has passed.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt
from numba import njit

from engine.ids import Symbol, Venue
from engine.model import Bar

__all__ = ["BarResampler", "TradeBarBuilder", "aggregate_trades", "resample_bars"]

_NAN: Final = float("nan")

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


class TradeBarBuilder:
    """Builds bars of one symbol and timeframe from trades arriving one at a time."""

    __slots__ = (
        "close", "close_ts", "high", "last_closed_end", "length", "low", "n", "notional",
        "open", "open_ts", "start", "symbol", "timeframe", "venue", "volume",
    )

    def __init__(self, venue: Venue, symbol: Symbol, timeframe: str, length_ns: int) -> None:
        self.venue = venue
        self.symbol = symbol
        self.timeframe = timeframe
        self.length = length_ns
        self.start = -1  # open time of the bar being built; -1: none
        self.last_closed_end = -(1 << 62)
        self.open = self.high = self.low = self.close = 0.0
        self.open_ts = self.close_ts = 0
        self.volume = self.notional = 0.0
        self.n = 0

    def add(self, ts_ns: int, price: float, qty: float) -> tuple[bool, Bar | None]:
        """Merge a (valid) trade: (accepted, the bar it closed or None). Not accepted = late."""
        start = ts_ns - ts_ns % self.length
        closed: Bar | None = None
        if start != self.start:
            if start < self.start or ts_ns < self.last_closed_end:
                return False, None
            if self.start >= 0:
                closed = self._close()
            self.start = start
            self.open = self.high = self.low = self.close = price
            self.open_ts = self.close_ts = ts_ns
            self.volume = qty
            self.notional = price * qty
            self.n = 1
            return True, closed
        if price > self.high:
            self.high = price
        elif price < self.low:
            self.low = price
        if ts_ns >= self.close_ts:
            self.close = price
            self.close_ts = ts_ns
        elif ts_ns < self.open_ts:
            self.open = price
            self.open_ts = ts_ns
        self.volume += qty
        self.notional += price * qty
        self.n += 1
        return True, None

    def absorb(self, cols: dict[str, npt.NDArray[np.generic]], last_ts_ns: int) -> list[Bar]:
        """Merge bars that :func:`aggregate_trades` built from the next batch of trades
        (none of them older than the bar being built); return the bars this closes. The
        batch's last bar stays open in the builder."""
        closed: list[Bar] = []
        ts = cols["ts"].tolist()
        if not ts:
            return closed
        o, h, lo, c, v, vw, n = (cols[k].tolist() for k in
                                 ("open", "high", "low", "close", "volume", "vwap", "num_trades"))
        first = 0
        if self.start >= 0 and ts[0] == self.start:
            self.high = max(self.high, h[0])
            self.low = min(self.low, lo[0])
            self.close = c[0]
            self.volume += v[0]
            self.notional += vw[0] * v[0]
            self.n += n[0]
            first = 1
        for i in range(first, len(ts)):
            if self.start >= 0:
                closed.append(self._close())
            self.start = ts[i]
            self.open, self.high, self.low, self.close = o[i], h[i], lo[i], c[i]
            self.volume, self.notional, self.n = v[i], vw[i] * v[i], n[i]
            self.open_ts = self.close_ts = ts[i]
        self.close_ts = max(self.close_ts, last_ts_ns)
        return closed

    def flush(self, watermark_ns: int) -> Bar | None:
        """Close the bar being built if it ends at or before ``watermark_ns``."""
        if self.start >= 0 and self.start + self.length <= watermark_ns:
            return self._close()
        return None

    def partial(self) -> Bar | None:
        """The bar being built, as a ``closed=False`` snapshot, or None."""
        if self.start < 0:
            return None
        return self._bar(closed=False)

    def _close(self) -> Bar:
        bar = self._bar(closed=True)
        self.last_closed_end = self.start + self.length
        self.start = -1
        return bar

    def _bar(self, *, closed: bool) -> Bar:
        vwap = self.notional / self.volume if self.volume > 0.0 else _NAN
        return Bar(self.venue, self.symbol, self.timeframe, self.start, self.open, self.high,
                   self.low, self.close, self.volume, vwap, self.n, closed)


class BarResampler:
    """Builds higher-timeframe bars of one symbol from closed lower-timeframe bars."""

    __slots__ = (
        "close", "empty_price", "high", "length", "low", "n", "notional", "open",
        "start", "symbol", "timeframe", "venue", "vol_vwap", "volume",
    )

    def __init__(self, venue: Venue, symbol: Symbol, timeframe: str, length_ns: int) -> None:
        self.venue = venue
        self.symbol = symbol
        self.timeframe = timeframe
        self.length = length_ns
        self.start = -1
        self._reset()

    def _reset(self) -> None:
        self.open = self.high = self.low = self.close = _NAN
        self.empty_price = _NAN
        self.volume = self.notional = self.vol_vwap = 0.0
        self.n = 0

    def add(self, bar: Bar, bar_length_ns: int) -> list[Bar]:
        """Merge a closed input bar; return the higher bars it closed (0, 1 or 2)."""
        out: list[Bar] = []
        start = bar.ts_ns - bar.ts_ns % self.length
        if start != self.start:
            if start < self.start:
                return out  # older than the period being built: closed bars are final
            if self.start >= 0:
                out.append(self._emit())
            self.start = start
        if bar.volume > 0.0:
            if self.open != self.open:  # first bar with trades
                self.open, self.high, self.low = bar.open, bar.high, bar.low
            else:
                self.high = max(self.high, bar.high)
                self.low = min(self.low, bar.low)
            self.close = bar.close
            self.volume += bar.volume
            if bar.vwap == bar.vwap:
                self.notional += bar.vwap * bar.volume
                self.vol_vwap += bar.volume
        elif self.empty_price != self.empty_price:
            self.empty_price = bar.open
        self.n += bar.num_trades
        if bar.ts_ns + bar_length_ns >= start + self.length:
            out.append(self._emit())
        return out

    def flush(self, watermark_ns: int) -> Bar | None:
        """Emit the period being built if it ends at or before ``watermark_ns``."""
        if self.start >= 0 and self.start + self.length <= watermark_ns:
            return self._emit()
        return None

    def _emit(self) -> Bar:
        if self.open != self.open:
            p = self.empty_price
            o = h = lo = c = p
        else:
            o, h, lo, c = self.open, self.high, self.low, self.close
        vwap = self.notional / self.vol_vwap if self.vol_vwap > 0.0 else _NAN
        bar = Bar(self.venue, self.symbol, self.timeframe, self.start, o, h, lo, c,
                  self.volume, vwap, self.n, True)
        self.start = -1
        self._reset()
        return bar


@njit(nogil=True, cache=True)
def _aggregate_trades(
    ts: I64, price: F64, qty: F64, length: int, min_ts: int,
    o_ts: I64, o: F64, h: F64, lo: F64, c: F64, v: F64, vw: F64, n: I64,
) -> tuple[int, int]:
    nbars = -1
    late = 0
    start = -1
    open_ts = 0
    close_ts = 0
    notional = 0.0
    for i in range(ts.shape[0]):
        t = ts[i]
        p = price[i]
        q = qty[i]
        s = t - t % length
        if s != start:
            if s < start or t < min_ts:
                late += 1
                continue
            if nbars >= 0:
                vw[nbars] = notional / v[nbars] if v[nbars] > 0.0 else np.nan
            nbars += 1
            start = s
            o_ts[nbars] = s
            o[nbars] = p
            h[nbars] = p
            lo[nbars] = p
            c[nbars] = p
            v[nbars] = q
            n[nbars] = 1
            notional = p * q
            open_ts = t
            close_ts = t
            continue
        if p > h[nbars]:
            h[nbars] = p
        elif p < lo[nbars]:
            lo[nbars] = p
        if t >= close_ts:
            c[nbars] = p
            close_ts = t
        elif t < open_ts:
            o[nbars] = p
            open_ts = t
        v[nbars] += q
        notional += p * q
        n[nbars] += 1
    if nbars >= 0:
        vw[nbars] = notional / v[nbars] if v[nbars] > 0.0 else np.nan
    return nbars + 1, late


def aggregate_trades(
    ts: I64, price: F64, qty: F64, length_ns: int, min_ts_ns: int = -(1 << 62),
) -> tuple[dict[str, npt.NDArray[np.generic]], int]:
    """Bars of ``length_ns`` from valid trade arrays of one symbol (numba, one pass).

    Returns the columns ``ts, open, high, low, close, volume, vwap, num_trades`` and the
    number of late trades dropped. The last bar may still be open: the caller decides
    whether it is complete.
    """
    size = ts.shape[0]
    cols_f = [np.empty(size) for _ in range(6)]
    o_ts = np.empty(size, dtype=np.int64)
    n = np.empty(size, dtype=np.int64)
    kernel: Any = _aggregate_trades
    nbars, late = kernel(ts, price, qty, length_ns, min_ts_ns, o_ts, *cols_f, n)
    names = ("open", "high", "low", "close", "volume", "vwap")
    out: dict[str, npt.NDArray[np.generic]] = {"ts": o_ts[:nbars]}
    out.update({name: col[:nbars] for name, col in zip(names, cols_f, strict=True)})
    out["num_trades"] = n[:nbars]
    return out, int(late)


@njit(nogil=True, cache=True)
def _resample(
    ts: I64, o: F64, h: F64, lo: F64, c: F64, v: F64, vw: F64, nt: I64, length: int,
    r_ts: I64, r_o: F64, r_h: F64, r_lo: F64, r_c: F64, r_v: F64, r_vw: F64, r_n: I64,
) -> int:
    k = -1
    start = -1
    notional = 0.0
    vol_vwap = 0.0
    empty = np.nan
    for i in range(ts.shape[0]):
        s = ts[i] - ts[i] % length
        if s != start:
            if s < start:
                continue
            if k >= 0:
                if r_o[k] != r_o[k]:
                    r_o[k] = r_h[k] = r_lo[k] = r_c[k] = empty
                r_vw[k] = notional / vol_vwap if vol_vwap > 0.0 else np.nan
            k += 1
            start = s
            r_ts[k] = s
            r_o[k] = r_h[k] = r_lo[k] = r_c[k] = np.nan
            r_v[k] = 0.0
            r_n[k] = 0
            notional = 0.0
            vol_vwap = 0.0
            empty = np.nan
        if v[i] > 0.0:
            if r_o[k] != r_o[k]:
                r_o[k] = o[i]
                r_h[k] = h[i]
                r_lo[k] = lo[i]
            else:
                r_h[k] = max(r_h[k], h[i])
                r_lo[k] = min(r_lo[k], lo[i])
            r_c[k] = c[i]
            r_v[k] += v[i]
            if vw[i] == vw[i]:
                notional += vw[i] * v[i]
                vol_vwap += v[i]
        elif empty != empty:
            empty = o[i]
        r_n[k] += nt[i]
    if k >= 0:
        if r_o[k] != r_o[k]:
            r_o[k] = r_h[k] = r_lo[k] = r_c[k] = empty
        r_vw[k] = notional / vol_vwap if vol_vwap > 0.0 else np.nan
    return k + 1


def resample_bars(
    bars: dict[str, npt.NDArray[np.generic]], length_ns: int
) -> dict[str, npt.NDArray[np.generic]]:
    """Resample bar columns (``ts, open, high, low, close, volume`` [, ``vwap``,
    ``num_trades``]) to ``length_ns`` (numba, one pass). The last period may be incomplete."""
    ts = np.ascontiguousarray(bars["ts"], dtype=np.int64)
    size = ts.shape[0]

    def get(name: str) -> F64:
        return np.ascontiguousarray(bars[name], dtype=np.float64)

    vwap = get("vwap") if "vwap" in bars else np.full(size, np.nan)
    nt = (np.ascontiguousarray(bars["num_trades"], dtype=np.int64)
          if "num_trades" in bars else np.zeros(size, dtype=np.int64))
    out_f = [np.empty(size) for _ in range(6)]
    r_ts = np.empty(size, dtype=np.int64)
    r_n = np.empty(size, dtype=np.int64)
    kernel: Any = _resample
    k = kernel(ts, get("open"), get("high"), get("low"), get("close"), get("volume"),
                  vwap, nt, length_ns, r_ts, *out_f, r_n)
    names = ("open", "high", "low", "close", "volume", "vwap")
    out: dict[str, npt.NDArray[np.generic]] = {"ts": r_ts[:k]}
    out.update({name: col[:k] for name, col in zip(names, out_f, strict=True)})
    out["num_trades"] = r_n[:k]
    return out
