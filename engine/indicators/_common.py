"""Small numba helpers shared by the batch kernels.

The batch kernels reproduce the TA-Lib Python wrapper's framing: leading bars
that are NaN (in any input) are skipped, the C routine runs on the rest, and the
output carries a NaN prefix of ``first_valid + lookback`` bars. When every bar is
NaN the wrapper runs on the last bar alone; :func:`first_valid1` and friends
return ``n - 1`` in that case for the same reason.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["U1", "fill_nan", "first_valid1", "first_valid2", "first_valid3", "first_valid4"]

U1 = np.uint64(1)
"""Unsigned one. Hot loops index with ``np.uint64`` so numba emits no
negative-index wraparound code (which costs ~40% on a tight recurrence)."""


@njit(cache=True, nogil=True, error_model="numpy")
def first_valid1(a: np.ndarray) -> int:  # pragma: no cover - compiled
    """Index of the first non-NaN value of ``a`` (``len(a) - 1`` if none, 0 if empty)."""
    n = a.shape[0]
    for i in range(n):
        if a[i] == a[i]:
            return int(i)
    return int(max(n - 1, 0))


@njit(cache=True, nogil=True, error_model="numpy")
def first_valid2(a: np.ndarray, b: np.ndarray) -> int:  # pragma: no cover - compiled
    """Index of the first bar where neither input is NaN (``n - 1`` if none)."""
    n = a.shape[0]
    for i in range(n):
        if a[i] == a[i] and b[i] == b[i]:
            return int(i)
    return int(max(n - 1, 0))


@njit(cache=True, nogil=True, error_model="numpy")
def first_valid3(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> int:  # pragma: no cover
    """Index of the first bar where no input is NaN (``n - 1`` if none)."""
    n = a.shape[0]
    for i in range(n):
        if a[i] == a[i] and b[i] == b[i] and c[i] == c[i]:
            return int(i)
    return int(max(n - 1, 0))


@njit(cache=True, nogil=True, error_model="numpy")
def first_valid4(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray
) -> int:  # pragma: no cover - compiled
    """Index of the first bar where no input is NaN (``n - 1`` if none)."""
    n = a.shape[0]
    for i in range(n):
        if a[i] == a[i] and b[i] == b[i] and c[i] == c[i] and d[i] == d[i]:
            return int(i)
    return int(max(n - 1, 0))


@njit(cache=True, nogil=True, error_model="numpy")
def fill_nan(out: np.ndarray, stop: int) -> None:  # pragma: no cover - compiled
    """Write NaN into ``out[:stop]`` (clamped to the array)."""
    m = min(stop, out.shape[0])
    for i in range(m):
        out[i] = np.nan
