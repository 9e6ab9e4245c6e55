"""Streaming kernels, part B: STDDEV / BBANDS / ZSCORE (one shared dispersion
state), ATR and VWAP. Layout and contract as in :mod:`._stream_ma`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from engine.indicators._fma import fma
from engine.indicators._kernels_osc import true_range

__all__ = ["atr_feed", "atr_update", "dev_feed", "dev_update", "vwap_feed", "vwap_update"]

N, OUT = 0, 1
# Dispersion: OUT is stddev*nbdev / upper band / z-score depending on mode.
D_MID, D_LOW, D_TOTAL, D_SHIFT, D_S1, D_S2, D_SINCE, D_RING = 2, 3, 4, 5, 6, 7, 8, 9
MODE_STDDEV, MODE_BBANDS, MODE_ZSCORE = 0, 1, 2
A_PCLOSE, A_TOTAL, A_PREV, A_ROWS = 2, 3, 4, 5
V_SPV, V_SV, V_SINCE, V_RING = 2, 3, 4, 5


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _dev_step(
    st: np.ndarray, j: int, x: float, period: int, mode: int, up: float, dn: float, fused: bool
) -> None:  # pragma: no cover - compiled
    c = st[N, j]
    if c == 0.0:
        if x != x:
            return
        st[D_SHIFT, j] = x
    ci = int(c)
    st[N, j] = c + 1.0
    st[D_RING + ci % period, j] = x
    shift = st[D_SHIFT, j]
    total = st[D_TOTAL, j] + x
    d = x - shift
    s1 = st[D_S1, j] + d
    s2 = st[D_S2, j] + d * d
    if ci < period - 1:
        st[D_TOTAL, j] = total
        st[D_S1, j] = s1
        st[D_S2, j] = s2
        if ci == period - 2:
            st[D_SINCE, j] = 32 * period
        return
    if period == 1 and ci == 0:
        st[D_SINCE, j] = 32 * period
    p = float(period)
    inv = 1.0 / p
    m = s1 * inv
    var = s2 * inv - m * m
    mid = total / p
    old = st[D_RING + (ci + 1) % period, j] if period > 1 else x
    total -= old
    d = old - shift
    s1 -= d
    d = d * d
    s2 -= d
    since = st[D_SINCE, j] - 1.0
    if var < 1e-6 * (s2 * inv) or d > 1e6 * s2 or since <= 0.0:
        since = 32 * period
        base = ci - period + 1
        t = 0.0
        for k in range(period):
            t += st[D_RING + (base + k) % period, j]
        shift = t * inv
        s1 = 0.0
        s2 = 0.0
        for k in range(period):
            d = st[D_RING + (base + k) % period, j] - shift
            s1 += d
            s2 += d * d
        m = s1 * inv
        var = s2 * inv - m * m
        if var < 1e-12 * (s2 * inv):
            var = 0.0
        d = st[D_RING + base % period, j] - shift
        s1 -= d
        s2 -= d * d
    st[D_SINCE, j] = since
    st[D_SHIFT, j] = shift
    st[D_TOTAL, j] = total
    st[D_S1, j] = s1
    st[D_S2, j] = s2
    if mode == MODE_STDDEV:
        sd = math.sqrt(var)
        st[OUT, j] = sd * up if up != 1.0 else sd
    elif mode == MODE_BBANDS:
        sd = math.sqrt(var) if var != 0.0 else 0.0
        st[D_MID, j] = mid
        if up == dn:
            t = sd * up
            st[OUT, j] = mid + t
            st[D_LOW, j] = mid - t
        else:
            st[OUT, j] = fma(sd, up, mid) if fused else mid + sd * up
            st[D_LOW, j] = mid - sd * dn
    else:
        st[OUT, j] = (x - mid) / math.sqrt(var) if var != 0.0 else 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def dev_update(
    st: np.ndarray, x: np.ndarray, period: int, mode: int, up: float, dn: float, fused: bool
) -> None:  # pragma: no cover - compiled
    """Advance every symbol's STDDEV/BBANDS/ZSCORE (``mode``) by one bar."""
    for j in range(x.shape[0]):
        _dev_step(st, j, x[j], period, mode, up, dn, fused)


