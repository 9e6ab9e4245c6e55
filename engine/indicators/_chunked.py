"""Speculative, verified chunking of the contracting recurrences (EMA, ATR, RSI,
MACD).

A recurrence like ``ema = fma(x - ema, k, ema)`` is latency-bound: each step
waits for the previous one. But it *contracts*: two runs started from different
states on the same inputs move closer by a factor ``1 - k`` per step, and once
their states are bit-identical they stay identical forever (same operations on
same inputs). So the output range is cut into 8 (ATR: 4) chunks advanced in lockstep
as SIMD lanes (:mod:`._lanes`): chunk 0 starts from the exact state; the
others start ``warm`` bars before their first output from a guessed state,
all lanes ``d`` bars apart. Afterwards each chunk's state at the bar before its
first output is compared, bit for bit, with the exact state the previous chunk
ended with. Equal means every value the chunk wrote is exact; different (a
series that has not converged, or a NaN, which never compares equal) means the
chunk is recomputed serially from the exact state. The result is always
identical to the serial recurrence; only the speed depends on convergence.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from engine.indicators._common import U1
from engine.indicators._fma import fma
from engine.indicators._lanes import (
    ATR_LANES,
    EMA_LANES,
    MACD_LANES,
    RSI_LANES,
    atr_lanes_fused,
    atr_lanes_plain,
    ema_lanes_fused,
    ema_lanes_plain,
    macd_lanes_fused,
    macd_lanes_plain,
    rsi_lanes,
)

__all__ = [
    "atr_run", "ema_run", "lane_layout", "macd_run", "rsi_run", "same_bits", "warm_bars",
]  # fmt: skip

_MIN_SPAN = 256
"""Shortest lane worth the set-up; shorter ranges run serially."""


@njit(cache=True, nogil=True, error_model="numpy")
def warm_bars(decay: float) -> int:  # pragma: no cover - compiled
    """Bars for a state error to shrink by 2**-64 at ``decay`` (0 <= decay < 1) per bar."""
    if decay <= 0.0:
        return 16
    return int(math.ceil(64.0 * math.log(2.0) / -math.log(decay))) + 16  # noqa: RUF046 (numba)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def same_bits(a: float, b: float) -> bool:  # pragma: no cover - compiled
    """Bit equality for non-NaN doubles (tells -0.0 from +0.0); NaN never matches."""
    return a == b and (a != 0.0 or 1.0 / a == 1.0 / b)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def ema_fused(v: float, prev: float, k: float) -> float:  # pragma: no cover - compiled
    """EMA step as TA-Lib's FMA build computes it."""
    return fma(v - prev, k, prev)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def ema_plain(v: float, prev: float, k: float) -> float:  # pragma: no cover - compiled
    """EMA step with two roundings (TA-Lib without FMA)."""
    return (v - prev) * k + prev


@njit(cache=True, nogil=True, error_model="numpy")
def _ema_serial(
    x: np.ndarray, out: np.ndarray, lo: int, hi: int, prev: float, k: float, fused: bool
) -> float:  # pragma: no cover - compiled
    if fused:
        for i in range(np.uint64(lo), np.uint64(hi)):
            prev = ema_fused(x[i], prev, k)
            out[i] = prev
    else:
        for i in range(np.uint64(lo), np.uint64(hi)):
            prev = ema_plain(x[i], prev, k)
            out[i] = prev
    return prev


@njit(cache=True, nogil=True, error_model="numpy")
def lane_layout(lo: int, hi: int, warm: int, lanes: int) -> tuple[int, int]:  # pragma: no cover
    """``(w, d)``: the warm-up rounded up to whole lane steps and the spacing of
    ``lanes`` lanes over bars ``lo..hi-1``; ``d == 0`` when too short to pay off."""
    w = (warm + 3) // 4 * 4
    d = (hi - lo - w) // lanes // 4 * 4
    if d < 8 * w or d < _MIN_SPAN:
        return w, 0
    return w, d


