"""Batch oscillators and price/volume studies (TA-Lib 0.8 bit-exact where TA-Lib
has them). Framing conventions (NaN prefix, interior NaN, ``out=``, ``fused=``)
are those of :mod:`engine.indicators.batch_ma`; for multi-input functions the
leading bars skipped are those where *any* input is NaN.
"""

from __future__ import annotations

import numpy as np

from engine.indicators._kernels_hlc import adx_kernel
from engine.indicators._kernels_osc import (
    atr_kernel,
    obv_kernel,
    roc_kernel,
    rsi_kernel,
    vwap_kernel,
)
from engine.indicators._kernels_stoch import stoch_kernel
from engine.indicators._validate import (
    as_series,
    check_out,
    check_outs,
    check_period,
    resolve_fused,
    same_length,
)

__all__ = ["adx", "atr", "obv", "roc", "rsi", "stoch", "vwap"]


def rsi(close: np.ndarray, period: int = 14, *, out: np.ndarray | None = None) -> np.ndarray:
    """Relative strength index, bit-exact with ``talib.RSI``.

    Lookback ``period``. Wilder smoothing: the first average gain/loss is the
    sum of the first ``period`` changes times ``1/period``; each later step is
    ``avg = (avg * (period - 1) + change) * (1/period)`` (TA-Lib multiplies by
    the reciprocal rather than dividing). ``rsi = 100 * gain / (gain + loss)``;
    when ``gain + loss`` is not positive (a flat series) the value is 0, as in
    TA-Lib 0.8. An interior NaN turns the loss average NaN, after which every
    value is 0 (the NaN total fails the ``> 0`` test) -- TA-Lib does the same.
    TA-Lib rejects ``period == 1``; here it gives 100 on a rise and 0 otherwise.
    """
    x = as_series("close", close)
    p = check_period("period", period)
    o = check_out(x.shape[0], out)
    rsi_kernel(x, p, o)
    return o


def atr(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    period: int = 14,
    *,
    fused: bool | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Average true range, bit-exact with ``talib.ATR``.

    Lookback ``period`` (the first true range needs a previous close). True
    range is ``high - low``, replaced by ``|prev_close - high|`` then
    ``|prev_close - low|`` where strictly larger. The first ATR is the mean of
    the first ``period`` true ranges; then Wilder's step ``atr * beta + tr * (1 -
    beta)`` with ``beta = (period - 1) / period``, computed as ``fma(atr, beta,
    tr * (1 - beta))`` on TA-Lib's FMA build. NaN propagates through the
    recurrence.
    """
    h, lo, c = as_series("high", high), as_series("low", low), as_series("close", close)
    n = same_length(high=h, low=lo, close=c)
    p = check_period("period", period)
    o = check_out(n, out)
    atr_kernel(h, lo, c, p, resolve_fused(fused), o)
    return o


def stoch(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    fastk: int = 14,
    slowk: int = 3,
    slowd: int = 3,
    *,
    out: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Slow stochastic ``(%K, %D)``, bit-exact with ``talib.STOCH`` (SMA smoothing,
    TA-Lib's default MA type).

    Lookback ``(fastk - 1) + (slowk - 1) + (slowd - 1)``. Fast %K is
    ``(close - LL) / (HH - LL) * 100`` over the last ``fastk`` bars, or 0 when
    ``|HH - LL| <= 1e-14 * (|HH| + |LL|)`` (a flat window); slow %K is the
    ``slowk``-bar SMA of fast %K and %D the ``slowd``-bar SMA of slow %K (TA_SMA
    running sums; a period of 1 copies).
    """
    h, lo, c = as_series("high", high), as_series("low", low), as_series("close", close)
    n = same_length(high=h, low=lo, close=c)
    fk = check_period("fastk", fastk)
    sk = check_period("slowk", slowk)
    sd = check_period("slowd", slowd)
    k, d = check_outs(n, out, 2)
    stoch_kernel(h, lo, c, fk, sk, sd, k, d)
    return k, d


def adx(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    period: int = 14,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Average directional index, bit-exact with ``talib.ADX``.

    Lookback ``2 * period - 1``. +DM/-DM per TA-Lib's seven cases (the larger
    outside move wins, ties give 0); +DM, -DM and TR are summed over the first
    ``period - 1`` bars and then Wilder-smoothed as ``s - s / period + x``;
    ``DI = 100 * DM / TR``, ``DX = 100 * |-DI - +DI| / (-DI + +DI)``. The first ADX
    is the mean of the next ``period`` DX, then ``adx = (adx * (period - 1) + dx)
    / period``. Bars whose TR sum is not positive (flat data) or whose DI sum is
    within 1e-14 of 0 leave the ADX unchanged (0 on a flat series).
    """
    h, lo, c = as_series("high", high), as_series("low", low), as_series("close", close)
    n = same_length(high=h, low=lo, close=c)
    p = check_period("period", period)
    o = check_out(n, out)
    adx_kernel(h, lo, c, p, o)
    return o


def obv(close: np.ndarray, volume: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """On-balance volume, bit-exact with ``talib.OBV``.

    Lookback 0. Starts at the first bar's volume; each later bar adds its volume
    when the close rises and subtracts it when it falls (equal or NaN
    comparisons leave it unchanged; a NaN volume propagates). One deliberate
    difference from TA-Lib: when no bar has both a close and a volume, the
    result is all NaN (TA-Lib's wrapper then runs on the last bar and reports
    its volume, a value that depends on the series' end, not on its past).
    """
    c, v = as_series("close", close), as_series("volume", volume)
    n = same_length(close=c, volume=v)
    o = check_out(n, out)
    obv_kernel(c, v, o)
    return o


def roc(close: np.ndarray, period: int = 10, *, out: np.ndarray | None = None) -> np.ndarray:
    """Rate of change in percent, bit-exact with ``talib.ROC``.

    Lookback ``period``. ``((x / x[-period]) - 1) * 100``, and 0 where the older
    value is exactly 0. No state is carried, so an interior NaN only affects the
    two bars that read it.
    """
    x = as_series("close", close)
    p = check_period("period", period)
    o = check_out(x.shape[0], out)
    roc_kernel(x, p, o)
    return o


def vwap(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    period: int,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Rolling volume-weighted average price (no TA-Lib counterpart).

    Lookback ``period - 1``. With typical price ``tp = (high + low + close) / 3``,
    ``vwap = sum(tp * volume) / sum(volume)`` over the last ``period`` bars. The
    two sums are running sums (add the newest bar, then remove the oldest after
    the output), rebuilt from the window in bar order at the first output bar and
    every ``32 * period`` bars after it. NaN where the window's volume sum is 0.
    An interior NaN poisons the sums until the next rebuild after it has left the
    window.
    """
    h, lo = as_series("high", high), as_series("low", low)
    c, v = as_series("close", close), as_series("volume", volume)
    n = same_length(high=h, low=lo, close=c, volume=v)
    p = check_period("period", period)
    o = check_out(n, out)
    vwap_kernel(h, lo, c, v, p, o)
    return o
