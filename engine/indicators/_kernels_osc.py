"""Batch kernels for the oscillators and price/volume studies: RSI, ATR, ROC, OBV
and the rolling VWAP. (STOCH and ADX live in ``_kernels_hlc``.)

Same framing as the other kernels: NaN prefix of ``first_valid + lookback``,
then TA-Lib 0.8's arithmetic in TA-Lib's order. The RSI and ATR recurrences
run as verified speculative SIMD lanes (``_chunked``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.indicators._chunked import atr_run, rsi_run, warm_bars
from engine.indicators._common import (
    fill_nan,
    first_valid1,
    first_valid2,
    first_valid3,
    first_valid4,
)

__all__ = ["atr_kernel", "obv_kernel", "roc_kernel", "rsi_kernel", "true_range", "vwap_kernel"]


@njit(cache=True, nogil=True, error_model="numpy")
def rsi_kernel(x: np.ndarray, period: int, out: np.ndarray) -> None:  # pragma: no cover
    """TA_RSI: Wilder's averages of gains and losses, ``100 * gain / (gain + loss)``.

    Seeded with the sums of the first ``period`` changes times ``1/period``; each
    step multiplies by ``period - 1``, adds the change and multiplies by
    ``1/period``; a gain/loss total that is not positive answers 0.
    """
    n = x.shape[0]
    beg = first_valid1(x)
    start = beg + period
    fill_nan(out, start)
    if start >= n:
        return
    inv = 1.0 / float(period)
    pm1 = float(period - 1)
    prev = x[beg]
    gain = 0.0
    loss = 0.0
    for i in range(beg + 1, start + 1):
        v = x[i]
        d = v - prev
        prev = v
        g = d if d > 0.0 else 0.0
        gain += g
        loss += g - d
    loss *= inv
    gain *= inv
    t = gain + loss
    out[start] = 100.0 * (gain / t) if t > 0.0 else 0.0
    rsi_run(x, out, start + 1, n, gain, loss, period, warm_bars(pm1 * inv))


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def true_range(high: float, low: float, prev_close: float) -> float:  # pragma: no cover
    """TA-Lib's true range: ``high - low``, replaced by ``|prev_close - high|`` or
    ``|prev_close - low|`` when strictly greater, in that order."""
    g = high - low
    v2 = abs(prev_close - high)
    g = v2 if v2 > g else g  # selects, not branches: same result, no mispredicts
    v3 = abs(prev_close - low)
    return v3 if v3 > g else g


@njit(cache=True, nogil=True, error_model="numpy")
def atr_kernel(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int, fused: bool, out: np.ndarray
) -> None:  # pragma: no cover - compiled
    """TA_ATR: mean of the first ``period`` true ranges, then Wilder's step
    ``prev * beta + tr * (1 - beta)`` with ``beta = (period-1)/period``; on TA-Lib's
    FMA build that is ``fma(prev, beta, tr * (1 - beta))``, one rounding fewer."""
    n = close.shape[0]
    beg = first_valid3(high, low, close)
    start = beg + period
    fill_nan(out, start)
    if start >= n:
        return
    total = 0.0
    for i in range(beg + 1, start + 1):
        total += true_range(high[i], low[i], close[i - 1])
    prev = total / float(period)
    out[start] = prev
    beta = float(period - 1) / float(period)
    alpha = 1.0 - beta
    atr_run(high, low, close, out, start + 1, n, prev, beta, alpha, fused, warm_bars(beta))


@njit(cache=True, nogil=True, error_model="numpy")
def roc_kernel(x: np.ndarray, period: int, out: np.ndarray) -> None:  # pragma: no cover
    """TA_ROC: ``((x / x[-period]) - 1) * 100``; 0 where the old value is 0."""
    n = x.shape[0]
    beg = first_valid1(x)
    start = beg + period
    fill_nan(out, start)
    up = np.uint64(period)
    for i in range(np.uint64(max(start, 0)), np.uint64(n)):
        old = x[i - up]
        r = ((x[i] / old) - 1.0) * 100.0
        out[i] = r if old != 0.0 else 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def obv_kernel(close: np.ndarray, volume: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """TA_OBV: starts at the first bar's volume, then adds or subtracts each bar's
    volume when the close rises or falls (unchanged on equal closes)."""
    n = close.shape[0]
    beg = first_valid2(close, volume)
    fill_nan(out, beg)
    if beg >= n:
        return
    if not (close[beg] == close[beg] and volume[beg] == volume[beg]):
        # No valid bar at all: all NaN. (TA-Lib's wrapper runs on the last bar
        # then and reports its volume, which no causal stream can reproduce.)
        out[beg] = np.nan
        return
    obv = volume[beg]
    prev = close[beg]
    for i in range(np.uint64(beg), np.uint64(n)):
        v = close[i]
        vol = volume[i]
        # Branch-free: adding -vol is subtracting vol, and adding -0.0 leaves
        # every value (even -0.0) unchanged, so this equals TA-Lib's if/else.
        # Two flat selects (a nested one compiles to unpredictable branches).
        step = vol if v > prev else -0.0
        step = -vol if v < prev else step
        obv += step
        out[i] = obv
        prev = v


@njit(cache=True, nogil=True, error_model="numpy")
def vwap_kernel(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    period: int,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Rolling VWAP: ``sum(tp * v) / sum(v)`` over the last ``period`` bars with
    ``tp = (high + low + close) / 3``. Running sums, rebuilt from the window
    every ``32 * period`` output bars; NaN where the window's volume sums to 0."""
    n = close.shape[0]
    beg = first_valid4(high, low, close, volume)
    start = beg + period - 1
    fill_nan(out, start)
    if start >= n:
        return
    spv = 0.0
    sv = 0.0
    since = 0
    for i in range(start, n):
        if since == 0:
            since = 32 * period
            spv = 0.0
            sv = 0.0
            for j in range(i - period + 1, i + 1):
                tp = (high[j] + low[j] + close[j]) / 3.0
                spv += tp * volume[j]
                sv += volume[j]
        else:
            tp = (high[i] + low[i] + close[i]) / 3.0
            spv += tp * volume[i]
            sv += volume[i]
        since -= 1
        out[i] = spv / sv if sv != 0.0 else np.nan
        j = i - period + 1
        tp = (high[j] + low[j] + close[j]) / 3.0
        spv -= tp * volume[j]
        sv -= volume[j]
