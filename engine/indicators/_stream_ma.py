"""Streaming kernels for the moving averages: EMA, SMA, WMA, MACD.

State for K symbols lives in one C-ordered float64 array ``st`` of shape
``(rows, K)``: row 0 counts the bars consumed (leading NaN bars are not
consumed, as the batch functions skip them), row 1 (and 2, 3 for MACD) holds
the current output, NaN until ready, then per-indicator fields and, last, a ring
buffer of recent inputs. Each ``*_step`` advances one symbol by one bar with the
batch kernel's operations in the batch kernel's order, which is what makes
``n`` updates equal the batch function on the same ``n`` bars bit for bit.
``*_update`` advances all K symbols (one Python-to-numba call per bar);
``*_feed`` runs a ``(bars, K)`` history through the same step. The other
``_stream_*`` modules follow this contract.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.indicators._fma import fma

__all__ = [
    "OUT",
    "N",
    "ema_feed",
    "ema_update",
    "macd_feed",
    "macd_update",
    "mark_warm",
    "sma_feed",
    "sma_update",
    "wma_feed",
    "wma_update",
]  # fmt: skip

# Row layouts (module constants, compiled in as literals).
N, OUT = 0, 1
EMA_PREV, EMA_SUM, EMA_WARM, EMA_ROWS = 2, 3, 4, 5
SMA_TOTAL, SMA_POS, SMA_WARM, SMA_RING = 2, 3, 4, 5
WMA_SUM, WMA_SUB, WMA_TRAIL, WMA_SINCE, WMA_RING = 2, 3, 4, 5, 6
M_SIG, M_HIST, M_TSLOW, M_TFAST, M_FAST, M_SLOW, M_TSIG, M_ROWS = 2, 3, 4, 5, 6, 7, 8, 9


@njit(cache=True, nogil=True, error_model="numpy")
def mark_warm(st: np.ndarray, count: int, flag_row: int) -> None:  # pragma: no cover
    """Set the state's all-warm flag (``st[flag_row, 0]``) once every symbol has
    consumed more than ``count`` bars. Counts only grow, so it stays set; it is
    part of the state, so a snapshot carries it."""
    row = st[N]
    for j in range(row.shape[0]):
        if not row[j] > count:
            return
    st[flag_row, 0] = 1.0


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _ema_step(
    st: np.ndarray, j: int, x: float, period: int, fused: bool
) -> None:  # pragma: no cover
    c = st[N, j]
    if c == 0.0 and x != x:
        return
    if period == 1:
        st[OUT, j] = x
    elif c < period:
        s = st[EMA_SUM, j] + x
        st[EMA_SUM, j] = s
        if c == period - 1:
            prev = s / float(period)
            st[EMA_PREV, j] = prev
            st[OUT, j] = prev
    else:
        k = 2.0 / float(period + 1)
        prev = st[EMA_PREV, j]
        prev = fma(x - prev, k, prev) if fused else (x - prev) * k + prev
        st[EMA_PREV, j] = prev
        st[OUT, j] = prev
    st[N, j] = c + 1.0


@njit(cache=True, nogil=True, error_model="numpy")
def ema_update(st: np.ndarray, x: np.ndarray, period: int, fused: bool) -> None:  # pragma: no cover
    """Advance every symbol's EMA by one bar.

    Once every symbol is past its warm-up the update is one branch-free loop
    over the symbols (it vectorizes); until then each symbol takes the general
    step. Both perform the same operations per symbol."""
    k = 2.0 / float(period + 1)
    if st[EMA_WARM, 0] == 1.0:
        cnt, prev_row, out_row = st[N], st[EMA_PREV], st[OUT]
        if fused:
            for j in range(x.shape[0]):
                prev = fma(x[j] - prev_row[j], k, prev_row[j])
                prev_row[j] = prev
                out_row[j] = prev
                cnt[j] += 1.0
        else:
            for j in range(x.shape[0]):
                prev = (x[j] - prev_row[j]) * k + prev_row[j]
                prev_row[j] = prev
                out_row[j] = prev
                cnt[j] += 1.0
        return
    for j in range(x.shape[0]):
        _ema_step(st, j, x[j], period, fused)
    if period > 1:
        mark_warm(st, period - 1, EMA_WARM)


@njit(cache=True, nogil=True, error_model="numpy")
def ema_feed(
    st: np.ndarray, hist: np.ndarray, period: int, fused: bool
) -> None:  # pragma: no cover
    """Run a ``(bars, K)`` history through :func:`ema_update`, bar by bar."""
    for i in range(hist.shape[0]):
        ema_update(st, hist[i], period, fused)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _sma_step(st: np.ndarray, j: int, x: float, period: int, slot: int) -> None:  # pragma: no cover
    # The ring slot is global (bar number mod period, the same for every symbol):
    # a symbol consumes every bar from its first valid one, so once it has
    # period values its window is exactly the last period global slots.
    c = st[N, j]
    if c == 0.0 and x != x:
        return
    st[SMA_RING + slot, j] = x
    total = st[SMA_TOTAL, j] + x
    if c >= period - 1:
        t = total
        total -= st[SMA_RING + (slot + 1) % period, j] if period > 1 else x
        st[OUT, j] = t / float(period)
    st[SMA_TOTAL, j] = total
    st[N, j] = c + 1.0


@njit(cache=True, nogil=True, error_model="numpy")
def sma_update(st: np.ndarray, x: np.ndarray, period: int) -> None:  # pragma: no cover
    """Advance every symbol's SMA by one bar (one vectorizable loop once all
    symbols are past the warm-up)."""
    slot = int(st[SMA_POS, 0])
    nxt = (slot + 1) % period
    if st[SMA_WARM, 0] == 1.0:
        p = float(period)
        cnt, tot, out = st[N], st[SMA_TOTAL], st[OUT]
        ring_in, ring_old = st[SMA_RING + slot], st[SMA_RING + nxt]
        for j in range(x.shape[0]):
            v = x[j]
            ring_in[j] = v
            total = tot[j] + v
            out[j] = total / p
            tot[j] = total - ring_old[j]
            cnt[j] += 1.0
    else:
        for j in range(x.shape[0]):
            _sma_step(st, j, x[j], period, slot)
        if period > 1:
            mark_warm(st, period - 1, SMA_WARM)
    st[SMA_POS, :] = nxt


@njit(cache=True, nogil=True, error_model="numpy")
def sma_feed(st: np.ndarray, hist: np.ndarray, period: int) -> None:  # pragma: no cover
    """Run a ``(bars, K)`` history through the SMA step."""
    for i in range(hist.shape[0]):
        sma_update(st, hist[i], period)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _wma_step(st: np.ndarray, j: int, x: float, period: int) -> None:  # pragma: no cover
    c = st[N, j]
    if c == 0.0 and x != x:
        return
    ci = int(c)
    st[N, j] = c + 1.0
    if period == 1:
        st[OUT, j] = x
        return
    st[WMA_RING + ci % period, j] = x
    if ci < period - 1:
        st[WMA_SUB, j] += x
        st[WMA_SUM, j] += x * float(ci + 1)
        if ci == period - 2:
            st[WMA_SINCE, j] = 8 * period
        return
    psub = st[WMA_SUB, j] + x
    psub -= st[WMA_TRAIL, j]
    psum = st[WMA_SUM, j] + x * float(period)
    since = st[WMA_SINCE, j] - 1.0
    if since <= 0.0:
        since = 8 * period
        psub = 0.0
        psum = 0.0
        for m in range(period):
            t = st[WMA_RING + (ci - period + 1 + m) % period, j]
            psub += t
            psum += t * float(m + 1)
    st[WMA_SINCE, j] = since
    st[WMA_TRAIL, j] = st[WMA_RING + (ci + 1) % period, j]
    divider = float(period) * float(period + 1) / 2.0
    st[OUT, j] = psum / divider
    st[WMA_SUM, j] = psum - psub
    st[WMA_SUB, j] = psub


@njit(cache=True, nogil=True, error_model="numpy")
def wma_update(st: np.ndarray, x: np.ndarray, period: int) -> None:  # pragma: no cover
    """Advance every symbol's WMA by one bar."""
    for j in range(x.shape[0]):
        _wma_step(st, j, x[j], period)