@njit(cache=True, nogil=True, error_model="numpy")
def ema_run(
    x: np.ndarray, out: np.ndarray, lo: int, hi: int, prev: float, k: float, fused: bool, warm: int
) -> float:  # pragma: no cover - compiled
    """EMA steps for bars ``lo..hi-1`` (``lo >= 1``) from state ``prev``; returns
    the last state. Lane c > 0 guesses the input value before its start."""
    w, d = lane_layout(lo, hi, warm, EMA_LANES)
    if d == 0:
        return _ema_serial(x, out, lo, hi, prev, k, fused)
    st = np.empty(EMA_LANES)
    st[0] = prev
    for c in range(1, EMA_LANES):
        st[c] = x[lo + c * d - 1]
    if fused:  # warm-up steps, snapshot, then the rest of the span
        ema_lanes_fused(x, out, st, lo, d, w, k)
        snap = st.copy()
        ema_lanes_fused(x, out, st, lo + w, d, d, k)
    else:
        ema_lanes_plain(x, out, st, lo, d, w, k)
        snap = st.copy()
        ema_lanes_plain(x, out, st, lo + w, d, d, k)
    p = st[0]
    for c in range(1, EMA_LANES):  # a lane whose entry state differs is redone serially
        if not same_bits(p, snap[c]):
            st[c] = _ema_serial(x, out, lo + c * d + w, lo + (c + 1) * d + w, p, k, fused)
        p = st[c]
    return _ema_serial(x, out, lo + EMA_LANES * d + w, hi, p, k, fused)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _tr(h: np.ndarray, lo: np.ndarray, c: np.ndarray, i: Any) -> float:  # pragma: no cover
    pc = c[i - U1]
    g = h[i] - lo[i]
    v2 = abs(pc - h[i])
    g = v2 if v2 > g else g
    v3 = abs(pc - lo[i])
    return float(v3 if v3 > g else g)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def atr_fused(prev: float, tr: float, beta: float, alpha: float) -> float:  # pragma: no cover
    """Wilder step as TA-Lib's FMA build computes it."""
    return fma(prev, beta, tr * alpha)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def atr_plain(prev: float, tr: float, beta: float, alpha: float) -> float:  # pragma: no cover
    """Wilder step with separate roundings (TA-Lib without FMA)."""
    return prev * beta + tr * alpha


@njit(cache=True, nogil=True, error_model="numpy")
def _atr_serial(
    h: np.ndarray,
    lo_: np.ndarray,
    c: np.ndarray,
    out: np.ndarray,
    lo: int,
    hi: int,
    prev: float,
    beta: float,
    alpha: float,
    fused: bool,
) -> float:  # pragma: no cover - compiled
    if fused:
        for i in range(np.uint64(lo), np.uint64(hi)):
            prev = atr_fused(prev, _tr(h, lo_, c, i), beta, alpha)
            out[i] = prev
    else:
        for i in range(np.uint64(lo), np.uint64(hi)):
            prev = atr_plain(prev, _tr(h, lo_, c, i), beta, alpha)
            out[i] = prev
    return prev


@njit(cache=True, nogil=True, error_model="numpy")
def atr_run(
    h: np.ndarray,
    lo_: np.ndarray,
    c: np.ndarray,
    out: np.ndarray,
    lo: int,
    hi: int,
    prev: float,
    beta: float,
    alpha: float,
    fused: bool,
    warm: int,
) -> float:  # pragma: no cover - compiled
    """Wilder ATR steps for bars ``lo..hi-1`` (``lo >= 1``) from state ``prev``;
    returns the last state. Lane c > 0 guesses the true range before its start."""
    w, d = lane_layout(lo, hi, warm, ATR_LANES)
    if d == 0:
        return _atr_serial(h, lo_, c, out, lo, hi, prev, beta, alpha, fused)
    st = np.empty(ATR_LANES)
    st[0] = prev
    for j in range(1, ATR_LANES):
        st[j] = _tr(h, lo_, c, np.uint64(lo + j * d - 1))
    if fused:
        atr_lanes_fused(h, lo_, c, out, st, lo, d, w, beta, alpha)
        snap = st.copy()
        atr_lanes_fused(h, lo_, c, out, st, lo + w, d, d, beta, alpha)
    else:
        atr_lanes_plain(h, lo_, c, out, st, lo, d, w, beta, alpha)
        snap = st.copy()
        atr_lanes_plain(h, lo_, c, out, st, lo + w, d, d, beta, alpha)
    p = st[0]
    for j in range(1, ATR_LANES):
        if not same_bits(p, snap[j]):
            a, b = lo + j * d + w, lo + (j + 1) * d + w
            st[j] = _atr_serial(h, lo_, c, out, a, b, p, beta, alpha, fused)
        p = st[j]
    return _atr_serial(h, lo_, c, out, lo + ATR_LANES * d + w, hi, p, beta, alpha, fused)


@njit(cache=True, nogil=True, error_model="numpy")
def _rsi_serial(
    x: np.ndarray, out: np.ndarray, lo: int, hi: int, gain: float, loss: float, period: int
) -> tuple[float, float]:  # pragma: no cover - compiled
    inv = 1.0 / float(period)
    pm1 = float(period - 1)
    for i in range(np.uint64(lo), np.uint64(hi)):
        d = x[i] - x[i - U1]
        loss *= pm1
        gain *= pm1
        g = d if d > 0.0 else 0.0
        gain += g
        loss += g - d
        loss *= inv
        gain *= inv
        t = gain + loss
        out[i] = 100.0 * (gain / t) if t > 0.0 else 0.0
    return gain, loss


