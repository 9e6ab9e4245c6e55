"""Streaming kernels for RSI, ROC and OBV. Layout and contract as in
:mod:`._stream_ma`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.indicators._stream_ma import OUT, N, mark_warm

__all__ = [
    "obv_feed", "obv_update", "roc_feed", "roc_update", "rsi_feed", "rsi_update",
]  # fmt: skip

RSI_PREV, RSI_GAIN, RSI_LOSS, RSI_WARM, RSI_ROWS = 2, 3, 4, 5, 6
ROC_RING = 2
OBV_PREV, OBV_ROWS = 2, 3


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _rsi_step(st: np.ndarray, j: int, x: float, period: int) -> None:  # pragma: no cover
    c = st[N, j]
    if c == 0.0:
        if x == x:
            st[RSI_PREV, j] = x
            st[N, j] = 1.0
        return
    d = x - st[RSI_PREV, j]
    st[RSI_PREV, j] = x
    g = d if d > 0.0 else 0.0
    gain = st[RSI_GAIN, j]
    loss = st[RSI_LOSS, j]
    inv = 1.0 / float(period)
    if c <= period:
        gain += g
        loss += g - d
        if c == period:
            loss *= inv
            gain *= inv
            t = gain + loss
            st[OUT, j] = 100.0 * (gain / t) if t > 0.0 else 0.0
    else:
        pm1 = float(period - 1)
        loss *= pm1
        gain *= pm1
        gain += g
        loss += g - d
        loss *= inv
        gain *= inv
        t = gain + loss
        st[OUT, j] = 100.0 * (gain / t) if t > 0.0 else 0.0
    st[RSI_GAIN, j] = gain
    st[RSI_LOSS, j] = loss
    st[N, j] = c + 1.0


@njit(cache=True, nogil=True, error_model="numpy")
def rsi_update(st: np.ndarray, x: np.ndarray, period: int) -> None:  # pragma: no cover
    """Advance every symbol's RSI by one bar (one vectorizable loop once all
    symbols are past the warm-up, as for :func:`ema_update`)."""
    if st[RSI_WARM, 0] == 1.0:
        inv = 1.0 / float(period)
        pm1 = float(period - 1)
        cnt, prv, gr, lr, out = st[N], st[RSI_PREV], st[RSI_GAIN], st[RSI_LOSS], st[OUT]
        for j in range(x.shape[0]):
            v = x[j]
            d = v - prv[j]
            prv[j] = v
            g = d if d > 0.0 else 0.0
            loss = lr[j] * pm1
            gain = gr[j] * pm1
            gain += g
            loss += g - d
            loss *= inv
            gain *= inv
            t = gain + loss
            r = 100.0 * (gain / t)
            out[j] = r if t > 0.0 else 0.0
            gr[j] = gain
            lr[j] = loss
            cnt[j] += 1.0
        return
    for j in range(x.shape[0]):
        _rsi_step(st, j, x[j], period)
    mark_warm(st, period, RSI_WARM)


@njit(cache=True, nogil=True, error_model="numpy")
def rsi_feed(st: np.ndarray, hist: np.ndarray, period: int) -> None:  # pragma: no cover
    """Run a ``(bars, K)`` history through :func:`rsi_update`, bar by bar."""
    for i in range(hist.shape[0]):
        rsi_update(st, hist[i], period)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _roc_step(st: np.ndarray, j: int, x: float, period: int) -> None:  # pragma: no cover
    c = st[N, j]
    if c == 0.0 and x != x:
        return
    ci = int(c)
    size = period + 1
    st[ROC_RING + ci % size, j] = x
    if ci >= period:
        old = st[ROC_RING + (ci - period) % size, j]
        st[OUT, j] = ((x / old) - 1.0) * 100.0 if old != 0.0 else 0.0
    st[N, j] = c + 1.0


@njit(cache=True, nogil=True, error_model="numpy")
def roc_update(st: np.ndarray, x: np.ndarray, period: int) -> None:  # pragma: no cover
    """Advance every symbol's ROC by one bar."""
    for j in range(x.shape[0]):
        _roc_step(st, j, x[j], period)


@njit(cache=True, nogil=True, error_model="numpy")
def roc_feed(st: np.ndarray, hist: np.ndarray, period: int) -> None:  # pragma: no cover
    """Run a ``(bars, K)`` history through the ROC step."""
    for i in range(hist.shape[0]):
        for j in range(hist.shape[1]):
            _roc_step(st, j, hist[i, j], period)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _obv_step(st: np.ndarray, j: int, c: float, v: float) -> None:  # pragma: no cover
    n = st[N, j]
    if n == 0.0:
        if c != c or v != v:
            return
        st[OUT, j] = v
        st[OBV_PREV, j] = c
    else:
        prev = st[OBV_PREV, j]
        if c > prev:
            st[OUT, j] += v
        elif c < prev:
            st[OUT, j] -= v
        st[OBV_PREV, j] = c
    st[N, j] = n + 1.0


@njit(cache=True, nogil=True, error_model="numpy")
def obv_update(st: np.ndarray, c: np.ndarray, v: np.ndarray) -> None:  # pragma: no cover
    """Advance every symbol's OBV by one bar."""
    for j in range(c.shape[0]):
        _obv_step(st, j, c[j], v[j])


@njit(cache=True, nogil=True, error_model="numpy")
def obv_feed(st: np.ndarray, c: np.ndarray, v: np.ndarray) -> None:  # pragma: no cover
    """Run ``(bars, K)`` close/volume histories through the OBV step."""
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            _obv_step(st, j, c[i, j], v[i, j])
