"""Speculative, verified chunking of the contracting recurrences (EMA, ATR, RSI).

A recurrence like ``ema = fma(x - ema, k, ema)`` is latency-bound: each step
waits for the previous one. But it *contracts*: two runs started from different
states on the same inputs move closer by a factor ``1 - k`` per step, and once
their states are bit-identical they stay identical forever (same operations on
same inputs). So the output range is cut into 4 chunks advanced in lockstep (4
independent dependency chains the CPU overlaps): chunk 0 starts from the exact
state; chunks 1-3 start ``warm`` bars before their first output from a guessed
state. Afterwards each chunk's state at the bar before its first output is
compared, bit for bit, with the exact state the previous chunk ended with. Equal
means every value the chunk wrote is exact; different (a series that has not
converged, or a NaN, which never compares equal) means the chunk is recomputed
serially from the exact state. The result is always identical to the serial
recurrence; only the speed depends on convergence.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from engine.indicators._common import U1
from engine.indicators._fma import fma

__all__ = [
    "atr_run", "ema_run", "rsi_run", "warm_bars",
]  # fmt: skip

_CHAINS = 4
_BLOCK = 256


@njit(cache=True, nogil=True, error_model="numpy")
def warm_bars(decay: float) -> int:  # pragma: no cover - compiled
    """Bars for a state error to shrink by 2**-64 at ``decay`` (0 <= decay < 1) per bar."""
    if decay <= 0.0:
        return 16
    return int(math.ceil(64.0 * math.log(2.0) / -math.log(decay))) + 16  # noqa: RUF046 (numba)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _same(a: float, b: float) -> bool:  # pragma: no cover - compiled
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
def ema_run(
    x: np.ndarray, out: np.ndarray, lo: int, hi: int, prev: float, k: float, fused: bool, warm: int
) -> float:  # pragma: no cover - compiled
    """EMA steps for bars ``lo..hi-1`` from state ``prev``; returns the last state.

    Eight chains (the fused step is a subtract and an FMA, ~6 cycles of latency,
    so eight keep the FMA units busy); chain c > 0 starts ``warm`` bars early
    from the input value there as its guess."""
    span = (hi - lo + 7 * warm) // 8
    d = span - warm
    if d < 8 * warm or d < _BLOCK:
        return _ema_serial(x, out, lo, hi, prev, k, fused)
    i0 = np.uint64(lo)
    i1 = np.uint64(lo + span + 0 * d - warm)
    i2 = np.uint64(lo + span + 1 * d - warm)
    i3 = np.uint64(lo + span + 2 * d - warm)
    i4 = np.uint64(lo + span + 3 * d - warm)
    i5 = np.uint64(lo + span + 4 * d - warm)
    i6 = np.uint64(lo + span + 5 * d - warm)
    i7 = np.uint64(lo + span + 6 * d - warm)
    p0 = prev
    p1 = x[i1 - U1]
    p2 = x[i2 - U1]
    p3 = x[i3 - U1]
    p4 = x[i4 - U1]
    p5 = x[i5 - U1]
    p6 = x[i6 - U1]
    p7 = x[i7 - U1]
    s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    for phase in range(2):
        ta = np.uint64(0 if phase == 0 else warm)
        tb = np.uint64(warm if phase == 0 else span)
        if fused:  # two copies of the loop: the flag must not sit inside it
            for t in range(ta, tb):
                p0 = ema_fused(x[i0 + t], p0, k)
                p1 = ema_fused(x[i1 + t], p1, k)
                p2 = ema_fused(x[i2 + t], p2, k)
                p3 = ema_fused(x[i3 + t], p3, k)
                p4 = ema_fused(x[i4 + t], p4, k)
                p5 = ema_fused(x[i5 + t], p5, k)
                p6 = ema_fused(x[i6 + t], p6, k)
                p7 = ema_fused(x[i7 + t], p7, k)
                out[i0 + t] = p0
                out[i1 + t] = p1
                out[i2 + t] = p2
                out[i3 + t] = p3
                out[i4 + t] = p4
                out[i5 + t] = p5
                out[i6 + t] = p6
                out[i7 + t] = p7
        else:
            for t in range(ta, tb):
                p0 = ema_plain(x[i0 + t], p0, k)
                p1 = ema_plain(x[i1 + t], p1, k)
                p2 = ema_plain(x[i2 + t], p2, k)
                p3 = ema_plain(x[i3 + t], p3, k)
                p4 = ema_plain(x[i4 + t], p4, k)
                p5 = ema_plain(x[i5 + t], p5, k)
                p6 = ema_plain(x[i6 + t], p6, k)
                p7 = ema_plain(x[i7 + t], p7, k)
                out[i0 + t] = p0
                out[i1 + t] = p1
                out[i2 + t] = p2
                out[i3 + t] = p3
                out[i4 + t] = p4
                out[i5 + t] = p5
                out[i6 + t] = p6
                out[i7 + t] = p7
        if phase == 0:
            s1, s2, s3, s4, s5, s6, s7 = p1, p2, p3, p4, p5, p6, p7
    # Verify chunk by chunk; a chunk whose entry state differs is redone serially.
    if not _same(p0, s1):
        p1 = _ema_serial(x, out, lo + span + 0 * d, lo + span + 1 * d, p0, k, fused)
    if not _same(p1, s2):
        p2 = _ema_serial(x, out, lo + span + 1 * d, lo + span + 2 * d, p1, k, fused)
    if not _same(p2, s3):
        p3 = _ema_serial(x, out, lo + span + 2 * d, lo + span + 3 * d, p2, k, fused)
    if not _same(p3, s4):
        p4 = _ema_serial(x, out, lo + span + 3 * d, lo + span + 4 * d, p3, k, fused)
    if not _same(p4, s5):
        p5 = _ema_serial(x, out, lo + span + 4 * d, lo + span + 5 * d, p4, k, fused)
    if not _same(p5, s6):
        p6 = _ema_serial(x, out, lo + span + 5 * d, lo + span + 6 * d, p5, k, fused)
    if not _same(p6, s7):
        p7 = _ema_serial(x, out, lo + span + 6 * d, lo + span + 7 * d, p6, k, fused)
    return _ema_serial(x, out, lo + span + 7 * d, hi, p7, k, fused)


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
    """Wilder ATR steps for bars ``lo..hi-1`` (``lo >= 1``) from state ``prev``."""
    span = (hi - lo + 3 * warm) // _CHAINS
    if span - warm < 8 * warm or span - warm < _BLOCK:
        return _atr_serial(h, lo_, c, out, lo, hi, prev, beta, alpha, fused)
    d = span - warm
    b1 = lo + span
    b2 = b1 + d
    b3 = b2 + d
    end = b3 + d
    i0 = np.uint64(lo)
    i1 = np.uint64(b1 - warm)
    i2 = np.uint64(b2 - warm)
    i3 = np.uint64(b3 - warm)
    p0 = prev
    p1 = _tr(h, lo_, c, i1 - U1)
    p2 = _tr(h, lo_, c, i2 - U1)
    p3 = _tr(h, lo_, c, i3 - U1)
    s1 = s2 = s3 = 0.0
    for phase in range(2):
        ta = np.uint64(0 if phase == 0 else warm)
        tb = np.uint64(warm if phase == 0 else span)
        if fused:  # two copies of the loop: the flag must not sit inside it
            for t in range(ta, tb):
                p0 = atr_fused(p0, _tr(h, lo_, c, i0 + t), beta, alpha)
                p1 = atr_fused(p1, _tr(h, lo_, c, i1 + t), beta, alpha)
                p2 = atr_fused(p2, _tr(h, lo_, c, i2 + t), beta, alpha)
                p3 = atr_fused(p3, _tr(h, lo_, c, i3 + t), beta, alpha)
                out[i0 + t] = p0
                out[i1 + t] = p1
                out[i2 + t] = p2
                out[i3 + t] = p3
        else:
            for t in range(ta, tb):
                p0 = atr_plain(p0, _tr(h, lo_, c, i0 + t), beta, alpha)
                p1 = atr_plain(p1, _tr(h, lo_, c, i1 + t), beta, alpha)
                p2 = atr_plain(p2, _tr(h, lo_, c, i2 + t), beta, alpha)
                p3 = atr_plain(p3, _tr(h, lo_, c, i3 + t), beta, alpha)
                out[i0 + t] = p0
                out[i1 + t] = p1
                out[i2 + t] = p2
                out[i3 + t] = p3
        if phase == 0:
            s1, s2, s3 = p1, p2, p3
    if not _same(p0, s1):
        p1 = _atr_serial(h, lo_, c, out, b1, b2, p0, beta, alpha, fused)
    if not _same(p1, s2):
        p2 = _atr_serial(h, lo_, c, out, b2, b3, p1, beta, alpha, fused)
    if not _same(p2, s3):
        p3 = _atr_serial(h, lo_, c, out, b3, end, p2, beta, alpha, fused)
    return _atr_serial(h, lo_, c, out, end, hi, p3, beta, alpha, fused)


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


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _rsi_step(
    x: np.ndarray, i: np.uint64, gain: float, loss: float, pm1: float, inv: float
) -> tuple[float, float]:  # pragma: no cover - compiled
    d = x[i] - x[i - U1]
    loss *= pm1
    gain *= pm1
    g = d if d > 0.0 else 0.0
    gain += g
    loss += g - d
    return gain * inv, loss * inv


@njit(cache=True, nogil=True, error_model="numpy")
def _rsi_finish(
    out: np.ndarray, tot: np.ndarray, o: np.uint64, ch: int
) -> None:  # pragma: no cover
    """``out = 100 * gain / total`` (0 unless total > 0) over one block.

    A separate (not inlined) function so LLVM vectorizes the division, which
    would otherwise bound RSI at one scalar divide per bar."""
    tb = np.uint64(ch * _BLOCK)
    for q in range(np.uint64(_BLOCK)):
        tt = tot[tb + q]
        r = 100.0 * (out[o + q] / tt)
        out[o + q] = r if tt > 0.0 else 0.0


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

    The chains store ``gain`` and ``gain + loss`` per block of bars and one
    vectorized pass per block divides, so the divider is not the bottleneck.
    """
    warm = (warm + _BLOCK - 1) // _BLOCK * _BLOCK
    span = (hi - lo + 3 * warm) // _CHAINS
    span -= span % _BLOCK
    d = span - warm
    if d < 8 * warm:
        _rsi_serial(x, out, lo, hi, gain, loss, period)
        return
    inv = 1.0 / float(period)
    pm1 = float(period - 1)
    b1 = lo + span
    b2 = b1 + d
    b3 = b2 + d
    end = b3 + d
    i0 = np.uint64(lo)
    i1 = np.uint64(b1 - warm)
    i2 = np.uint64(b2 - warm)
    i3 = np.uint64(b3 - warm)
    g0, l0 = gain, loss
    g1 = g2 = g3 = l1 = l2 = l3 = 0.0
    sg1 = sg2 = sg3 = sl1 = sl2 = sl3 = 0.0
    tot = np.empty(_CHAINS * _BLOCK)
    bk = np.uint64(_BLOCK)
    wblk = np.uint64(warm // _BLOCK - 1)
    for blk in range(np.uint64(span // _BLOCK)):
        t0 = blk * bk
        for q in range(bk):
            t = t0 + q
            g0, l0 = _rsi_step(x, i0 + t, g0, l0, pm1, inv)
            g1, l1 = _rsi_step(x, i1 + t, g1, l1, pm1, inv)
            g2, l2 = _rsi_step(x, i2 + t, g2, l2, pm1, inv)
            g3, l3 = _rsi_step(x, i3 + t, g3, l3, pm1, inv)
            out[i0 + t] = g0
            out[i1 + t] = g1
            out[i2 + t] = g2
            out[i3 + t] = g3
            tot[q] = g0 + l0
            tot[bk + q] = g1 + l1
            tot[2 * bk + q] = g2 + l2
            tot[3 * bk + q] = g3 + l3
        if blk == wblk:  # states after bar b_c - 1, to verify against
            sg1, sg2, sg3, sl1, sl2, sl3 = g1, g2, g3, l1, l2, l3
        _rsi_finish(out, tot, i0 + t0, 0)
        _rsi_finish(out, tot, i1 + t0, 1)
        _rsi_finish(out, tot, i2 + t0, 2)
        _rsi_finish(out, tot, i3 + t0, 3)
    if not (_same(g0, sg1) and _same(l0, sl1)):
        g1, l1 = _rsi_serial(x, out, b1, b2, g0, l0, period)
    if not (_same(g1, sg2) and _same(l1, sl2)):
        g2, l2 = _rsi_serial(x, out, b2, b3, g1, l1, period)
    if not (_same(g2, sg3) and _same(l2, sl3)):
        g3, l3 = _rsi_serial(x, out, b3, end, g2, l2, period)
    _rsi_serial(x, out, end, hi, g3, l3, period)
