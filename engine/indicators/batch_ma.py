"""Batch moving averages and bands over float64 arrays (TA-Lib 0.8 bit-exact).

Conventions shared by every function here (and in :mod:`batch_osc`):

* The result has the input's length. Leading bars that are NaN are skipped, as
  TA-Lib's Python wrapper skips them; the output then has a NaN prefix of exactly
  ``first_valid + lookback`` bars, where ``lookback`` is TA-Lib's
  (``TA_XXX_Lookback``; the unstable period is TA-Lib's default 0). A series
  shorter than that is all NaN.
* A NaN *inside* the data is not skipped: it flows through the same arithmetic
  as in TA-Lib's C core, so recurrences (EMA, MACD) and running sums (SMA) stay
  NaN from there on, while windowed rebuilds (STDDEV, BBANDS, WMA re-anchor
  their sums periodically) recover once the NaN has left the window and a
  rebuild happens. Results equal TA-Lib's in that case too.
* ``out=`` takes preallocated C-contiguous float64 arrays of the input's length
  (a tuple for multi-output functions), so a hot loop allocates nothing.
* ``fused=None`` rounds like the installed TA-Lib on this CPU (FMA build when the
  CPU has FMA, see :mod:`engine.indicators._fma`); pass a bool to force either.
"""

from __future__ import annotations

import numpy as np

from engine.indicators._kernels_dev import bbands_kernel, stddev_kernel, zscore_kernel
from engine.indicators._kernels_ma import ema_kernel, macd_kernel, sma_kernel, wma_kernel
from engine.indicators._validate import (
    as_series,
    check_out,
    check_outs,
    check_period,
    check_real,
    resolve_fused,
)

__all__ = ["bbands", "ema", "macd", "sma", "stddev", "wma", "zscore"]

Outputs3 = tuple[np.ndarray, np.ndarray, np.ndarray]


def sma(close: np.ndarray, period: int, *, out: np.ndarray | None = None) -> np.ndarray:
    """Simple moving average, bit-exact with ``talib.SMA``.

    Lookback ``period - 1``. A running sum (add the newest value, subtract the
    oldest, divide by ``period``), never re-anchored, exactly as TA_SMA: an
    interior NaN or inf makes every later value NaN. A constant series gives the
    constant (up to the running sum's rounding).
    """
    x = as_series("close", close)
    p = check_period("period", period)
    o = check_out(x.shape[0], out)
    sma_kernel(x, p, o)
    return o


def ema(
    close: np.ndarray, period: int, *, fused: bool | None = None, out: np.ndarray | None = None
) -> np.ndarray:
    """Exponential moving average, bit-exact with ``talib.EMA``.

    Lookback ``period - 1``. ``k = 2 / (period + 1)``; the first value is the
    SMA of the first ``period`` inputs (summed left to right from 0.0), then
    ``ema = (x - ema) * k + ema``, a single ``fma(x - ema, k, ema)`` on TA-Lib's
    FMA build. ``period == 1`` copies the input. NaN inside the data propagates
    to every later value.
    """
    x = as_series("close", close)
    p = check_period("period", period)
    o = check_out(x.shape[0], out)
    ema_kernel(x, p, resolve_fused(fused), o)
    return o


def wma(close: np.ndarray, period: int, *, out: np.ndarray | None = None) -> np.ndarray:
    """Linearly weighted moving average (weights 1..period), bit-exact with ``talib.WMA``.

    Lookback ``period - 1``. TA-Lib's weight-shifting running sums divided by
    ``period * (period + 1) / 2``; the sums are rebuilt from the window every
    ``8 * period`` bars (TA-Lib 0.8), which also clears an interior NaN once it
    has left the window. ``period == 1`` copies the input.
    """
    x = as_series("close", close)
    p = check_period("period", period)
    o = check_out(x.shape[0], out)
    wma_kernel(x, p, o)
    return o