@njit(cache=True, nogil=True, error_model="numpy")
def rsi_run(
    x: np.ndarray,
    out: np.ndarray,
    lo: int,
    hi: int,
    gain: float,
    loss: float,
    period: int,
    warm: int,
) -> None:  # pragma: no cover - compiled
    """Wilder RSI steps for bars ``lo..hi-1`` (``lo >= 1``) from (gain, loss).
    Lane c > 0 guesses (0, 0)."""
    w, d = lane_layout(lo, hi, warm, RSI_LANES)
    if d == 0:
        _rsi_serial(x, out, lo, hi, gain, loss, period)
        return
    inv = 1.0 / float(period)
    pm1 = float(period - 1)
    st = np.zeros(2 * RSI_LANES)  # gains, then losses
    st[0] = gain
    st[RSI_LANES] = loss
    rsi_lanes(x, out, st, lo, d, w, pm1, inv)
    snap = st.copy()
    rsi_lanes(x, out, st, lo + w, d, d, pm1, inv)
    g, q = st[0], st[RSI_LANES]
    for c in range(1, RSI_LANES):
        if not (same_bits(g, snap[c]) and same_bits(q, snap[RSI_LANES + c])):
            a, b = lo + c * d + w, lo + (c + 1) * d + w
            st[c], st[RSI_LANES + c] = _rsi_serial(x, out, a, b, g, q, period)
        g, q = st[c], st[RSI_LANES + c]
    _rsi_serial(x, out, lo + RSI_LANES * d + w, hi, g, q, period)


@njit(cache=True, nogil=True, error_model="numpy")
def _macd_serial(
    x: np.ndarray,
    om: np.ndarray,
    osg: np.ndarray,
    oh: np.ndarray,
    lo: int,
    hi: int,
    st: np.ndarray,
    kf: float,
    ks: float,
    kg: float,
    fused: bool,
) -> None:  # pragma: no cover - compiled
    """MACD steps for bars ``lo..hi-1`` from ``st = (fast, slow, signal)``, updated."""
    fast, slow, sig = st[0], st[1], st[2]
    for i in range(np.uint64(lo), np.uint64(hi)):  # the flag is loop-invariant: LLVM unswitches
        v = x[i]
        fast = ema_fused(v, fast, kf) if fused else ema_plain(v, fast, kf)
        slow = ema_fused(v, slow, ks) if fused else ema_plain(v, slow, ks)
        m = fast - slow
        sig = ema_fused(m, sig, kg) if fused else ema_plain(m, sig, kg)
        om[i] = m
        osg[i] = sig
        oh[i] = m - sig
    st[0], st[1], st[2] = fast, slow, sig


@njit(cache=True, nogil=True, error_model="numpy")
def macd_run(
    x: np.ndarray,
    om: np.ndarray,
    osg: np.ndarray,
    oh: np.ndarray,
    lo: int,
    hi: int,
    st: np.ndarray,
    kf: float,
    ks: float,
    kg: float,
    fused: bool,
    warm: int,
) -> None:  # pragma: no cover - compiled
    """MACD steps (line, signal, histogram) for bars ``lo..hi-1`` (``lo >= 1``)
    from ``st = (fast, slow, signal)``, which ends as the last state. Lane c > 0
    guesses both EMAs at the input value before its start and a signal of 0."""
    w, d = lane_layout(lo, hi, warm, MACD_LANES)
    if d == 0:
        _macd_serial(x, om, osg, oh, lo, hi, st, kf, ks, kg, fused)
        return
    n = MACD_LANES
    ls = np.zeros(3 * n)  # fast EMAs, slow EMAs, signal EMAs
    for c in range(n):
        ls[c] = ls[n + c] = x[lo + c * d - 1]
    ls[0], ls[n], ls[2 * n] = st[0], st[1], st[2]
    if fused:
        macd_lanes_fused(x, om, osg, oh, ls, lo, d, w, kf, ks, kg)
        snap = ls.copy()
        macd_lanes_fused(x, om, osg, oh, ls, lo + w, d, d, kf, ks, kg)
    else:
        macd_lanes_plain(x, om, osg, oh, ls, lo, d, w, kf, ks, kg)
        snap = ls.copy()
        macd_lanes_plain(x, om, osg, oh, ls, lo + w, d, d, kf, ks, kg)
    st[0], st[1], st[2] = ls[0], ls[n], ls[2 * n]
    for c in range(1, n):
        if not (
            same_bits(st[0], snap[c])
            and same_bits(st[1], snap[n + c])
            and same_bits(st[2], snap[2 * n + c])
        ):
            _macd_serial(
                x, om, osg, oh, lo + c * d + w, lo + (c + 1) * d + w, st, kf, ks, kg, fused
            )
        else:
            st[0], st[1], st[2] = ls[c], ls[n + c], ls[2 * n + c]
    _macd_serial(x, om, osg, oh, lo + n * d + w, hi, st, kf, ks, kg, fused)
