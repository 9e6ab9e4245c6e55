"""Small numpy helpers shared by the engine's array code."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["sorted_unique"]


def sorted_unique(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The distinct values in ascending order: ``np.unique`` for timestamps, without its
    hash path (numpy 2.4 takes over a second for a million int64 nanosecond times; a sort,
    skipped when already sorted, and a mask take milliseconds)."""
    if len(values) > 1 and not bool(np.all(values[1:] >= values[:-1])):
        values = np.sort(values, kind="stable")
    if len(values) < 2:
        return values.copy()
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]