@njit(cache=True, nogil=True, error_model="numpy")
def wma_feed(st: np.ndarray, hist: np.ndarray, period: int) -> None:  # pragma: no cover
    """Run a ``(bars, K)`` history through the WMA step."""
    for i in range(hist.shape[0]):
        for j in range(hist.shape[1]):
            _wma_step(st, j, hist[i, j], period)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _ema_k(x: float, prev: float, k: float, fused: bool) -> float:  # pragma: no cover
    return fma(x - prev, k, prev) if fused else (x - prev) * k + prev


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _macd_step(
    st: np.ndarray, j: int, x: float, fast: int, slow: int, signal: int, fused: bool
) -> None:  # pragma: no cover - compiled
    c = st[N, j]
    if c == 0.0 and x != x:
        return
    b = int(c)
    st[N, j] = c + 1.0
    if b < slow:
        if b >= slow - fast:
            st[M_TFAST, j] += x
        st[M_TSLOW, j] += x
        if b < slow - 1:
            return
        prev_slow = st[M_TSLOW, j] / float(slow)
        prev_fast = st[M_TFAST, j] / float(fast)
        st[M_SLOW, j] = prev_slow
        st[M_FAST, j] = prev_fast
        macd = prev_fast - prev_slow
        st[M_TSIG, j] = macd
    else:
        prev_fast = _ema_k(x, st[M_FAST, j], 2.0 / float(fast + 1), fused)
        prev_slow = _ema_k(x, st[M_SLOW, j], 2.0 / float(slow + 1), fused)
        st[M_FAST, j] = prev_fast
        st[M_SLOW, j] = prev_slow
        macd = prev_fast - prev_slow
        if b < slow + signal - 1:
            st[M_TSIG, j] += macd
    first = slow + signal - 2
    if b < first:
        return
    if b == first:
        sig = st[M_TSIG, j] / float(signal)
    elif signal == 1:
        sig = macd
    else:
        sig = _ema_k(macd, st[M_TSIG, j], 2.0 / float(signal + 1), fused)
    st[M_TSIG, j] = sig
    st[OUT, j] = macd
    st[M_SIG, j] = sig
    st[M_HIST, j] = macd - sig


@njit(cache=True, nogil=True, error_model="numpy")
def macd_update(
    st: np.ndarray, x: np.ndarray, fast: int, slow: int, signal: int, fused: bool
) -> None:  # pragma: no cover - compiled
    """Advance every symbol's MACD by one bar (``fast <= slow`` already)."""
    for j in range(x.shape[0]):
        _macd_step(st, j, x[j], fast, slow, signal, fused)


@njit(cache=True, nogil=True, error_model="numpy")
def macd_feed(
    st: np.ndarray, hist: np.ndarray, fast: int, slow: int, signal: int, fused: bool
) -> None:  # pragma: no cover - compiled
    """Run a ``(bars, K)`` history through the MACD step."""
    for i in range(hist.shape[0]):
        for j in range(hist.shape[1]):
            _macd_step(st, j, hist[i, j], fast, slow, signal, fused)
