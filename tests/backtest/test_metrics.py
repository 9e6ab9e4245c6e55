"""Backtest metrics against plain loops over the same curves."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.backtest.metrics import _max_drawdown


def _loop(equity: list[float], ts_s: list[float]) -> tuple[float, float]:
    peak, max_dd, longest, start = equity[0], 0.0, 0.0, None
    for i, value in enumerate(equity):
        peak = max(peak, value)
        if peak > 0:
            max_dd = max(max_dd, (peak - value) / peak)
        if value < peak:
            if start is None:
                start = ts_s[i - 1] if i else ts_s[i]
            longest = max(longest, ts_s[i] - start)
        else:
            start = None
    return max_dd, longest


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(90, 110), st.integers(1, 300)), min_size=1,
                max_size=80))
def test_drawdown_and_its_duration(points: list[tuple[int, int]]) -> None:
    equity = [float(v) for v, _ in points]
    ts_s = np.cumsum([float(dt) for _, dt in points]).tolist()
    got = _max_drawdown(np.array(equity), np.array(ts_s))
    want = _loop(equity, ts_s)
    assert got[1] == want[1]
    assert abs(got[0] - want[0]) < 1e-12
