"""Streaming kernels, part C: ADX and STOCH. Layout and contract as in
:mod:`._stream_ma`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.indicators._kernels_osc import true_range

__all__ = ["adx_feed", "adx_update", "stoch_feed", "stoch_update"]

N, OUT = 0, 1
X_PH, X_PL, X_PC, X_PDM, X_MDM, X_PTR, X_SUMDX, X_ROWS = 2, 3, 4, 5, 6, 7, 8, 9
S_D, S_LOW, S_HIGH, S_LIDX, S_HIDX, S_TOTK, S_TOTD, S_RING = 2, 3, 4, 5, 6, 7, 8, 9
_EPS = 1e-14


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _adx_step(
    st: np.ndarray, j: int, h: float, lo: float, c: float, period: int
) -> None:  # pragma: no cover
    n = st[N, j]
    if n == 0.0:
        if h != h or lo != lo or c != c:
            return
        st[X_PH, j] = h
        st[X_PL, j] = lo
        st[X_PC, j] = c
        st[N, j] = 1.0
        return
    p = float(period)
    dp = h - st[X_PH, j]
    dm = st[X_PL, j] - lo
    st[X_PH, j] = h
    st[X_PL, j] = lo
    mdm = st[X_MDM, j]
    pdm = st[X_PDM, j]
    ptr = st[X_PTR, j]
    if n >= period:
        mdm -= mdm / p
        pdm -= pdm / p
    msel = dm if dm - dp > 0.0 else 0.0
    psel = dp if dp - dm > 0.0 else 0.0
    mdm += msel if dm > 0.0 else 0.0
    pdm += psel if dp > 0.0 else 0.0
    tr = true_range(h, lo, st[X_PC, j])
    if n < period:
        ptr += tr
    else:
        ptr = ptr - ptr / p + tr
        if ptr > 0.0:
            mdi = 100.0 * (mdm / ptr)
            pdi = 100.0 * (pdm / ptr)
            t = mdi + pdi
            if not (-_EPS < t < _EPS):
                dx = 100.0 * (abs(mdi - pdi) / t)
                if n < 2 * period - 1 + 1:
                    st[X_SUMDX, j] += dx
                else:
                    st[OUT, j] = (st[OUT, j] * (p - 1.0) + dx) / p
        if n == 2 * period - 1:
            st[OUT, j] = st[X_SUMDX, j] / p
    st[X_PC, j] = c
    st[X_MDM, j] = mdm
    st[X_PDM, j] = pdm
    st[X_PTR, j] = ptr
    st[N, j] = n + 1.0


@njit(cache=True, nogil=True, error_model="numpy")
def adx_update(
    st: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, period: int
) -> None:  # pragma: no cover - compiled
    """Advance every symbol's ADX by one bar."""
    for j in range(c.shape[0]):
        _adx_step(st, j, h[j], lo[j], c[j], period)


@njit(cache=True, nogil=True, error_model="numpy")
def adx_feed(
    st: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, period: int
) -> None:  # pragma: no cover - compiled
    """Run ``(bars, K)`` histories through the ADX step."""
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            _adx_step(st, j, h[i, j], lo[i, j], c[i, j], period)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _stoch_step(
    st: np.ndarray, j: int, h: float, lo: float, c: float, fastk: int, slowk: int, slowd: int
) -> None:  # pragma: no cover - compiled
    n = st[N, j]
    if n == 0.0:
        if h != h or lo != lo or c != c:
            return
        st[S_LIDX, j] = -1.0
        st[S_HIDX, j] = -1.0
    ci = int(n)
    st[N, j] = n + 1.0
    rh = S_RING
    rl = S_RING + fastk
    rk = S_RING + 2 * fastk
    rd = rk + slowk
    st[rh + ci % fastk, j] = h
    st[rl + ci % fastk, j] = lo
    if ci < fastk - 1:
        return
    trailing = ci - fastk + 1
    lowest = st[S_LOW, j]
    lidx = int(st[S_LIDX, j])
    if lidx < trailing:
        lidx = trailing
        lowest = st[rl + trailing % fastk, j]
        for i in range(trailing + 1, ci + 1):
            tmp = st[rl + i % fastk, j]
            if tmp < lowest:
                lidx = i
                lowest = tmp
    elif lo <= lowest:
        lidx = ci
        lowest = lo
    highest = st[S_HIGH, j]
    hidx = int(st[S_HIDX, j])
    if hidx < trailing:
        hidx = trailing
        highest = st[rh + trailing % fastk, j]
        for i in range(trailing + 1, ci + 1):
            tmp = st[rh + i % fastk, j]
            if tmp > highest:
                hidx = i
                highest = tmp
    elif h >= highest:
        hidx = ci
        highest = h
    st[S_LOW, j] = lowest
    st[S_HIGH, j] = highest
    st[S_LIDX, j] = lidx
    st[S_HIDX, j] = hidx
    diff = highest - lowest
    if not (abs(diff) <= _EPS * (abs(highest) + abs(lowest))):
        fk = (c - lowest) / diff * 100.0
    else:
        fk = 0.0
    nk = ci - (fastk - 1)
    if slowk == 1:
        sk = fk
    else:
        st[rk + nk % slowk, j] = fk
        tot = st[S_TOTK, j] + fk
        if nk + 1 < slowk:
            st[S_TOTK, j] = tot
            return
        t = tot
        st[S_TOTK, j] = tot - st[rk + (nk + 1) % slowk, j]
        sk = t / float(slowk)
    nd = nk - (slowk - 1)
    if slowd == 1:
        sd = sk
    else:
        st[rd + nd % slowd, j] = sk
        tot = st[S_TOTD, j] + sk
        if nd + 1 < slowd:
            st[S_TOTD, j] = tot
            return
        t = tot
        st[S_TOTD, j] = tot - st[rd + (nd + 1) % slowd, j]
        sd = t / float(slowd)
    st[OUT, j] = sk
    st[S_D, j] = sd


@njit(cache=True, nogil=True, error_model="numpy")
def stoch_update(
    st: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, fastk: int, slowk: int, slowd: int
) -> None:  # pragma: no cover - compiled
    """Advance every symbol's slow stochastic by one bar."""
    for j in range(c.shape[0]):
        _stoch_step(st, j, h[j], lo[j], c[j], fastk, slowk, slowd)


@njit(cache=True, nogil=True, error_model="numpy")
def stoch_feed(
    st: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, fastk: int, slowk: int, slowd: int
) -> None:  # pragma: no cover - compiled
    """Run ``(bars, K)`` histories through the STOCH step."""
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            _stoch_step(st, j, h[i, j], lo[i, j], c[i, j], fastk, slowk, slowd)
