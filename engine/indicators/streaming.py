"""Streaming indicators over one input series for K symbols at once.

One object per (indicator kind, parameters) holds the state of K symbols;
``update(values)`` advances every symbol by one bar in a single numba call and
returns :attr:`value`. After ``n`` updates the values equal the batch function
(:mod:`engine.indicators.batch_ma` / ``batch_osc``) on the same ``n`` bars, bit
for bit, including the NaN prefix (leading NaN bars of a symbol are skipped, as
the batch functions skip them) and NaN inside the data.

Typical use in a strategy host::

    ema = EmaState(period=20, k=len(symbols))
    ema.seed(history)                 # (bars, K) closes, oldest first
    ...
    ema.update(closes)                # one closed bar for all K symbols
    if ema.ready[i]:
        signal = ema.value[i]

``seed`` runs history through the same step as ``update`` (one call), so it is
equivalent to updating bar by bar, and the values then equal the batch function
run on that same history. Seeding from the tail of a longer series gives the
batch values of the tail: recurrences (EMA, RSI, ATR, MACD, ADX) forget their
start geometrically, so a tail of a few dozen periods reproduces the full-series
values to within rounding, while bit-identity with a batch over the *whole*
series needs the whole series or a snapshot. For that, persist ``snapshot()``
and ``restore()`` it into a new object with the same parameters: the restart
then continues bit for bit without any history.
"""

from __future__ import annotations

import numpy as np

from engine.indicators import _stream_b as b
from engine.indicators import _stream_ma as ma
from engine.indicators import _stream_osc as osc
from engine.indicators._stream_base import StreamState, check_bar, check_history
from engine.indicators._validate import check_period, check_real, resolve_fused

__all__ = [
    "BbandsState",
    "EmaState",
    "MacdState",
    "RocState",
    "RsiState",
    "SmaState",
    "StddevState",
    "WmaState",
    "ZscoreState",
]


class EmaState(StreamState):
    """Streaming :func:`~engine.indicators.ema` for K symbols."""

    __slots__ = ("_fused", "_p")

    def __init__(self, period: int, k: int, *, fused: bool | None = None) -> None:
        """State for ``k`` symbols; ``fused`` as in the batch function."""
        self._p = check_period("period", period)
        self._fused = resolve_fused(fused)
        super().__init__(k, ma.EMA_ROWS, self._p - 1)

    def update(self, values: np.ndarray) -> np.ndarray:
        """Advance all symbols by one bar (``values``: float64 of shape (k,))."""
        ma.ema_update(self._st, check_bar("values", values, self._k), self._p, self._fused)
        return self._rows[1]

    def seed(self, history: np.ndarray) -> None:
        """Feed a ``(bars, k)`` history (oldest first) through :meth:`update`'s step."""
        ma.ema_feed(self._st, check_history("history", history, self._k), self._p, self._fused)


class SmaState(StreamState):
    """Streaming :func:`~engine.indicators.sma` for K symbols."""

    __slots__ = ("_p",)

    def __init__(self, period: int, k: int) -> None:
        """State for ``k`` symbols (running sum plus a ring of ``period`` values)."""
        self._p = check_period("period", period)
        super().__init__(k, ma.SMA_RING + self._p, self._p - 1)

    def update(self, values: np.ndarray) -> np.ndarray:
        """Advance all symbols by one bar."""
        ma.sma_update(self._st, check_bar("values", values, self._k), self._p)
        return self._rows[1]

    def seed(self, history: np.ndarray) -> None:
        """Feed a ``(bars, k)`` history through the update step."""
        ma.sma_feed(self._st, check_history("history", history, self._k), self._p)


class WmaState(StreamState):
    """Streaming :func:`~engine.indicators.wma` for K symbols."""

    __slots__ = ("_p",)

    def __init__(self, period: int, k: int) -> None:
        """State for ``k`` symbols."""
        self._p = check_period("period", period)
        super().__init__(k, ma.WMA_RING + self._p, self._p - 1)

    def update(self, values: np.ndarray) -> np.ndarray:
        """Advance all symbols by one bar."""
        ma.wma_update(self._st, check_bar("values", values, self._k), self._p)
        return self._rows[1]

    def seed(self, history: np.ndarray) -> None:
        """Feed a ``(bars, k)`` history through the update step."""
        ma.wma_feed(self._st, check_history("history", history, self._k), self._p)


class RsiState(StreamState):
    """Streaming :func:`~engine.indicators.rsi` for K symbols."""

    __slots__ = ("_p",)

    def __init__(self, period: int, k: int) -> None:
        """State for ``k`` symbols."""
        self._p = check_period("period", period)
        super().__init__(k, osc.RSI_ROWS, self._p)

    def update(self, values: np.ndarray) -> np.ndarray:
        """Advance all symbols by one bar."""
        osc.rsi_update(self._st, check_bar("values", values, self._k), self._p)
        return self._rows[1]

    def seed(self, history: np.ndarray) -> None:
        """Feed a ``(bars, k)`` history through the update step."""
        osc.rsi_feed(self._st, check_history("history", history, self._k), self._p)


