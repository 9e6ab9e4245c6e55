"""Batch kernels for the moving averages: SMA, EMA, WMA and MACD.

Each kernel fills a caller-provided output of the input's length: a NaN prefix
of ``first_valid + lookback`` bars, then TA-Lib's values, computed with TA-Lib
0.8's operations in TA-Lib's order so every bit agrees. ``fused`` selects the
single-rounding ``fma`` spelling that TA-Lib's FMA build uses (see ``_fma``).
The EMA and MACD recurrences run as verified speculative SIMD lanes (``_chunked``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.indicators._chunked import ema_run, macd_run, warm_bars
from engine.indicators._common import U1, fill_nan, first_valid1
from engine.indicators._fma import fma

__all__ = ["ema_kernel", "macd_kernel", "sma_kernel", "wma_kernel"]


@njit(cache=True, nogil=True, error_model="numpy")
def sma_kernel(x: np.ndarray, period: int, out: np.ndarray) -> None:  # pragma: no cover
    """TA_SMA: running sum (add newest, subtract oldest), output ``sum / period``."""
    n = x.shape[0]
    beg = first_valid1(x)
    start = beg + period - 1
    fill_nan(out, start)
    if start >= n:
        return
    p = float(period)
    total = 0.0
    for i in range(beg, start):
        total += x[i]
    trail = np.uint64(beg)
    for i in range(np.uint64(start), np.uint64(n)):
        total += x[i]
        t = total
        total -= x[trail]
        trail += U1
        out[i] = t / p


@njit(cache=True, nogil=True, error_model="numpy")
def ema_kernel(
    x: np.ndarray, period: int, fused: bool, out: np.ndarray
) -> None:  # pragma: no cover
    """TA_EMA: SMA seed of the first ``period`` values, then ``prev += (x-prev)*k``."""
    n = x.shape[0]
    beg = first_valid1(x)
    start = beg + period - 1
    fill_nan(out, start)
    if start >= n:
        return
    if period == 1:
        for i in range(start, n):
            out[i] = x[i]
        return
    k = 2.0 / float(period + 1)
    total = 0.0
    for i in range(beg, start + 1):
        total += x[i]
    prev = total / float(period)
    out[start] = prev
    ema_run(x, out, start + 1, n, prev, k, fused, warm_bars(1.0 - k))


@njit(cache=True, nogil=True, error_model="numpy")
def wma_kernel(x: np.ndarray, period: int, out: np.ndarray) -> None:  # pragma: no cover
    """TA_WMA: weight-shifting running sums, rebuilt from the window every 8*period bars."""
    n = x.shape[0]
    beg = first_valid1(x)
    start = beg + period - 1
    fill_nan(out, start)
    if start >= n:
        return
    if period == 1:
        for i in range(start, n):
            out[i] = x[i]
        return
    fp = float(period)
    divider = fp * float(period + 1) / 2.0
    psum = 0.0
    psub = 0.0
    w = 1
    for i in range(beg, start):
        v = x[i]
        psub += v
        psum += v * float(w)
        w += 1
    since = 8 * period
    trailing_value = 0.0
    trail = np.uint64(beg)
    for i in range(np.uint64(start), np.uint64(n)):
        v = x[i]
        psub += v
        psub -= trailing_value
        psum += v * fp
        since -= 1
        if since <= 0:
            since = 8 * period
            psub = 0.0
            psum = 0.0
            rw = 1
            for j in range(i + U1 - np.uint64(period), i + U1):
                t = x[j]
                psub += t
                psum += t * float(rw)
                rw += 1
        trailing_value = x[trail]
        trail += U1
        out[i] = psum / divider
        psum -= psub


@njit(cache=True, nogil=True, error_model="numpy")
def macd_kernel(
    x: np.ndarray,
    fast: int,
    slow: int,
    signal: int,
    fused: bool,
    out_macd: np.ndarray,
    out_signal: np.ndarray,
    out_hist: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """TA_MACD in one lockstep pass: two price EMAs with seeds ending on one bar,
    their difference, and an EMA of it seeded with the mean of its first values."""
    if slow < fast:
        fast, slow = slow, fast
    n = x.shape[0]
    beg = first_valid1(x)
    lb_signal = signal - 1
    start = beg + (slow - 1) + lb_signal
    fill_nan(out_macd, start)
    fill_nan(out_signal, start)
    fill_nan(out_hist, start)
    if start >= n:
        return
    kf = 2.0 / float(fast + 1)
    ks = 2.0 / float(slow + 1)
    kg = 2.0 / float(signal + 1)
    today = beg
    tot_slow = 0.0
    for _ in range(slow - fast):
        tot_slow += x[today]
        today += 1
    tot_fast = 0.0
    for _ in range(fast):
        tot_fast += x[today]
        tot_slow += x[today]
        today += 1
    prev_slow = tot_slow / float(slow)
    prev_fast = tot_fast / float(fast)
    # Fast and slow seeds end on bar beg+slow-1 (MACD's aligned seeds).
    macd = prev_fast - prev_slow
    sig_total = macd
    for _ in range(signal - 1):
        v = x[today]
        today += 1
        if fused:
            prev_fast = fma(v - prev_fast, kf, prev_fast)
            prev_slow = fma(v - prev_slow, ks, prev_slow)
        else:
            prev_fast = (v - prev_fast) * kf + prev_fast
            prev_slow = (v - prev_slow) * ks + prev_slow
        macd = prev_fast - prev_slow
        sig_total += macd
    prev_sig = sig_total / float(signal)
    out_macd[start] = macd
    out_signal[start] = prev_sig
    out_hist[start] = macd - prev_sig
    if signal == 1:
        # No smoothing: the signal is the line itself, the histogram exactly 0.
        if fused:
            for i in range(np.uint64(start + 1), np.uint64(n)):
                v = x[i]
                prev_fast = fma(v - prev_fast, kf, prev_fast)
                prev_slow = fma(v - prev_slow, ks, prev_slow)
                macd = prev_fast - prev_slow
                out_macd[i] = macd
                out_signal[i] = macd
                out_hist[i] = macd - macd
        else:
            for i in range(np.uint64(start + 1), np.uint64(n)):
                v = x[i]
                prev_fast = (v - prev_fast) * kf + prev_fast
                prev_slow = (v - prev_slow) * ks + prev_slow
                macd = prev_fast - prev_slow
                out_macd[i] = macd
                out_signal[i] = macd
                out_hist[i] = macd - macd
    else:
        st = np.empty(3)
        st[0], st[1], st[2] = prev_fast, prev_slow, prev_sig
        warm = warm_bars(1.0 - ks) + warm_bars(1.0 - kg)  # the signal settles after both EMAs
        macd_run(x, out_macd, out_signal, out_hist, start + 1, n, st, kf, ks, kg, fused, warm)
