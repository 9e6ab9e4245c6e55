"""Batch kernel of ADX over high/low/close bars (STOCH is in ``_kernels_stoch``)."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.indicators._common import fill_nan, first_valid3
from engine.indicators._kernels_osc import true_range

__all__ = ["adx_kernel"]

_EPS = 1e-14


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
