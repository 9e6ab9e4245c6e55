"""Base class of the streaming indicator objects (state for K symbols)."""

from __future__ import annotations

import numpy as np

from engine.indicators._validate import check_period

__all__ = ["StreamState", "check_bar", "check_history"]


_F64 = np.dtype(np.float64)


def check_bar(name: str, values: object, k: int) -> np.ndarray:
    """Validate one bar for K symbols: a float64 array of shape ``(k,)``.

    Kept cheap, it runs on every update: exact type, dtype identity, ndim and
    length (a strided view is fine: numba compiles a strided variant).
    """
    if (
        type(values) is not np.ndarray
        or values.dtype is not _F64
        or values.ndim != 1
        or len(values) != k
    ):
        if isinstance(values, np.ndarray) and values.dtype == _F64 and values.shape == (k,):
            return np.asarray(values, dtype=_F64)
        raise ValueError(f"{name} must be a float64 array of shape ({k},)")
    return values


def check_history(name: str, values: object, k: int) -> np.ndarray:
    """Validate a history: float64 ``(bars, k)``, or ``(bars,)`` when ``k == 1``."""
    if not isinstance(values, np.ndarray) or values.dtype != np.float64:
        raise ValueError(f"{name} must be a float64 array")
    if values.ndim == 1 and k == 1:
        values = values.reshape(-1, 1)
    if values.ndim != 2 or values.shape[1] != k:
        raise ValueError(f"{name} must have shape (bars, {k}), got {values.shape}")
    return np.ascontiguousarray(values)


class StreamState:
    """State arrays of one indicator kind and parameter set for K symbols.

    Subclasses define the kernel calls. All state is one C-ordered float64 array
    of shape ``(rows, K)`` (row 0 counts consumed bars, row 1 is the value), so
    :meth:`snapshot` / :meth:`restore` persist and reload it exactly: a restart
    that restores a snapshot continues bit for bit where it stopped, without
    the history.
    """

    __slots__ = ("_k", "_lookback", "_rows", "_st")

    def __init__(self, k: int, rows: int, lookback: int, out_rows: int = 1) -> None:
        """Allocate zeroed state for ``k`` symbols; value rows start as NaN."""
        self._k = check_period("k", k)
        self._lookback = lookback
        self._st = np.zeros((rows, self._k), dtype=np.float64)
        self._st[1 : 1 + out_rows] = np.nan
        self._rows: list[np.ndarray] = []
        for r in range(rows):
            view = self._st[r]
            view.flags.writeable = False
            self._rows.append(view)

    @property
    def k(self) -> int:
        """Number of symbols."""
        return self._k

    @property
    def lookback(self) -> int:
        """TA-Lib lookback: values are NaN until more than this many bars arrived."""
        return self._lookback

    @property
    def value(self) -> np.ndarray:
        """Current value per symbol (NaN until ready); a read-only live view."""
        return self._rows[1]

    @property
    def count(self) -> np.ndarray:
        """Bars consumed per symbol (leading NaN bars are not counted)."""
        counts: np.ndarray = self._st[0].astype(np.int64)
        return counts

    @property
    def ready(self) -> np.ndarray:
        """Per symbol: whether ``value`` is past TA-Lib's lookback."""
        out: np.ndarray = self._st[0] > self._lookback
        return out

    def snapshot(self) -> np.ndarray:
        """A copy of the complete state (for persistence across restarts)."""
        return self._st.copy()

    def restore(self, snapshot: np.ndarray) -> None:
        """Load a state produced by :meth:`snapshot` of an identical object."""
        if not isinstance(snapshot, np.ndarray) or snapshot.shape != self._st.shape:
            raise ValueError(f"snapshot must have shape {self._st.shape}")
        if snapshot.dtype != np.float64:
            raise ValueError("snapshot must have dtype float64")
        self._st[...] = snapshot

    def _view(self, row: int) -> np.ndarray:
        return self._rows[row]

    def __repr__(self) -> str:
        """Kind, symbol count and how many symbols are ready."""
        return f"{type(self).__name__}(k={self._k}, ready={int(self.ready.sum())})"
