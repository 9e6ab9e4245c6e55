"""Batch kernels over high/low/close bars: STOCH (slow %K/%D) and ADX."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.indicators._common import fill_nan, first_valid3
from engine.indicators._kernels_osc import true_range

__all__ = ["adx_kernel", "stoch_kernel"]

_EPS = 1e-14


@njit(cache=True, nogil=True, error_model="numpy")
def stoch_kernel(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    fastk: int,
    slowk: int,
    slowd: int,
    out_k: np.ndarray,
    out_d: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """TA_STOCH with SMA smoothing (TA-Lib's default MA type).

    Fast %K is ``(close - lowest low) / (highest high - lowest low) * 100`` over
    ``fastk`` bars, or 0 when the range is within ``1e-14 * (|hh| + |ll|)`` of
    zero; slow %K is its ``slowk``-bar SMA, slow %D the ``slowd``-bar SMA of slow
    %K (TA_SMA running sums; a period of 1 copies).
    """
    n = close.shape[0]
    beg = first_valid3(high, low, close)
    start = beg + (fastk - 1) + (slowk - 1) + (slowd - 1)
    fill_nan(out_k, start)
    fill_nan(out_d, start)
    if start >= n:
        return
    ring_k = np.empty(slowk)
    ring_d = np.empty(slowd)
    tot_k = 0.0
    tot_d = 0.0
    nk = 0  # fast %K values produced
    nd = 0  # slow %K values produced
    trailing = beg
    lowest_idx = -1
    highest_idx = -1
    lowest = 0.0
    highest = 0.0
    for today in range(beg + fastk - 1, n):
        tmp = low[today]
        if lowest_idx < trailing:
            lowest_idx = trailing
            lowest = low[lowest_idx]
            for i in range(lowest_idx + 1, today + 1):
                tmp = low[i]
                if tmp < lowest:
                    lowest_idx = i
                    lowest = tmp
        elif tmp <= lowest:
            lowest_idx = today
            lowest = tmp
        tmp = high[today]
        if highest_idx < trailing:
            highest_idx = trailing
            highest = high[highest_idx]
            for i in range(highest_idx + 1, today + 1):
                tmp = high[i]
                if tmp > highest:
                    highest_idx = i
                    highest = tmp
        elif tmp >= highest:
            highest_idx = today
            highest = tmp
        diff = highest - lowest
        if not (abs(diff) <= _EPS * (abs(highest) + abs(lowest))):
            fk = (close[today] - lowest) / diff * 100.0
        else:
            fk = 0.0
        trailing += 1
        # slow %K: SMA(slowk) of fast %K
        if slowk == 1:
            sk = fk
        else:
            ring_k[nk % slowk] = fk
            tot_k += fk
            nk += 1
            if nk < slowk:
                continue
            t = tot_k
            tot_k -= ring_k[nk % slowk]
            sk = t / float(slowk)
        # slow %D: SMA(slowd) of slow %K
        if slowd == 1:
            sd = sk
        else:
            ring_d[nd % slowd] = sk
            tot_d += sk
            nd += 1
            if nd < slowd:
                continue
            t = tot_d
            tot_d -= ring_d[nd % slowd]
            sd = t / float(slowd)
        out_k[today] = sk
        out_d[today] = sd


@njit(cache=True, nogil=True, error_model="numpy")
def adx_kernel(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int, out: np.ndarray
) -> None:  # pragma: no cover - compiled
    """TA_ADX: Wilder sums of +DM, -DM and true range (``s = s - s / period + x``),
    DI = ``100 * DM / TR``, DX = ``100 * |-DI - +DI| / (-DI + +DI)``; the first ADX
    is the mean of ``period`` DX, then ``adx = (adx * (period - 1) + dx) / period``.
    A bar whose TR sum is not positive, or whose DI sum is within 1e-14 of 0,
    leaves the ADX unchanged. No rounding (TA-Lib dropped Wilder's)."""
    n = close.shape[0]
    beg = first_valid3(high, low, close)
    lookback = 2 * period - 1
    start = beg + lookback
    fill_nan(out, start)
    if start >= n:
        return
    p = float(period)
    today = beg
    prev_high = high[today]
    prev_low = low[today]
    prev_close = close[today]
    pdm = 0.0
    mdm = 0.0
    ptr = 0.0
    for _ in range(period - 1):
        today += 1
        t = high[today]
        dp = t - prev_high
        prev_high = t
        t = low[today]
        dm = prev_low - t
        prev_low = t
        msel = dm if dm - dp > 0.0 else 0.0
        psel = dp if dp - dm > 0.0 else 0.0
        mdm += msel if dm > 0.0 else 0.0
        pdm += psel if dp > 0.0 else 0.0
        ptr += true_range(prev_high, prev_low, prev_close)
        prev_close = close[today]
    sum_dx = 0.0
    for _ in range(period):
        today += 1
        t = high[today]
        dp = t - prev_high
        prev_high = t
        t = low[today]
        dm = prev_low - t
        prev_low = t
        mdm -= mdm / p
        pdm -= pdm / p
        msel = dm if dm - dp > 0.0 else 0.0
        psel = dp if dp - dm > 0.0 else 0.0
        mdm += msel if dm > 0.0 else 0.0
        pdm += psel if dp > 0.0 else 0.0
        ptr = ptr - ptr / p + true_range(prev_high, prev_low, prev_close)
        prev_close = close[today]
        if ptr > 0.0:
            mdi = 100.0 * (mdm / ptr)
            pdi = 100.0 * (pdm / ptr)
            t = mdi + pdi
            if not (-_EPS < t < _EPS):
                sum_dx += 100.0 * (abs(mdi - pdi) / t)
    adx = sum_dx / p
    out[today] = adx
    while today < n - 1:
        today += 1
        t = high[today]
        dp = t - prev_high
        prev_high = t
        t = low[today]
        dm = prev_low - t
        prev_low = t
        mdm -= mdm / p
        pdm -= pdm / p
        msel = dm if dm - dp > 0.0 else 0.0
        psel = dp if dp - dm > 0.0 else 0.0
        mdm += msel if dm > 0.0 else 0.0
        pdm += psel if dp > 0.0 else 0.0
        ptr = ptr - ptr / p + true_range(prev_high, prev_low, prev_close)
        prev_close = close[today]
        if ptr > 0.0:
            mdi = 100.0 * (mdm / ptr)
            pdi = 100.0 * (pdm / ptr)
            t = mdi + pdi
            if not (-_EPS < t < _EPS):
                dx = 100.0 * (abs(mdi - pdi) / t)
                adx = (adx * (p - 1.0) + dx) / p
        out[today] = adx
