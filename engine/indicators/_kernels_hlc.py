"""Batch kernel of ADX over high/low/close bars (STOCH is in ``_kernels_stoch``).

The steady-state recurrence (three Wilder sums and the ADX, all contracting by
``(period - 1) / period`` a bar) runs as verified speculative SIMD lanes, as EMA
and ATR do (:mod:`._chunked`): the result is always the serial one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from engine.indicators._chunked import lane_layout, same_bits, warm_bars
from engine.indicators._common import U1, fill_nan, first_valid3
from engine.indicators._kernels_osc import true_range
from engine.indicators._lanes_adx import ADX_LANES, adx_lanes

__all__ = ["adx_kernel"]

_EPS = 1e-14


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _moves(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, i: Any
) -> tuple[float, float, float]:  # pragma: no cover - compiled
    """-DM, +DM and true range of bar ``i`` (``i >= 1``) as TA-Lib takes them: the
    larger outside move wins, a tie or an inside move gives 0."""
    dp = high[i] - high[i - U1]
    dm = low[i - U1] - low[i]
    msel = dm if dm - dp > 0.0 else 0.0
    psel = dp if dp - dm > 0.0 else 0.0
    tr = true_range(high[i], low[i], close[i - U1])
    return (msel if dm > 0.0 else 0.0), (psel if dp > 0.0 else 0.0), tr


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _smooth(
    sums: tuple[float, float, float], moves: tuple[float, float, float], p: float
) -> tuple[float, float, float]:  # pragma: no cover - compiled
    """One Wilder step ``s - s / p + x`` of the (-DM, +DM, TR) sums."""
    return (
        sums[0] - sums[0] / p + moves[0],
        sums[1] - sums[1] / p + moves[1],
        sums[2] - sums[2] / p + moves[2],
    )


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _dx(mdm: float, pdm: float, ptr: float) -> tuple[bool, float]:  # pragma: no cover
    """``(defined, DX)`` from the three sums; undefined when the TR sum is not
    positive or the DI sum is within 1e-14 of 0."""
    if ptr > 0.0:
        mdi = 100.0 * (mdm / ptr)
        pdi = 100.0 * (pdm / ptr)
        t = mdi + pdi
        if not (-_EPS < t < _EPS):
            return True, 100.0 * (abs(mdi - pdi) / t)
    return False, 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def _adx_serial(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    out: np.ndarray,
    lo: int,
    hi: int,
    st: np.ndarray,
    period: int,
) -> None:  # pragma: no cover - compiled
    """ADX steps for bars ``lo..hi-1`` (``lo >= 1``) from ``st = (-DM sum, +DM
    sum, TR sum, ADX)``, which ends as the last state."""
    p = float(period)
    mdm, pdm, ptr, adx = st[0], st[1], st[2], st[3]
    for i in range(np.uint64(lo), np.uint64(hi)):
        mdm, pdm, ptr = _smooth((mdm, pdm, ptr), _moves(high, low, close, i), p)
        ok, dx = _dx(mdm, pdm, ptr)
        if ok:
            adx = (adx * (p - 1.0) + dx) / p
        out[i] = adx
    st[0], st[1], st[2], st[3] = mdm, pdm, ptr, adx


@njit(cache=True, nogil=True, error_model="numpy")
def adx_run(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    out: np.ndarray,
    lo: int,
    hi: int,
    st: np.ndarray,
    period: int,
    warm: int,
) -> None:  # pragma: no cover - compiled
    """:func:`_adx_serial` as ``ADX_LANES`` speculative lanes, each checked
    against the exact state the lane before it ended with (redone serially when
    it differs). Lane c > 0 guesses all four state values at 0."""
    w, d = lane_layout(lo, hi, warm, ADX_LANES)
    if d == 0:
        _adx_serial(high, low, close, out, lo, hi, st, period)
        return
    n = ADX_LANES
    ls = np.zeros(4 * n)  # -DM sums, +DM sums, TR sums, ADX; lane-minor
    for v in range(4):
        ls[v * n] = st[v]
    p = float(period)
    adx_lanes(high, low, close, out, ls, lo, d, w, p, p - 1.0)
    snap = ls.copy()
    adx_lanes(high, low, close, out, ls, lo + w, d, d, p, p - 1.0)
    for v in range(4):
        st[v] = ls[v * n]
    for c in range(1, n):
        same = True
        for v in range(4):
            same = same and same_bits(st[v], snap[v * n + c])
        if same:
            for v in range(4):
                st[v] = ls[v * n + c]
        else:
            _adx_serial(high, low, close, out, lo + c * d + w, lo + (c + 1) * d + w, st, period)
    _adx_serial(high, low, close, out, lo + n * d + w, hi, st, period)


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
    start = beg + 2 * period - 1
    fill_nan(out, start)
    if start >= n:
        return
    p = float(period)
    mdm = 0.0
    pdm = 0.0
    ptr = 0.0
    for i in range(np.uint64(beg + 1), np.uint64(beg + period)):
        mx, px, tr = _moves(high, low, close, i)
        mdm += mx
        pdm += px
        ptr += tr
    sum_dx = 0.0
    for i in range(np.uint64(beg + period), np.uint64(start + 1)):
        mdm, pdm, ptr = _smooth((mdm, pdm, ptr), _moves(high, low, close, i), p)
        ok, dx = _dx(mdm, pdm, ptr)
        if ok:
            sum_dx += dx
    adx = sum_dx / p
    out[start] = adx
    st = np.array([mdm, pdm, ptr, adx])
    adx_run(high, low, close, out, start + 1, n, st, period, 2 * warm_bars((p - 1.0) / p))
