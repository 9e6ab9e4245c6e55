"""Bar ring buffers: whatever the capacity and the pattern of appends and reads, a read
gives the last ``n`` bars appended, oldest first, as contiguous read-only views."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.ids import Symbol, Venue
from engine.marketdata.ringbuffer import BarRing
from engine.model import Bar


def _bar(i: int) -> Bar:
    return Bar(Venue("v"), Symbol("S"), "1m", i * 60, float(i), i + 1.0, i - 1.0, i + 0.5,
               2.0 * i, i * 0.1, i)


@settings(max_examples=200, deadline=None)
@given(capacity=st.integers(1, 40),
       steps=st.lists(st.tuples(st.integers(0, 90), st.integers(1, 40)), max_size=12))
def test_reads_give_the_last_bars_appended(capacity: int,
                                           steps: list[tuple[int, int]]) -> None:
    ring = BarRing(capacity)
    appended: list[Bar] = []
    for adds, n in steps:
        for _ in range(adds):
            bar = _bar(len(appended))
            ring.append(bar)
            appended.append(bar)
        expected = appended[-min(n, capacity):] if appended else []
        assert ring.close(n).tolist() == [b.close for b in expected]
        assert ring.open(n).tolist() == [b.open for b in expected]
        assert ring.ts(n).tolist() == [b.ts_ns for b in expected]
        assert ring.num_trades(n).tolist() == [b.num_trades for b in expected]
        assert ring.column("vwap", n).tolist() == [b.vwap for b in expected]
        assert ring.volume().tolist() == [b.volume for b in appended[-capacity:]]
        assert len(ring) == min(len(appended), capacity)
        assert ring.total == len(appended)
        assert ring.last is (appended[-1] if appended else None)


def test_views_are_read_only() -> None:
    ring = BarRing(4)
    ring.append(_bar(1))
    with pytest.raises(ValueError):
        ring.close()[0] = 3.0
