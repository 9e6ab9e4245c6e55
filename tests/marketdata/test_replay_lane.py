"""A replay lane leaves the feed exactly as ``on_bar`` for every bar would."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.bus import MessageBus
from engine.clock import SimClock
from engine.config import MarketDataConfig
from engine.ids import Symbol, Venue
from engine.marketdata import MarketDataFeed
from engine.marketdata.replay_lane import good_bars
from engine.marketdata.validate import Reason, check_bar
from engine.model import Bar

V, S = Venue("bench"), Symbol("BTC/USDT")
T0 = 1_577_836_800_000_000_000
MIN = 60_000_000_000

# A bar is (minute offset, open, high, low, close, volume); the defaults make a good one.
GOOD = (1.0, 2.0, 0.5, 1.5, 3.0)
DEFECTS = [(math.nan, 2.0, 0.5, 1.5, 3.0), (1.0, 2.0, -0.5, 1.5, 3.0),
           (1.0, 2.0, 0.5, 1.5, -3.0), (1.0, 0.4, 0.5, 0.45, 3.0), (3.0, 2.0, 0.5, 1.5, 3.0),
           (1.0, math.inf, 0.5, 1.5, 3.0)]
steps = st.lists(st.tuples(st.sampled_from([1, 1, 1, 1, 2, 0, -1]),  # minutes forward
                           st.integers(0, len(DEFECTS) * 3)), min_size=1, max_size=60)


def _bars(plan: list[tuple[int, int]]) -> list[Bar]:
    out, minute = [], 100
    for step, defect in plan:
        minute += step
        values = DEFECTS[defect] if defect < len(DEFECTS) else GOOD
        out.append(Bar(V, S, "1m", T0 + minute * MIN, *values))
    return out


def _run(bars: list[Bar], lane: bool, timeframes: list[str]) -> tuple[object, ...]:
    clock = SimClock(T0)
    bus = MessageBus()
    seen: list[Bar] = []
    bus.subscribe(Bar, seen.append)
    feed = MarketDataFeed(bus, clock, MarketDataConfig(symbols=[S], timeframes=timeframes))
    push = feed.replay_lane("1m") if lane else None
    arrays = [np.array([getattr(b, k) for b in bars]) for k in
              ("open", "high", "low", "close", "volume")]
    ok = good_bars(*arrays).tolist()
    for bar, good in zip(bars, ok, strict=True):
        clock.advance_to(max(clock.now_ns(), bar.ts_ns + MIN))
        if push is None:
            feed.on_bar(bar)
        else:
            push.push(bar, good)
    if push is not None:
        push.finish()
    st_ = feed.states[S]
    rings = {tf: (len(r), r.total, r.close().tolist() if len(r) else []) for tf, r in
             st_.rings.items()}
    return (seen, dict(feed.counts), dict(feed.bad.counts), feed.duplicate_bars,
            dict(feed.bars_emitted), st_.bars_closed, st_.last_close, dict(st_.last_closed),
            st_.last_event_ns, rings)


@settings(max_examples=150, deadline=None)
@given(steps, st.sampled_from([["1m"], ["1m", "5m"]]))
@example([(1, 6), (1, 0), (1, 0), (-1, 6)], ["1m"])  # a bar behind the clock: event time
def test_lane_equals_on_bar(plan: list[tuple[int, int]], timeframes: list[str]) -> None:
    bars = _bars(plan)
    assert _run(bars, True, timeframes) == _run(bars, False, timeframes)


def test_array_check_agrees_with_check_bar() -> None:
    bars = _bars([(1, d) for d in range(len(DEFECTS) + 1)])
    arrays = [np.array([getattr(b, k) for b in bars]) for k in
              ("open", "high", "low", "close", "volume")]
    assert good_bars(*arrays).tolist() == [check_bar(b, 1 << 62) == Reason.OK for b in bars]
