"""Batch kernels for the dispersion family: STDDEV, BBANDS and ZSCORE.

The variance is TA-Lib 0.8's cancellation-free form (``var.c``): running sums of
``x - shift`` and ``(x - shift)**2`` where ``shift`` is first the window's first
value and is re-anchored to the window mean, with both sums rebuilt by a fresh
two-pass over the window, whenever

* the variance falls below ``1e-6`` of the mean squared deviation it came from,
* the value just removed squared exceeds ``1e6`` times the surviving sum, or
* ``32 * period`` bars have passed since the last rebuild.

A rebuilt variance under ``1e-12`` of its mean square is clamped to exactly 0,
so a flat window gives exactly 0 and the output is never negative.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from engine.indicators._common import U1, fill_nan, first_valid1
from engine.indicators._fma import fma

__all__ = ["bbands_kernel", "stddev_kernel", "zscore_kernel"]


@njit(cache=True, nogil=True, error_model="numpy")
def _reseed(
    x: np.ndarray, i: int, period: int, inv: float
) -> tuple[float, float, float, float]:  # pragma: no cover
    """Fresh two-pass over ``x[i-period+1 : i+1]``: (shift, s1, s2, variance).

    Deliberately not inlined: the rare rebuild kept out of the hot loop leaves
    its registers alone (inlining it cost ~50% on STDDEV).
    """
    ws = i - period + 1
    t = 0.0
    for j in range(ws, i + 1):
        t += x[j]
    shift = t * inv
    s1 = 0.0
    s2 = 0.0
    for j in range(ws, i + 1):
        d = x[j] - shift
        s1 += d
        s2 += d * d
    m = s1 * inv
    var = s2 * inv - m * m
    if var < 1e-12 * (s2 * inv):
        var = 0.0
    d = x[ws] - shift
    s1 -= d
    s2 -= d * d
    return shift, s1, s2, var


_BLOCK = 512
"""Bars per block of STDDEV and BBANDS: the running sums leave the variance (and
the SMA total) in the outputs, then one vectorized pass takes the square roots
(and divides, and forms the bands): a scalar square root and divide per bar
would bound them."""


@njit(cache=True, nogil=True, error_model="numpy")
def _sqrt_block(out: np.ndarray, b0: int, b1: int, nbdev: float) -> None:  # pragma: no cover
    """``out = sqrt(out) [* nbdev]`` over ``b0..b1-1`` (not inlined: it vectorizes)."""
    lo, hi = np.uint64(b0), np.uint64(b1)
    if nbdev != 1.0:
        for i in range(lo, hi):
            out[i] = math.sqrt(out[i]) * nbdev
    else:
        for i in range(lo, hi):
            out[i] = math.sqrt(out[i])


@njit(cache=True, nogil=True, error_model="numpy")
def _stddev_into(
    x: np.ndarray, beg: int, period: int, nbdev: float, out: np.ndarray
) -> int:  # pragma: no cover
    """Write ``sqrt(TA_VAR) [* nbdev]`` into ``out[start:]``; return ``start``.

    Block by block: the running sums leave the variance in ``out``, then
    :func:`_sqrt_block` takes the square roots four at a time."""
    n = x.shape[0]
    start = beg + period - 1
    if start >= n:
        return start
    inv = 1.0 / float(period)
    trail = beg
    shift = x[trail]
    s1 = 0.0
    s2 = 0.0
    for j in range(trail, start):
        d = x[j] - shift
        s1 += d
        s2 += d * d
    since = 32 * period
    tr = np.uint64(trail)
    for b0 in range(start, n, _BLOCK):
        b1 = min(b0 + _BLOCK, n)
        for i in range(np.uint64(b0), np.uint64(b1)):
            d = x[i] - shift
            s1 += d
            s2 += d * d
            m = s1 * inv
            var = s2 * inv - m * m
            d = x[tr] - shift
            s1 -= d
            d = d * d
            s2 -= d
            tr += U1
            since -= 1
            if var < 1e-6 * (s2 * inv) or d > 1e6 * s2 or since <= 0:
                since = 32 * period
                shift, s1, s2, var = _reseed(x, int(i), period, inv)
            out[i] = var
        _sqrt_block(out, b0, b1, nbdev)
    return start


@njit(cache=True, nogil=True, error_model="numpy")
def stddev_kernel(
    x: np.ndarray, period: int, nbdev: float, out: np.ndarray
) -> None:  # pragma: no cover
    """TA_STDDEV: ``sqrt(variance)``, times ``nbdev`` unless it is exactly 1."""
    beg = first_valid1(x)
    start = _stddev_into(x, beg, period, nbdev, out)
    fill_nan(out, start)


@njit(cache=True, nogil=True, error_model="numpy")
def _bands_finish(
    upper: np.ndarray,
    middle: np.ndarray,
    lower: np.ndarray,
    b0: int,
    b1: int,
    p: float,
    nbdev_up: float,
    nbdev_dn: float,
    fused: bool,
) -> None:  # pragma: no cover - compiled
    """``middle = total / p``, ``sd = sqrt(var)`` (+0.0 for a zero variance) and the
    bands over ``b0..b1-1``. Not inlined, so LLVM vectorizes the divide and the
    square root (one scalar of each per bar would bound BBANDS)."""
    lo, hi = np.uint64(b0), np.uint64(b1)
    if nbdev_up == nbdev_dn:
        for i in range(lo, hi):
            mid = middle[i] / p
            var = upper[i]
            sd = math.sqrt(var) if var != 0.0 else 0.0
            t = sd * nbdev_up
            middle[i] = mid
            upper[i] = mid + t
            lower[i] = mid - t
    elif fused:  # TA-Lib's FMA build contracts only the upper band's multiply-add
        for i in range(lo, hi):
            mid = middle[i] / p
            var = upper[i]
            sd = math.sqrt(var) if var != 0.0 else 0.0
            middle[i] = mid
            upper[i] = fma(sd, nbdev_up, mid)
            lower[i] = mid - sd * nbdev_dn
    else:
        for i in range(lo, hi):
            mid = middle[i] / p
            var = upper[i]
            sd = math.sqrt(var) if var != 0.0 else 0.0
            middle[i] = mid
            upper[i] = mid + sd * nbdev_up
            lower[i] = mid - sd * nbdev_dn


@njit(cache=True, nogil=True, error_model="numpy")
def bbands_kernel(
    x: np.ndarray,
    period: int,
    nbdev_up: float,
    nbdev_dn: float,
    fused: bool,
    upper: np.ndarray,
    middle: np.ndarray,
    lower: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """TA_BBANDS (SMA middle band): SMA running sum and shifted variance, then
    ``middle +/- nbdev * stddev``, block by block (see :func:`_bands_finish`). With
    ``nbdev_up != nbdev_dn`` TA-Lib's FMA build fuses the upper band's multiply-add;
    everything else rounds twice."""
    n = x.shape[0]
    beg = first_valid1(x)
    start = beg + period - 1
    fill_nan(upper, start)
    fill_nan(middle, start)
    fill_nan(lower, start)
    if start >= n:
        return
    p = float(period)
    inv = 1.0 / p
    trail = beg
    shift = x[trail]
    total = 0.0
    s1 = 0.0
    s2 = 0.0
    for j in range(trail, start):
        total += x[j]
        d = x[j] - shift
        s1 += d
        s2 += d * d
    since = 32 * period
    tr = np.uint64(trail)
    for b0 in range(start, n, _BLOCK):
        b1 = min(b0 + _BLOCK, n)
        for i in range(np.uint64(b0), np.uint64(b1)):
            v = x[i]
            total += v
            d = v - shift
            s1 += d
            s2 += d * d
            m = s1 * inv
            var = s2 * inv - m * m
            middle[i] = total  # divided in _bands_finish
            old = x[tr]
            total -= old
            d = old - shift
            s1 -= d
            d = d * d
            s2 -= d
            tr += U1
            since -= 1
            if var < 1e-6 * (s2 * inv) or d > 1e6 * s2 or since <= 0:
                since = 32 * period
                shift, s1, s2, var = _reseed(x, int(i), period, inv)
            upper[i] = var  # square-rooted in _bands_finish
        _bands_finish(upper, middle, lower, b0, b1, p, nbdev_up, nbdev_dn, fused)


@njit(cache=True, nogil=True, error_model="numpy")
def zscore_kernel(x: np.ndarray, period: int, out: np.ndarray) -> None:  # pragma: no cover
    """``(x - SMA) / STDDEV`` over the window (BBANDS' middle band and deviation);
    exactly 0 where the deviation is 0."""
    n = x.shape[0]
    beg = first_valid1(x)
    start = beg + period - 1
    fill_nan(out, start)
    if start >= n:
        return
    p = float(period)
    inv = 1.0 / p
    trail = beg
    shift = x[trail]
    total = 0.0
    s1 = 0.0
    s2 = 0.0
    for j in range(trail, start):
        total += x[j]
        d = x[j] - shift
        s1 += d
        s2 += d * d
    since = 32 * period
    tr = np.uint64(trail)
    for i in range(np.uint64(start), np.uint64(n)):
        v = x[i]
        total += v
        d = v - shift
        s1 += d
        s2 += d * d
        m = s1 * inv
        var = s2 * inv - m * m
        mid = total / p
        old = x[tr]
        total -= old
        d = old - shift
        s1 -= d
        d = d * d
        s2 -= d
        tr += U1
        since -= 1
        if var < 1e-6 * (s2 * inv) or d > 1e6 * s2 or since <= 0:
            since = 32 * period
            shift, s1, s2, var = _reseed(x, int(i), period, inv)
        if var != 0.0:
            out[i] = (v - mid) / math.sqrt(var)
        else:
            out[i] = 0.0