def macd(
    close: np.ndarray,
    fast: int = 12,
    slow: int = 26,
    signal: int = 9,
    *,
    fused: bool | None = None,
    out: Outputs3 | None = None,
) -> Outputs3:
    """MACD line, signal line and histogram, bit-exact with ``talib.MACD``.

    Lookback ``(slow - 1) + (signal - 1)`` (``fast``/``slow`` are swapped if
    given the wrong way round, as TA-Lib does). Both price EMAs use
    ``k = 2 / (period + 1)`` and are seeded with the SMA of their first
    ``period`` inputs *ending on the same bar* (the slow seed's last bar), so the
    fast seed averages the last ``fast`` bars of the slow seed window. The line
    is ``fast - slow``; the signal is an EMA of the line seeded with the mean of
    its first ``signal`` values; ``hist = line - signal``. Each EMA step is
    ``fma(x - prev, k, prev)`` on TA-Lib's FMA build. TA-Lib rejects periods
    below 2 for ``fast``/``slow``; here they run through the same arithmetic.
    """
    x = as_series("close", close)
    f = check_period("fast", fast)
    s = check_period("slow", slow)
    g = check_period("signal", signal)
    m, sg, h = check_outs(x.shape[0], out, 3)
    macd_kernel(x, f, s, g, resolve_fused(fused), m, sg, h)
    return m, sg, h


def bbands(
    close: np.ndarray,
    period: int = 20,
    nbdev_up: float = 2.0,
    nbdev_dn: float = 2.0,
    *,
    fused: bool | None = None,
    out: Outputs3 | None = None,
) -> Outputs3:
    """Bollinger bands ``(upper, middle, lower)``, bit-exact with ``talib.BBANDS``
    (SMA middle band, TA-Lib's default).

    Lookback ``period - 1``. The middle band is :func:`sma`; the deviation is the
    *population* standard deviation of :func:`stddev` (nbdev 1), computed in the
    same pass. ``upper = middle + dev * nbdev_up``, ``lower = middle - dev *
    nbdev_dn``; when the two differ TA-Lib's FMA build fuses the upper band's
    multiply-add. A flat window has deviation exactly 0, so all three bands
    equal the middle band.
    """
    x = as_series("close", close)
    p = check_period("period", period)
    up = check_real("nbdev_up", nbdev_up)
    dn = check_real("nbdev_dn", nbdev_dn)
    u, m, lo = check_outs(x.shape[0], out, 3)
    bbands_kernel(x, p, up, dn, resolve_fused(fused), u, m, lo)
    return u, m, lo


def stddev(
    close: np.ndarray, period: int = 20, nbdev: float = 1.0, *, out: np.ndarray | None = None
) -> np.ndarray:
    """Rolling population standard deviation times ``nbdev``, bit-exact with
    ``talib.STDDEV``.

    Lookback ``period - 1``. Divides by ``period`` (not ``period - 1``). The
    variance comes from running sums of deviations from a shift (the window's
    first value, re-anchored to the window mean with a fresh two-pass rebuild
    when cancellation threatens, when a large value leaves the window, and at
    least every ``32 * period`` bars); a rebuilt variance below ``1e-12`` of the
    mean square is clamped to 0, so a constant window gives exactly 0 and the
    result is never negative. ``period == 1`` gives 0.
    """
    x = as_series("close", close)
    p = check_period("period", period)
    k = check_real("nbdev", nbdev)
    o = check_out(x.shape[0], out)
    stddev_kernel(x, p, k, o)
    return o


def zscore(close: np.ndarray, period: int, *, out: np.ndarray | None = None) -> np.ndarray:
    """Rolling z-score ``(x - mean) / std`` over the last ``period`` bars (no
    TA-Lib counterpart).

    Lookback ``period - 1``. ``mean`` is exactly :func:`sma` and ``std`` exactly
    :func:`stddev` (population, nbdev 1), computed in one pass; the result is
    ``(x - mean) / std``, or exactly 0 where ``std`` is 0 (a flat window, and
    always for ``period == 1``). An interior NaN yields NaN while it is in the
    window (and the mean's running sum, like SMA's, stays NaN afterwards).
    """
    x = as_series("close", close)
    p = check_period("period", period)
    o = check_out(x.shape[0], out)
    zscore_kernel(x, p, o)
    return o
