"""Load (or compile) every indicator kernel before the first bar arrives.

numba compiles lazily on first call. All kernels are ``cache=True``, so with a
warm cache this only loads machine code; numba takes the cache directory from
``NUMBA_CACHE_DIR`` when it is set (the systemd unit points it at the state
directory) and otherwise writes beside the package in ``__pycache__``. The
daemon calls :func:`warm_up` once at start so no strategy pays a compile or a
cache load on its first bar.

numba keys a cached kernel on its own source file, not on the files of the
helpers it inlines: after editing a helper, clear the cache directory.
"""

from __future__ import annotations

import time

import numpy as np

from engine.indicators import batch_ma as ma
from engine.indicators import batch_osc as osc
from engine.indicators import streaming as st
from engine.indicators import streaming_bars as sb

__all__ = ["warm_up"]


def warm_up() -> float:
    """Call every batch kernel and streaming step once on a tiny input; return
    the seconds it took."""
    t0 = time.perf_counter()
    x = np.linspace(1.0, 2.0, 40)
    hi, lo, vol = x + 0.1, x - 0.1, np.ones(40)
    ma.sma(x, 3)
    ma.ema(x, 3)
    ma.wma(x, 3)
    ma.macd(x, 3, 5, 2)
    ma.bbands(x, 3)
    ma.stddev(x, 3)
    ma.zscore(x, 3)
    osc.rsi(x, 3)
    osc.atr(hi, lo, x, 3)
    osc.stoch(hi, lo, x, 3, 2, 2)
    osc.adx(hi, lo, x, 3)
    osc.obv(x, vol)
    osc.roc(x, 3)
    osc.vwap(hi, lo, x, vol, 3)
    one = x[:1].copy()
    hist = x.reshape(-1, 1)
    for single in (
        st.EmaState(3, 1),
        st.SmaState(3, 1),
        st.WmaState(3, 1),
        st.RsiState(3, 1),
        st.RocState(3, 1),
        st.MacdState(1, 3, 5, 2),
        st.StddevState(3, 1),
        st.ZscoreState(3, 1),
        st.BbandsState(3, 1),
    ):
        single.seed(hist)
        single.update(one)
    h2, l2, v2 = hi.reshape(-1, 1), lo.reshape(-1, 1), vol.reshape(-1, 1)
    for hlc in (sb.AtrState(3, 1), sb.AdxState(3, 1), sb.StochState(1, 3, 2, 2)):
        hlc.seed(h2, l2, hist)
        hlc.update(hi[:1].copy(), lo[:1].copy(), one)
    obv = sb.ObvState(1)
    obv.seed(hist, v2)
    obv.update(one, vol[:1].copy())
    vw = sb.VwapState(3, 1)
    vw.seed(h2, l2, hist, v2)
    vw.update(hi[:1].copy(), lo[:1].copy(), one, vol[:1].copy())
    return time.perf_counter() - t0
