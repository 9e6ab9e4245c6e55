"""Streaming indicators over bar fields (high/low/close/volume) for K symbols.

Same contract as :mod:`engine.indicators.streaming`: one numba call per bar for
all K symbols, bit-exact with the batch functions on the same bars. A symbol's
leading bars with a NaN in any field are skipped, as the batch functions skip
them. Histories for :meth:`seed` are ``(bars, K)`` arrays per field.
"""

from __future__ import annotations

import numpy as np

from engine.indicators import _stream_b as b
from engine.indicators import _stream_c as c
from engine.indicators import _stream_osc as osc
from engine.indicators._stream_base import StreamState, check_bar, check_history
from engine.indicators._validate import check_period, resolve_fused

__all__ = ["AdxState", "AtrState", "ObvState", "StochState", "VwapState"]


class AtrState(StreamState):
    """Streaming :func:`~engine.indicators.atr` for K symbols."""

    __slots__ = ("_fused", "_p")

    def __init__(self, period: int, k: int, *, fused: bool | None = None) -> None:
        """State for ``k`` symbols."""
        self._p = check_period("period", period)
        self._fused = resolve_fused(fused)
        super().__init__(k, b.A_ROWS, self._p)

    def update(self, high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
        """Advance all symbols by one bar."""
        kk = self._k
        h, lo, cl = (
            check_bar("high", high, kk),
            check_bar("low", low, kk),
            check_bar("close", close, kk),
        )
        b.atr_update(self._st, h, lo, cl, self._p, self._fused)
        return self._rows[1]

    def seed(self, high: np.ndarray, low: np.ndarray, close: np.ndarray) -> None:
        """Feed ``(bars, k)`` histories through the update step."""
        kk = self._k
        h = check_history("high", high, kk)
        lo, cl = check_history("low", low, kk), check_history("close", close, kk)
        _same_bars(h, lo, cl)
        b.atr_feed(self._st, h, lo, cl, self._p, self._fused)


class AdxState(StreamState):
    """Streaming :func:`~engine.indicators.adx` for K symbols."""

    __slots__ = ("_p",)

    def __init__(self, period: int, k: int) -> None:
        """State for ``k`` symbols."""
        self._p = check_period("period", period)
        super().__init__(k, c.X_ROWS, 2 * self._p - 1)

    def update(self, high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
        """Advance all symbols by one bar."""
        kk = self._k
        h, lo, cl = (
            check_bar("high", high, kk),
            check_bar("low", low, kk),
            check_bar("close", close, kk),
        )
        c.adx_update(self._st, h, lo, cl, self._p)
        return self._rows[1]

    def seed(self, high: np.ndarray, low: np.ndarray, close: np.ndarray) -> None:
        """Feed ``(bars, k)`` histories through the update step."""
        kk = self._k
        h = check_history("high", high, kk)
        lo, cl = check_history("low", low, kk), check_history("close", close, kk)
        _same_bars(h, lo, cl)
        c.adx_feed(self._st, h, lo, cl, self._p)


class StochState(StreamState):
    """Streaming :func:`~engine.indicators.stoch`; :attr:`value` is slow %K."""

    __slots__ = ("_fk", "_sd", "_sk")

    def __init__(self, k: int, fastk: int = 14, slowk: int = 3, slowd: int = 3) -> None:
        """State for ``k`` symbols (rings of highs, lows, fast and slow %K)."""
        self._fk = check_period("fastk", fastk)
        self._sk = check_period("slowk", slowk)
        self._sd = check_period("slowd", slowd)
        rows = c.S_RING + 2 * self._fk + self._sk + self._sd
        super().__init__(k, rows, self._fk + self._sk + self._sd - 3, out_rows=2)

    @property
    def slowk(self) -> np.ndarray:
        """Slow %K per symbol."""
        return self._view(1)

    @property
    def slowd(self) -> np.ndarray:
        """Slow %D per symbol."""
        return self._view(c.S_D)

    def update(self, high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
        """Advance all symbols by one bar; returns slow %K."""
        kk = self._k
        h, lo, cl = (
            check_bar("high", high, kk),
            check_bar("low", low, kk),
            check_bar("close", close, kk),
        )
        c.stoch_update(self._st, h, lo, cl, self._fk, self._sk, self._sd)
        return self._rows[1]

    def seed(self, high: np.ndarray, low: np.ndarray, close: np.ndarray) -> None:
        """Feed ``(bars, k)`` histories through the update step."""
        kk = self._k
        h = check_history("high", high, kk)
        lo, cl = check_history("low", low, kk), check_history("close", close, kk)
        _same_bars(h, lo, cl)
        c.stoch_feed(self._st, h, lo, cl, self._fk, self._sk, self._sd)


class ObvState(StreamState):
    """Streaming :func:`~engine.indicators.obv` for K symbols."""

    __slots__ = ()

    def __init__(self, k: int) -> None:
        """State for ``k`` symbols."""
        super().__init__(k, osc.OBV_ROWS, 0)

    def update(self, close: np.ndarray, volume: np.ndarray) -> np.ndarray:
        """Advance all symbols by one bar."""
        cl, v = check_bar("close", close, self._k), check_bar("volume", volume, self._k)
        osc.obv_update(self._st, cl, v)
        return self._rows[1]

    def seed(self, close: np.ndarray, volume: np.ndarray) -> None:
        """Feed ``(bars, k)`` histories through the update step."""
        cl, v = check_history("close", close, self._k), check_history("volume", volume, self._k)
        _same_bars(cl, v)
        osc.obv_feed(self._st, cl, v)


class VwapState(StreamState):
    """Streaming rolling :func:`~engine.indicators.vwap` for K symbols."""

    __slots__ = ("_p",)

    def __init__(self, period: int, k: int) -> None:
        """State for ``k`` symbols (rings of typical prices and volumes)."""
        self._p = check_period("period", period)
        super().__init__(k, b.V_RING + 2 * self._p, self._p - 1)

    def update(
        self, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray
    ) -> np.ndarray:
        """Advance all symbols by one bar."""
        kk = self._k
        h, lo = check_bar("high", high, kk), check_bar("low", low, kk)
        cl, v = check_bar("close", close, kk), check_bar("volume", volume, kk)
        b.vwap_update(self._st, h, lo, cl, v, self._p)
        return self._rows[1]

    def seed(
        self, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray
    ) -> None:
        """Feed ``(bars, k)`` histories through the update step."""
        kk = self._k
        h, lo = check_history("high", high, kk), check_history("low", low, kk)
        cl, v = check_history("close", close, kk), check_history("volume", volume, kk)
        _same_bars(h, lo, cl, v)
        b.vwap_feed(self._st, h, lo, cl, v, self._p)


def _same_bars(*arrays: np.ndarray) -> None:
    if len({x.shape[0] for x in arrays}) != 1:
        raise ValueError("histories must have the same number of bars")