@njit(cache=True, nogil=True, error_model="numpy")
def dev_feed(
    st: np.ndarray, hist: np.ndarray, period: int, mode: int, up: float, dn: float, fused: bool
) -> None:  # pragma: no cover - compiled
    """Run a ``(bars, K)`` history through the dispersion step."""
    for i in range(hist.shape[0]):
        for j in range(hist.shape[1]):
            _dev_step(st, j, hist[i, j], period, mode, up, dn, fused)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _atr_step(
    st: np.ndarray, j: int, h: float, lo: float, c: float, period: int, fused: bool
) -> None:  # pragma: no cover - compiled
    n = st[N, j]
    if n == 0.0:
        if h != h or lo != lo or c != c:
            return
    elif n <= period:
        total = st[A_TOTAL, j] + true_range(h, lo, st[A_PCLOSE, j])
        st[A_TOTAL, j] = total
        if n == period:
            prev = total / float(period)
            st[A_PREV, j] = prev
            st[OUT, j] = prev
    else:
        beta = float(period - 1) / float(period)
        alpha = 1.0 - beta
        tr = true_range(h, lo, st[A_PCLOSE, j])
        prev = st[A_PREV, j]
        prev = fma(prev, beta, tr * alpha) if fused else prev * beta + tr * alpha
        st[A_PREV, j] = prev
        st[OUT, j] = prev
    st[A_PCLOSE, j] = c
    st[N, j] = n + 1.0


@njit(cache=True, nogil=True, error_model="numpy")
def atr_update(
    st: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, period: int, fused: bool
) -> None:  # pragma: no cover - compiled
    """Advance every symbol's ATR by one bar."""
    for j in range(c.shape[0]):
        _atr_step(st, j, h[j], lo[j], c[j], period, fused)


@njit(cache=True, nogil=True, error_model="numpy")
def atr_feed(
    st: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, period: int, fused: bool
) -> None:  # pragma: no cover - compiled
    """Run ``(bars, K)`` histories through the ATR step."""
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            _atr_step(st, j, h[i, j], lo[i, j], c[i, j], period, fused)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _vwap_step(
    st: np.ndarray, j: int, h: float, lo: float, c: float, v: float, period: int
) -> None:  # pragma: no cover - compiled
    n = st[N, j]
    if n == 0.0 and (h != h or lo != lo or c != c or v != v):
        return
    ci = int(n)
    st[N, j] = n + 1.0
    tp = (h + lo + c) / 3.0
    st[V_RING + ci % period, j] = tp
    st[V_RING + period + ci % period, j] = v
    if ci < period - 1:
        return
    since = st[V_SINCE, j]
    if since == 0.0:
        since = 32 * period
        spv = 0.0
        sv = 0.0
        for k in range(period):
            r = (ci - period + 1 + k) % period
            spv += st[V_RING + r, j] * st[V_RING + period + r, j]
            sv += st[V_RING + period + r, j]
    else:
        spv = st[V_SPV, j] + tp * v
        sv = st[V_SV, j] + v
    st[V_SINCE, j] = since - 1.0
    st[OUT, j] = spv / sv if sv != 0.0 else np.nan
    r = (ci - period + 1) % period
    st[V_SPV, j] = spv - st[V_RING + r, j] * st[V_RING + period + r, j]
    st[V_SV, j] = sv - st[V_RING + period + r, j]


@njit(cache=True, nogil=True, error_model="numpy")
def vwap_update(
    st: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray, period: int
) -> None:  # pragma: no cover - compiled
    """Advance every symbol's rolling VWAP by one bar."""
    for j in range(c.shape[0]):
        _vwap_step(st, j, h[j], lo[j], c[j], v[j], period)


@njit(cache=True, nogil=True, error_model="numpy")
def vwap_feed(
    st: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray, period: int
) -> None:  # pragma: no cover - compiled
    """Run ``(bars, K)`` histories through the VWAP step."""
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            _vwap_step(st, j, h[i, j], lo[i, j], c[i, j], v[i, j], period)
