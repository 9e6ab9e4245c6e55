"""Per-symbol, per-timeframe ring buffers of closed bars, read without copying.

Each column is stored twice in an array of ``2 x capacity`` (every value written at ``i``
and ``i + capacity``), so the most recent ``n`` values are always one contiguous slice.
Readers get read-only numpy views of that slice: no copy, no wrap-around arithmetic, and
numba kernels can take them directly. A view stays valid until ``capacity`` more bars have
been appended; take ``.copy()`` to keep values longer.

Appending only queues the bar: the columns are written, in one vectorised step, when they
are next read; bars queued more than a ring's worth ago are dropped unwritten (they would
be overwritten). A bar costs a list append unless someone reads the ring, which most bars
of a backtest never are.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from engine.model import Bar

__all__ = ["BarRing"]

_COLUMNS: Final = ("open", "high", "low", "close", "volume", "vwap")


class BarRing:
    """The last ``capacity`` closed bars of one symbol and timeframe, as columns."""

    __slots__ = ("_count", "_data", "_num_trades", "_queued", "_trim_at", "_ts", "capacity",
                 "last")

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"ring capacity must be > 0, got {capacity}")
        self.capacity = capacity
        self._data = np.full((len(_COLUMNS), 2 * capacity), np.nan)
        self._ts = np.zeros(2 * capacity, dtype=np.int64)
        self._num_trades = np.zeros(2 * capacity, dtype=np.int64)
        self._count = 0
        self._queued: list[Bar] = []  # appended, not yet written to the columns
        self._trim_at = 2 * capacity
        self.last: Bar | None = None
        """The most recent bar appended."""

    def __len__(self) -> int:
        return min(self._count, self.capacity)

    @property
    def total(self) -> int:
        """Bars appended since creation (including those overwritten)."""
        return self._count

    def append(self, bar: Bar) -> None:
        """Add a closed bar (the caller guarantees time order)."""
        queued = self._queued
        queued.append(bar)
        self._count += 1
        self.last = bar
        if len(queued) >= self._trim_at:
            # Unread: only the newest ring's worth can ever be seen; drop the rest unwritten.
            del queued[:-self.capacity]

    def _write_queued(self) -> None:
        queued = self._queued
        if not queued:
            return
        cap = self.capacity
        keep = queued[-cap:]  # older ones would be overwritten anyway
        m = len(keep)
        cols = np.array([[b.open for b in keep], [b.high for b in keep],
                         [b.low for b in keep], [b.close for b in keep],
                         [b.volume for b in keep], [b.vwap for b in keep]])
        ts = np.array([b.ts_ns for b in keep], dtype=np.int64)
        trades = np.array([b.num_trades for b in keep], dtype=np.int64)
        start = (self._count - m) % cap
        # Every value of slot k lives at k and k + cap. The run starts at slot ``start``;
        # when it passes the end (slot cap - 1) it goes on at slot 0.
        head = min(m, cap - start)  # values before the wrap
        pieces = [(start, 0, m), (start + cap, 0, head)]  # (position, from, to)
        if head < m:
            pieces.append((0, head, m))
        for at, lo, hi in pieces:
            self._data[:, at:at + hi - lo] = cols[:, lo:hi]
            self._ts[at:at + hi - lo] = ts[lo:hi]
            self._num_trades[at:at + hi - lo] = trades[lo:hi]
        queued.clear()

    def _window(self, n: int | None) -> slice:
        size = len(self)
        n = size if n is None else min(n, size)
        end = (self._count - 1) % self.capacity + self.capacity + 1 if self._count else 0
        return slice(end - n, end)

    def _view(self, column: npt.NDArray[np.generic], n: int | None) -> npt.NDArray[np.generic]:
        if self._queued:
            self._write_queued()
        view = column[self._window(n)]
        view.flags.writeable = False
        return view

    def ts(self, n: int | None = None) -> npt.NDArray[np.int64]:
        """Open times (ns) of the last ``n`` bars (all held when None), oldest first."""
        return self._view(self._ts, n)  # type: ignore[return-value]

    def num_trades(self, n: int | None = None) -> npt.NDArray[np.int64]:
        """Trade counts of the last ``n`` bars."""
        return self._view(self._num_trades, n)  # type: ignore[return-value]

    def column(self, name: str, n: int | None = None) -> npt.NDArray[np.float64]:
        """One of ``open high low close volume vwap`` for the last ``n`` bars."""
        return self._view(self._data[_COLUMNS.index(name)], n)  # type: ignore[return-value]

    def open(self, n: int | None = None) -> npt.NDArray[np.float64]:
        """Opens of the last ``n`` bars."""
        return self.column("open", n)

    def high(self, n: int | None = None) -> npt.NDArray[np.float64]:
        """Highs of the last ``n`` bars."""
        return self.column("high", n)

    def low(self, n: int | None = None) -> npt.NDArray[np.float64]:
        """Lows of the last ``n`` bars."""
        return self.column("low", n)

    def close(self, n: int | None = None) -> npt.NDArray[np.float64]:
        """Closes of the last ``n`` bars."""
        return self.column("close", n)

    def volume(self, n: int | None = None) -> npt.NDArray[np.float64]:
        """Volumes of the last ``n`` bars."""
        return self.column("volume", n)
