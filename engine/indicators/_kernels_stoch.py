"""Batch kernel of STOCH (slow %K/%D with SMA smoothing), bit-exact with TA-Lib.

TA-Lib tracks each window's extreme and rescans the window when it leaves, a
data-dependent branch per bar; then it divides three times per bar, two of the
divisions inside the running-sum loop. Here, blocks of bars go through:

1. the window maxima of ``high`` and ``-low`` by doubling spans (vectorized;
   exact: a window's extreme is the same number however it is found, as long as
   no NaN or signed zero is involved, so a block holding one sends the whole
   series to the bar-by-bar kernel);
2. fast %K (vectorized, one division per bar);
3. the running sums of slow %K over this block interleaved with those of slow
   %D over the previous block, so the two add chains overlap and neither waits
   on a division: the raw %K sums are divided when %D takes them (one division
   a bar, off both chains), the raw %D sums in a vectorized pass after.

Every rounding is TA-Lib's, in TA-Lib's order: the outputs are identical.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.indicators._common import U1, fill_nan, first_valid3

__all__ = ["stoch_kernel"]

_EPS = 1e-14
_BLOCK = 2048
"""Bars per block (its buffers stay in L1/L2)."""


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _gt(a: float, b: float) -> float:  # pragma: no cover - compiled
    return a if a > b else b


@njit(cache=True, nogil=True, error_model="numpy")
def _window_max(
    x: np.ndarray, w0: int, m: int, fastk: int, buf: np.ndarray, alt: np.ndarray, sign: float
) -> tuple[np.ndarray, int]:  # pragma: no cover - compiled
    """Doubling spans of ``sign * x`` from bar ``w0``: returns ``(r, s)`` with
    ``max(r[k], r[k + s])`` the max over bars ``w0 + k .. w0 + k + fastk - 1``
    (``k < m``). ``sign`` is 1 or -1 (a negated min is exact); each pass reads
    one buffer (or ``x``) and writes the other, so LLVM vectorizes it."""
    tot = m + fastk - 1
    u0 = np.uint64(w0)
    if fastk == 1:
        for k in range(np.uint64(tot)):
            buf[k] = sign * x[u0 + k]
        return buf, 0
    for k in range(np.uint64(tot - 1)):
        buf[k] = _gt(sign * x[u0 + k], sign * x[u0 + k + U1])
    tot -= 1
    span = 2
    while 2 * span <= fastk:
        s = np.uint64(span)
        for k in range(np.uint64(tot - span)):
            alt[k] = _gt(buf[k], buf[k + s])
        buf, alt = alt, buf
        tot -= span
        span *= 2
    return buf, fastk - span


@njit(cache=True, nogil=True, error_model="numpy")
def _no_nan_or_zero(
    high: np.ndarray, low: np.ndarray, lo: int, hi: int
) -> bool:  # pragma: no cover - compiled
    """Whether ``high``/``low`` hold no NaN and no zero (of either sign) in ``lo..hi-1``."""
    bad = 0
    for i in range(np.uint64(lo), np.uint64(hi)):
        h = high[i]
        lw = low[i]
        bad |= (h != h) | (lw != lw) | (h == 0.0) | (lw == 0.0)
    return bad == 0


@njit(cache=True, nogil=True, error_model="numpy")
def _fast_k(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    a: int,
    m: int,
    fastk: int,
    bufs: np.ndarray,
    dst: np.ndarray,
) -> bool:  # pragma: no cover - compiled
    """Fast %K of bars ``a .. a + m - 1`` into ``dst[0 .. m-1]`` (``bufs``: four
    scratch rows); False (and nothing written) when a high or low in the
    windows is NaN or zero."""
    w0 = a - fastk + 1
    if not _no_nan_or_zero(high, low, w0, a + m):
        return False
    hr, hs = _window_max(high, w0, m, fastk, bufs[0], bufs[1], 1.0)
    lr, ls = _window_max(low, w0, m, fastk, bufs[2], bufs[3], -1.0)
    ua = np.uint64(a)
    uhs = np.uint64(hs)
    uls = np.uint64(ls)
    for k in range(np.uint64(m)):
        hh = _gt(hr[k], hr[k + uhs])
        ll = -_gt(lr[k], lr[k + uls])
        diff = hh - ll
        q = (close[ua + k] - ll) / diff * 100.0
        dst[k] = q if not (abs(diff) <= _EPS * (abs(hh) + abs(ll))) else 0.0
    return True


@njit(cache=True, nogil=True, error_model="numpy")
def _k_sums(
    fkb: np.ndarray, ck: int, a: int, e: int, t_k: int, tot: float, out_k: np.ndarray
) -> float:  # pragma: no cover - compiled
    """Slow %K running sum over bars ``a .. e-1`` (fast %K of bar ``t`` at
    ``fkb[ck + t - a]``, of ``t - ck`` at ``fkb[t - a]``): the raw sum goes to
    ``out_k[t]`` from bar ``t_k`` on; ``ck == 0`` copies."""
    for t in range(a, e):
        j = t - a
        x = fkb[ck + j]
        if ck == 0:
            out_k[t] = x
            continue
        tot += x
        if t >= t_k:
            out_k[t] = tot
            tot -= fkb[j]
    return tot


@njit(cache=True, nogil=True, error_model="numpy")
def _d_sums(
    out_k: np.ndarray,
    lo: int,
    hi: int,
    start: int,
    slowk: int,
    cd: int,
    tot: float,
    out_d: np.ndarray,
) -> float:  # pragma: no cover - compiled
    """Slow %D running sum over bars ``lo .. hi-1``: first divides the raw
    slow %K sum in ``out_k[t]`` by ``slowk`` (in place), then the raw %D sum
    goes to ``out_d[t]`` from bar ``start`` on; ``cd == 0`` copies."""
    pk = float(slowk)
    for t in range(lo, hi):
        x = out_k[t]
        if slowk > 1:
            x = x / pk
            out_k[t] = x
        if cd == 0:
            out_d[t] = x
            continue
        tot += x
        if t >= start:
            out_d[t] = tot
            tot -= out_k[t - cd]
    return tot


@njit(cache=True, nogil=True, error_model="numpy")
def _kd_sums(
    fkb: np.ndarray,
    ck: int,
    a: int,
    m: int,
    pl: int,
    cd: int,
    sums: np.ndarray,
    out_k: np.ndarray,
    out_d: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """:func:`_k_sums` over bars ``a .. a+m-1`` and :func:`_d_sums` over ``pl ..
    pl+m-1`` (all past their warm-up, both periods above 1), interleaved: two
    independent add chains, and the one division per bar off both of them.
    ``sums`` holds (and gets back) the two running sums."""
    tk = sums[0]
    td = sums[1]
    pk = float(ck + 1)
    uk = np.uint64(ck)
    ud = np.uint64(cd)
    ua = np.uint64(a)
    up = np.uint64(pl)
    for j in range(np.uint64(m)):
        tk += fkb[uk + j]
        out_k[ua + j] = tk
        tk -= fkb[j]
        t = up + j
        sk = out_k[t] / pk
        out_k[t] = sk
        td += sk
        out_d[t] = td
        td -= out_k[t - ud]
    sums[0] = tk
    sums[1] = td


@njit(cache=True, nogil=True, error_model="numpy")
def _divide(x: np.ndarray, lo: int, hi: int, p: int) -> None:  # pragma: no cover - compiled
    """``x[lo:hi] /= p`` (TA_SMA's final division); nothing for ``p == 1``."""
    if p == 1:
        return
    d = float(p)
    for t in range(np.uint64(max(lo, 0)), np.uint64(max(hi, 0))):
        x[t] = x[t] / d


@njit(cache=True, nogil=True, error_model="numpy")
def _stoch_blocked(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    beg: int,
    fastk: int,
    slowk: int,
    slowd: int,
    out_k: np.ndarray,
    out_d: np.ndarray,
) -> bool:  # pragma: no cover - compiled
    """STOCH by blocks (see the module docstring). Gives up (False, outputs
    partly written) at a NaN or zero high or low."""
    n = close.shape[0]
    f0 = beg + fastk - 1  # first fast %K
    t_k = f0 + slowk - 1  # first slow %K
    start = t_k + slowd - 1  # first output
    ck = slowk - 1
    cd = slowd - 1
    bufs = np.empty((4, _BLOCK + fastk))
    fkb = np.zeros(ck + _BLOCK)
    sums = np.zeros(2)
    pl = 0  # raw slow %K sums of bars pl .. ph-1, not yet divided nor in %D
    ph = 0
    for a in range(f0, n, _BLOCK):
        e = min(a + _BLOCK, n)
        m = e - a
        if not _fast_k(high, low, close, a, m, fastk, bufs, fkb[ck:]):
            return False
        if ck > 0 and cd > 0 and a >= t_k and pl >= start and ph - pl >= m:
            _kd_sums(fkb, ck, a, m, pl, cd, sums, out_k, out_d)
            sums[1] = _d_sums(out_k, pl + m, ph, start, slowk, cd, sums[1], out_d)
        else:
            sums[0] = _k_sums(fkb, ck, a, e, t_k, sums[0], out_k)
            sums[1] = _d_sums(out_k, pl, ph, start, slowk, cd, sums[1], out_d)
        _divide(out_d, max(pl, start), ph, slowd)
        pl = max(a, t_k)
        ph = e
        for k in range(ck):  # carry the last slowk - 1 fast %K
            fkb[k] = fkb[m + k]
    _d_sums(out_k, pl, ph, start, slowk, cd, sums[1], out_d)
    _divide(out_d, max(pl, start), ph, slowd)
    return True


@njit(cache=True, nogil=True, error_model="numpy")
def stoch_kernel(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    fastk: int,
    slowk: int,
    slowd: int,
    out_k: np.ndarray,
    out_d: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """TA_STOCH with SMA smoothing (TA-Lib's default MA type).

    Fast %K is ``(close - lowest low) / (highest high - lowest low) * 100`` over
    ``fastk`` bars, or 0 when the range is within ``1e-14 * (|hh| + |ll|)`` of
    zero; slow %K is its ``slowk``-bar SMA, slow %D the ``slowd``-bar SMA of slow
    %K (TA_SMA running sums; a period of 1 copies). Runs blocked
    (:func:`_stoch_blocked`), or bar by bar as TA-Lib when a high or low is NaN
    or zero.
    """
    n = close.shape[0]
    beg = first_valid3(high, low, close)
    start = beg + (fastk - 1) + (slowk - 1) + (slowd - 1)
    if start >= n or not _stoch_blocked(high, low, close, beg, fastk, slowk, slowd, out_k, out_d):
        _stoch_serial(high, low, close, fastk, slowk, slowd, out_k, out_d)
        return
    fill_nan(out_k, start)
    fill_nan(out_d, start)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _track(
    x: np.ndarray, sign: float, today: int, trailing: int, idx: int, best: float
) -> tuple[int, float]:  # pragma: no cover - compiled
    """TA-Lib's tracked extreme, for ``max(sign * x)`` over ``trailing .. today``:
    ``(index, value)`` after bar ``today``, given those after the bar before
    (the window is rescanned once its extreme has left it)."""
    tmp = sign * x[today]
    if idx < trailing:
        idx = trailing
        best = sign * x[idx]
        for i in range(idx + 1, today + 1):
            tmp = sign * x[i]
            if tmp > best:
                idx = i
                best = tmp
    elif tmp >= best:
        idx = today
        best = tmp
    return idx, best


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _sma_push(
    ring: np.ndarray, tot: float, cnt: int, x: float
) -> tuple[float, int, float]:  # pragma: no cover - compiled
    """TA_SMA's running sum with ``x`` pushed as value number ``cnt + 1``:
    ``(tot, cnt + 1, average)``; the average is meaningful once ``cnt + 1`` reaches
    the period (``len(ring)``), and a period of 1 copies."""
    p = ring.shape[0]
    if p == 1:
        return tot, cnt + 1, x
    ring[cnt % p] = x
    tot += x
    cnt += 1
    if cnt < p:
        return tot, cnt, 0.0
    t = tot
    tot -= ring[cnt % p]
    return tot, cnt, t / float(p)


@njit(cache=True, nogil=True, error_model="numpy")
def _stoch_serial(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    fastk: int,
    slowk: int,
    slowd: int,
    out_k: np.ndarray,
    out_d: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """TA_STOCH bar by bar as TA-Lib runs it: each window's extreme is tracked and
    the window rescanned when it leaves (the values :func:`stoch_kernel`
    documents; this order decides which NaN or signed zero an extreme is)."""
    n = close.shape[0]
    beg = first_valid3(high, low, close)
    start = beg + (fastk - 1) + (slowk - 1) + (slowd - 1)
    fill_nan(out_k, start)
    fill_nan(out_d, start)
    if start >= n:
        return
    ring_k = np.empty(slowk)
    ring_d = np.empty(slowd)
    tot_k = 0.0
    tot_d = 0.0
    nk = 0  # fast %K values pushed
    nd = 0  # slow %K values pushed
    trailing = beg
    lowest_idx = -1
    highest_idx = -1
    neg_lowest = 0.0  # the lowest low, negated (tracked as a maximum)
    highest = 0.0
    for today in range(beg + fastk - 1, n):
        lowest_idx, neg_lowest = _track(low, -1.0, today, trailing, lowest_idx, neg_lowest)
        highest_idx, highest = _track(high, 1.0, today, trailing, highest_idx, highest)
        lowest = -neg_lowest
        diff = highest - lowest
        if not (abs(diff) <= _EPS * (abs(highest) + abs(lowest))):
            fk = (close[today] - lowest) / diff * 100.0
        else:
            fk = 0.0
        trailing += 1
        tot_k, nk, sk = _sma_push(ring_k, tot_k, nk, fk)  # slow %K
        if nk < slowk:
            continue
        tot_d, nd, sd = _sma_push(ring_d, tot_d, nd, sk)  # slow %D
        if nd < slowd:
            continue
        out_k[today] = sk
        out_d[today] = sd
