"""The indicator hub's parts per indicator: a :class:`Handle` is what a strategy holds, an
:class:`IndicatorGroup` is one (timeframe, kind, parameters) indicator over the
timeframe's symbols, streaming or preloaded (see :mod:`engine.indicator_hub`), and the
:class:`Cursor` is the preloaded row a timeframe's groups share."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["Batch", "Cursor", "Handle", "IndicatorGroup"]

Batch = Callable[[np.ndarray], tuple[np.ndarray, ...]]
"""A batch function over one symbol's closes giving the group's output rows."""


class Handle:
    """One symbol's view of a streaming indicator output row."""

    __slots__ = ("_column", "_group", "_row")

    def __init__(self, group: IndicatorGroup, column: int, row: int = 0) -> None:
        self._group = group
        self._column = column
        self._row = row

    @property
    def value(self) -> float:
        """Latest value, NaN until ready."""
        group = self._group
        if group.columns is not None:
            cursor = group.cursor
            return group.columns[self._row][self._column][cursor.at - cursor.base]
        return float(group.outputs[self._row][self._column])

    @property
    def ready(self) -> bool:
        """True once past the lookback."""
        group = self._group
        if group.ready_from is not None:
            return group.cursor.at >= group.ready_from[self._column]
        state = group.state
        return state is not None and bool(state.ready[self._column])

    def __repr__(self) -> str:
        return f"Handle({self._group.key}, col={self._column}, value={self.value})"


class Cursor:
    """The preloaded row every indicator of a timeframe is at (one object they share, so a
    bar time moves them all with one store), and the row the window of lists starts at."""

    __slots__ = ("at", "base")

    def __init__(self) -> None:
        self.at = 0
        self.base = 0


class IndicatorGroup:
    """One (timeframe, kind, params) indicator over the timeframe's symbols."""

    def __init__(self, key: tuple[Any, ...], factory: Callable[[int], Any],
                 rows: tuple[str, ...], batch: Batch, cursor: Cursor) -> None:
        self.key = key
        self.cursor = cursor
        self.factory = factory
        self.rows = rows
        self.batch = batch
        self.state: Any = None
        self.outputs: list[np.ndarray] = [np.full(1, np.nan) for _ in rows]
        # Preloaded (backtests): per output row and symbol the values of every bar time
        # (row 0 is a NaN row: the value before the first bar time), as arrays and, for
        # the window from ``cursor.base``, as lists; per symbol the first row that is past
        # the lookback; ``cursor.at`` is the row now.
        self.arrays: list[list[np.ndarray]] = []
        self.columns: list[list[list[float]]] | None = None
        self.ready_from: list[int] | None = None

    def build(self, k: int) -> None:
        self.state = self.factory(k)
        # Read-only views into the state: they follow every update without copying.
        self.outputs = [getattr(self.state, row) for row in self.rows]

    def advance(self, closes: np.ndarray) -> None:
        self.state.update(closes)

    def preload(self, closes: np.ndarray) -> None:
        """Compute every bar time's outputs from the ``(T, K)`` closes now."""
        lookback = self.factory(1).lookback
        outputs = [self.batch(np.ascontiguousarray(closes[:, j]))
                   for j in range(closes.shape[1])]
        self.arrays = [[np.concatenate(([math.nan], out[r])) for out in outputs]
                       for r in range(len(self.rows))]
        valid = ~np.isnan(closes)
        first = np.where(valid.any(axis=0), valid.argmax(axis=0), len(closes))
        self.ready_from = (first + lookback + 1).tolist()

    def window(self, lo: int, hi: int) -> None:
        """The preloaded values of rows ``lo`` to ``hi`` (inclusive) as lists."""
        self.columns = [[a[lo:hi + 1].tolist() for a in row] for row in self.arrays]

    def stream_from(self, history: np.ndarray) -> None:
        """Leave the preloaded values: seed the streaming state with ``history``."""
        self.columns = self.ready_from = None
        self.arrays = []
        if len(history):
            self.state.seed(history)
        self.outputs = [getattr(self.state, row) for row in self.rows]
