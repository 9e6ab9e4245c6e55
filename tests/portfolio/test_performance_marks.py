"""The performance tracker's cheap marks (day kept as a ns range, drawdown computed only
below a floor) give exactly the figures of the plain computation on every mark."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.model import NS_PER_S
from engine.portfolio.performance import DAY_NS, PerformanceDay, PerformanceTracker, day_of

T0 = 1_700_000_000 * NS_PER_S


def plain_on_equity(self: PerformanceTracker, ts_ns: int,
                    equity: Decimal) -> PerformanceDay | None:
    """Every mark computed in full, as before the floor existed (a function on the tracker
    rather than a subclass: the compiled build's tracker is a native class)."""
    closed = None
    today = datetime.fromtimestamp(ts_ns // DAY_NS * 86_400, tz=UTC).date()
    if self.day is None:
        self.day = today
        self.day_start_equity = self.last_equity
    elif today != self.day:
        closed = self._close_day(ts_ns)
        self.day = today
    self.last_equity = equity
    if equity > self.hwm:
        self.hwm = equity
    dd = (self.hwm - equity) / self.hwm * 100 if self.hwm > 0 else Decimal(0)
    if dd > self.max_drawdown_pct:
        self.max_drawdown_pct = dd
    if dd > self.day_max_dd:
        self.day_max_dd = dd
    self.curve.append((ts_ns, equity))
    return closed


@settings(max_examples=200, deadline=None)
@given(moves=st.lists(st.tuples(st.sampled_from([1, 60, 3600, 9 * 3600, -60]),
                                st.integers(min_value=-300, max_value=300)),
                      min_size=1, max_size=120))
def test_marks_match_the_plain_computation(moves: list[tuple[int, int]]) -> None:
    start = Decimal(10_000)
    fast, plain = PerformanceTracker(start), PerformanceTracker(start)
    ts, equity = T0, start
    for step_s, bps in moves:
        ts += step_s * NS_PER_S
        equity = equity * (10_000 + bps) / 10_000
        assert fast.on_equity(ts, equity) == plain_on_equity(plain, ts, equity)
        assert (fast.max_drawdown_pct, fast.day_max_dd, fast.hwm, fast.day) == (
            plain.max_drawdown_pct, plain.day_max_dd, plain.hwm, plain.day)


def test_day_of_matches_the_calendar() -> None:
    for ts in (0, T0, T0 - T0 % DAY_NS, T0 - T0 % DAY_NS - 1, -1, 4_102_444_800 * NS_PER_S):
        assert day_of(ts) == datetime.fromtimestamp(ts // DAY_NS * 86_400, tz=UTC).date()