class RocState(StreamState):
    """Streaming :func:`~engine.indicators.roc` for K symbols."""

    __slots__ = ("_p",)

    def __init__(self, period: int, k: int) -> None:
        """State for ``k`` symbols (a ring of ``period + 1`` values)."""
        self._p = check_period("period", period)
        super().__init__(k, osc.ROC_RING + self._p + 1, self._p)

    def update(self, values: np.ndarray) -> np.ndarray:
        """Advance all symbols by one bar."""
        osc.roc_update(self._st, check_bar("values", values, self._k), self._p)
        return self._rows[1]

    def seed(self, history: np.ndarray) -> None:
        """Feed a ``(bars, k)`` history through the update step."""
        osc.roc_feed(self._st, check_history("history", history, self._k), self._p)


class MacdState(StreamState):
    """Streaming :func:`~engine.indicators.macd`; :attr:`value` is the MACD line."""

    __slots__ = ("_fast", "_fused", "_signal", "_slow")

    def __init__(
        self, k: int, fast: int = 12, slow: int = 26, signal: int = 9, *, fused: bool | None = None
    ) -> None:
        """State for ``k`` symbols (``fast``/``slow`` swapped if reversed, as TA-Lib)."""
        f, s = check_period("fast", fast), check_period("slow", slow)
        self._fast, self._slow = min(f, s), max(f, s)
        self._signal = check_period("signal", signal)
        self._fused = resolve_fused(fused)
        super().__init__(k, ma.M_ROWS, self._slow - 1 + self._signal - 1, out_rows=3)

    @property
    def macd(self) -> np.ndarray:
        """MACD line per symbol."""
        return self._view(1)

    @property
    def signal(self) -> np.ndarray:
        """Signal line per symbol."""
        return self._view(ma.M_SIG)

    @property
    def hist(self) -> np.ndarray:
        """Histogram (line - signal) per symbol."""
        return self._view(ma.M_HIST)

    def update(self, values: np.ndarray) -> np.ndarray:
        """Advance all symbols by one bar; returns the MACD line."""
        x = check_bar("values", values, self._k)
        ma.macd_update(self._st, x, self._fast, self._slow, self._signal, self._fused)
        return self._rows[1]

    def seed(self, history: np.ndarray) -> None:
        """Feed a ``(bars, k)`` history through the update step."""
        h = check_history("history", history, self._k)
        ma.macd_feed(self._st, h, self._fast, self._slow, self._signal, self._fused)


class _DevState(StreamState):
    """Shared STDDEV / BBANDS / ZSCORE machinery (one dispersion kernel)."""

    __slots__ = ("_dn", "_fused", "_mode", "_p", "_up")

    def __init__(self, period: int, k: int, mode: int, up: float, dn: float, fused: bool) -> None:
        self._p = check_period("period", period)
        self._mode, self._up, self._dn, self._fused = mode, up, dn, fused
        super().__init__(k, b.D_RING + self._p, self._p - 1, out_rows=3)

    def update(self, values: np.ndarray) -> np.ndarray:
        """Advance all symbols by one bar."""
        x = check_bar("values", values, self._k)
        b.dev_update(self._st, x, self._p, self._mode, self._up, self._dn, self._fused)
        return self._rows[1]

    def seed(self, history: np.ndarray) -> None:
        """Feed a ``(bars, k)`` history through the update step."""
        h = check_history("history", history, self._k)
        b.dev_feed(self._st, h, self._p, self._mode, self._up, self._dn, self._fused)


class StddevState(_DevState):
    """Streaming :func:`~engine.indicators.stddev` (population, times ``nbdev``)."""

    __slots__ = ()

    def __init__(self, period: int, k: int, nbdev: float = 1.0) -> None:
        """State for ``k`` symbols (shifted sums plus a ring of ``period`` values)."""
        nb = check_real("nbdev", nbdev)
        super().__init__(period, k, b.MODE_STDDEV, nb, nb, False)


class ZscoreState(_DevState):
    """Streaming :func:`~engine.indicators.zscore`."""

    __slots__ = ()

    def __init__(self, period: int, k: int) -> None:
        """State for ``k`` symbols."""
        super().__init__(period, k, b.MODE_ZSCORE, 1.0, 1.0, False)


class BbandsState(_DevState):
    """Streaming :func:`~engine.indicators.bbands`; :attr:`value` is the upper band."""

    __slots__ = ()

    def __init__(
        self,
        period: int,
        k: int,
        nbdev_up: float = 2.0,
        nbdev_dn: float = 2.0,
        *,
        fused: bool | None = None,
    ) -> None:
        """State for ``k`` symbols."""
        up, dn = check_real("nbdev_up", nbdev_up), check_real("nbdev_dn", nbdev_dn)
        super().__init__(period, k, b.MODE_BBANDS, up, dn, resolve_fused(fused))

    @property
    def upper(self) -> np.ndarray:
        """Upper band per symbol."""
        return self._view(1)

    @property
    def middle(self) -> np.ndarray:
        """Middle band (SMA) per symbol."""
        return self._view(b.D_MID)

    @property
    def lower(self) -> np.ndarray:
        """Lower band per symbol."""
        return self._view(b.D_LOW)
