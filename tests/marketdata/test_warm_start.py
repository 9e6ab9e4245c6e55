"""A warm start: history through the feed and the indicator hub leaves them exactly as
streaming the same bars live would, delivers none of it, and is stitched from its sources
in order (see ``engine.marketdata.warmup``). The real sources (price_data, the exchange)
are tested against a real PostgreSQL and the local exchange server in
``tests/gateways/test_warm_start_live.py``."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import pytest

from engine.bus import MessageBus
from engine.clock import SimClock
from engine.config import MarketDataConfig
from engine.ids import Symbol, Venue
from engine.indicator_hub import Handle, IndicatorHub
from engine.marketdata import MarketDataFeed
from engine.marketdata.recorded import read_file
from engine.marketdata.warmup import BASE_NS, plan_spans, warm_start
from engine.model import Bar

DATA = Path(__file__).resolve().parent.parent / "data"
BTC, XRP = Symbol("BTC/USD"), Symbol("XRP/ETH")
V = Venue("v")
T0 = 1_522_800_000_000_000_000  # 2018-04-04, a multiple of 15 minutes


def _real_bars(n: int = 1500) -> list[Bar]:
    """Real 1m bars of two symbols on one time axis (files' own OHLCV): BTC every minute,
    XRP from minute 40 and missing every 7th (the hub carries it at its last close)."""
    btc = read_file(DATA / "coinbase_btcusd_1m_2018-04-04_2018-04-06.csv.gz").columns
    xrp = read_file(DATA / "binance_xrpeth_1m_2019-10-11_2019-10-13.csv.gz").columns
    keys = ("open", "high", "low", "close", "volume")
    bars = []
    for i in range(n):
        ts = T0 + i * BASE_NS
        bars.append(Bar(V, BTC, "1m", ts, *(float(btc[k][i]) for k in keys)))
        if i >= 40 and i % 7:
            bars.append(Bar(V, XRP, "1m", ts, *(float(xrp[k][i]) for k in keys)))
    return bars


class _Engine:
    """A feed and an indicator hub wired as the live engine wires them, recording what
    reaches the strategies: each bar with the indicators' values when it arrives."""

    def __init__(self) -> None:
        self.clock = SimClock(T0)
        self.bus = MessageBus()
        self.feed = MarketDataFeed(self.bus, self.clock, MarketDataConfig(
            symbols=[BTC, XRP], timeframes=["1m", "5m", "15m"]))
        self.delivered: list[tuple[str, str, int, tuple[float, ...]]] = []
        self.hub = IndicatorHub(self._record)
        self.handles: list[Handle] = [
            self.hub.ema(BTC, "1m", 20), self.hub.rsi(XRP, "1m", 14),
            self.hub.ema(BTC, "5m", 12), *self.hub.bbands(XRP, "15m", 20),
            self.hub.zscore(XRP, "5m", 30)]
        self.bus.subscribe(Bar, self.hub.on_bar)

    def _record(self, bar: Bar) -> None:
        values = tuple(h.value if h.ready else math.nan for h in self.handles)
        self.delivered.append((bar.symbol, bar.timeframe, bar.ts_ns, values))

    def stream(self, bars: list[Bar]) -> None:
        for bar in bars:
            self.clock.advance_to(max(self.clock.now_ns(), bar.ts_ns + BASE_NS))
            self.feed.on_bar(bar)

    def rings(self) -> dict[tuple[str, str], list[float]]:
        return {(s, tf): ring.close().tolist() for s, st in self.feed.states.items()
                for tf, ring in st.rings.items()}


class _Listed:
    """A history source over a list of bars (what a source returns is all that matters to
    the stitching; the real ones are tested against real servers)."""

    def __init__(self, name: str, bars: list[Bar], fail: bool = False,
                 concurrency: int = 1) -> None:
        self.name, self.bars, self.fail, self.concurrency = name, bars, fail, concurrency
        self.asked: list[tuple[str, int, int]] = []

    async def history(self, symbol: str, start_ns: int, end_ns: int) -> list[Bar]:
        self.asked.append((symbol, start_ns, end_ns))
        if self.fail:
            raise ConnectionError("connection refused")
        return [b for b in self.bars if b.symbol == symbol and start_ns <= b.ts_ns < end_ns]


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return a[:3] == b[:3] and all(x == y or (math.isnan(x) and math.isnan(y))
                                  for x, y in zip(a[3], b[3], strict=True))


@pytest.mark.parametrize(("cut", "chunk"), [(1, 20_000), (333, 20_000), (1000, 20_000),
                                           (1000, 7)])
def test_warming_on_history_equals_streaming_it(cut: int, chunk: int,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Also when the hub gets the history in chunks (the loop turns between them)."""
    monkeypatch.setattr("engine.marketdata.warmup.CHUNK_BARS", chunk)
    bars = _real_bars()
    split = next(i for i, b in enumerate(bars) if b.ts_ns >= T0 + cut * BASE_NS)
    streamed = _Engine()
    streamed.stream(bars)
    warmed = _Engine()
    now = bars[split].ts_ns
    warmed.clock.advance_to(now)
    report = asyncio.run(warm_start(warmed.feed, warmed.hub, [_Listed("price_data", bars[:split])],
                                    {BTC: cut, XRP: cut}, now_ns=now, timeout_s=5.0))
    assert report.bars[BTC] == {"price_data": cut} and report.failures == []
    assert warmed.delivered == []  # history reaches no strategy
    warmed.stream(bars[split:])

    live = {d[:3] for d in warmed.delivered}
    assert all(ts >= bars[split].ts_ns for _, tf, ts, _ in warmed.delivered if tf == "1m")
    expected = [d for d in streamed.delivered if d[:3] in live]
    assert len(expected) == len(warmed.delivered) > 0
    assert all(_same(a, b) for a, b in zip(expected, warmed.delivered, strict=True))
    assert warmed.rings() == streamed.rings()
    # the 15m bands are ready from the first live bar when the history covers them
    if cut >= 15 * 21:
        assert not math.isnan(warmed.delivered[0][3][3])


def test_history_bars_are_checked_and_a_live_repeat_is_a_duplicate() -> None:
    engine = _Engine()
    good = [Bar(V, BTC, "1m", T0 + i * BASE_NS, 10.0, 11.0, 9.0, 10.5, 1.0) for i in range(3)]
    broken = Bar(V, BTC, "1m", T0 + 3 * BASE_NS, 10.0, 9.0, 11.0, 10.5, 1.0)  # high < low
    engine.clock.advance_to(T0 + 10 * BASE_NS)
    closed = engine.feed.warm([*good, broken])
    assert [b.ts_ns for b in closed] == [b.ts_ns for b in good]
    assert engine.feed.bad.total == 1
    published: list[Bar] = []
    engine.bus.subscribe(Bar, published.append)
    engine.feed.on_bar(good[-1])  # the stream repeats the last history bar
    assert engine.feed.duplicate_bars == 1 and published == []


def test_spans_cover_the_longest_period_of_each_timeframe_in_1m_bars() -> None:
    longest = {"1m": 20, "1h": 50, "5m": 7}
    symbols = {"1m": ["A", "B"], "1h": ["B"], "5m": ["C"]}
    assert plan_spans(longest, symbols.__getitem__, periods=3, max_bars=100_000) == {
        "A": 60, "B": 9000, "C": 105}
    assert plan_spans(longest, symbols.__getitem__, periods=3, max_bars=5000) == {
        "A": 60, "B": 5000, "C": 105}
    assert plan_spans(longest, symbols.__getitem__, periods=0, max_bars=5000) == {}
    # and the bars strategies read from their rings (Strategy.history_bars), in 1m bars
    rings = {"A": {"1h": 2}, "C": {"1m": 10}, "D": {"15m": 4}}
    assert plan_spans(longest, symbols.__getitem__, periods=3, max_bars=100_000,
                      rings=rings) == {"A": 120, "B": 9000, "C": 105, "D": 60}


def test_each_source_fills_what_those_before_it_left() -> None:
    """The exchange first (it keeps only its latest 250 candles here), then price_data for
    the older part; a failing source in between is reported and skipped."""
    bars = [b for b in _real_bars(600) if b.symbol == BTC]
    now = bars[-1].ts_ns + BASE_NS  # the bar at now - 1m has closed
    exchange = _Listed("exchange", bars[350:])
    broken = _Listed("other", [], fail=True)
    recorded = _Listed("price_data", bars[:400])
    engine = _Engine()
    engine.clock.advance_to(now)
    resumed: list[tuple[str, int]] = []
    report = asyncio.run(warm_start(
        engine.feed, engine.hub, [exchange, broken, recorded], {BTC: 500}, now_ns=now,
        timeout_s=5.0, resume=lambda s, ts: resumed.append((s, ts))))
    start = now - 500 * BASE_NS
    assert exchange.asked == [(BTC, start, now)]
    assert recorded.asked == [(BTC, start, bars[350].ts_ns)]  # before the exchange's first
    assert report.bars == {BTC: {"exchange": 250, "price_data": 250}}
    assert report.failures == ["other BTC/USD: connection refused"]
    assert resumed == [(BTC, bars[-1].ts_ns)] and report.resumed == [BTC]
    ring = engine.feed.bars(BTC, "1m")
    assert ring.ts().tolist() == [b.ts_ns for b in bars[100:]]
    assert engine.handles[0].ready and engine.delivered == []


def test_a_source_that_covers_the_span_leaves_nothing_to_ask() -> None:
    bars = [b for b in _real_bars(300) if b.symbol == BTC]
    now = bars[-1].ts_ns + BASE_NS
    exchange, recorded = _Listed("exchange", bars), _Listed("price_data", bars)
    engine = _Engine()
    engine.clock.advance_to(now)
    report = asyncio.run(warm_start(engine.feed, engine.hub, [exchange, recorded], {BTC: 200},
                                    now_ns=now, timeout_s=5.0))
    assert report.bars == {BTC: {"exchange": 200}} and recorded.asked == []


def test_a_history_ending_long_before_now_is_not_resumed_from() -> None:
    bars = [b for b in _real_bars(100) if b.symbol == BTC]
    now = bars[-1].ts_ns + 60 * BASE_NS  # an hour after the last bar
    engine = _Engine()
    engine.clock.advance_to(now)
    resumed: list[tuple[str, int]] = []
    report = asyncio.run(warm_start(
        engine.feed, engine.hub, [_Listed("price_data", bars)], {BTC: 200}, now_ns=now,
        timeout_s=5.0, resume=lambda s, ts: resumed.append((s, ts))))
    # a gateway backfilling the hour would hand it to the strategies as live bars
    assert resumed == [] and report.resumed == []
    assert report.bars == {BTC: {"price_data": 100}}


class _Hanging:
    name = "exchange"
    concurrency = 4

    async def history(self, symbol: str, start_ns: int, end_ns: int) -> list[Bar]:
        await asyncio.sleep(30)
        return []


def test_the_timeout_bounds_all_reads_together() -> None:
    """A service manager waits for the start: a source that hangs costs the budget once,
    not once per symbol and source, and the engine starts with what it has."""
    bars = [b for b in _real_bars(100) if b.symbol == BTC]
    now = bars[-1].ts_ns + BASE_NS
    engine = _Engine()
    engine.clock.advance_to(now)

    async def run() -> tuple[Any, float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        report = await warm_start(engine.feed, engine.hub,
                                  [_Hanging(), _Listed("price_data", bars)],
                                  {BTC: 50, XRP: 50}, now_ns=now, timeout_s=0.3)
        return report, loop.time() - started

    report, took = asyncio.run(run())
    assert took < 2.0
    assert report.failures == ["exchange BTC/USD: timed out", "price_data BTC/USD: timed out",
                               "exchange XRP/ETH: timed out", "price_data XRP/ETH: timed out"]


def test_an_indicator_asked_for_after_a_warm_start_is_seeded_from_its_history() -> None:
    """A strategy reloaded (or added) once the engine runs asks for new indicators: they
    are seeded from the bar times the hub advanced, the warm history included."""
    bars = _real_bars(400)
    now = bars[-1].ts_ns + BASE_NS
    warmed = _Engine()
    warmed.clock.advance_to(now)
    asyncio.run(warm_start(warmed.feed, warmed.hub, [_Listed("price_data", bars)],
                           {BTC: 400, XRP: 400}, now_ns=now, timeout_s=5.0))
    late = warmed.hub.ema(BTC, "1m", 30), warmed.hub.rsi(XRP, "5m", 9)
    streamed = _Engine()
    from_start = streamed.hub.ema(BTC, "1m", 30), streamed.hub.rsi(XRP, "5m", 9)
    streamed.stream(bars)
    streamed.hub.flush()
    assert all(h.ready for h in late)
    assert [h.value for h in late] == [h.value for h in from_start]


class _Slow(_Listed):
    """Each read takes a while: how many are in flight at once is what it records."""

    in_flight = most = 0

    async def history(self, symbol: str, start_ns: int, end_ns: int) -> list[Bar]:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(0.05)
            return await super().history(symbol, start_ns, end_ns)
        finally:
            self.in_flight -= 1


def test_symbols_are_read_at_once_and_land_as_if_read_one_by_one() -> None:
    """An exchange's history requests are round trips: several symbols in flight fill the
    waits. How many at once is the source's own limit, and the feed and the indicators get
    the same history in the same order whatever it is."""
    bars = _real_bars(400)
    now = bars[-1].ts_ns + BASE_NS
    outcomes = []
    for concurrency in (1, 2):
        engine = _Engine()
        engine.clock.advance_to(now)
        exchange = _Slow("exchange", [b for b in bars if b.ts_ns >= bars[250].ts_ns],
                         concurrency=concurrency)
        stored = _Slow("price_data", bars, concurrency=concurrency)
        report = asyncio.run(warm_start(engine.feed, engine.hub, [exchange, stored],
                                        {BTC: 300, XRP: 300}, now_ns=now, timeout_s=5.0))
        assert exchange.most == stored.most == concurrency
        outcomes.append((report.as_dict(), engine.rings(),
                         [repr(h.value) if h.ready else None for h in engine.handles]))
    assert outcomes[0] == outcomes[1]
    # the exchange gave the newest bars of each symbol, price_data the older rest
    for counts in outcomes[0][0]["bars"].values():
        assert counts["exchange"] > 0 and counts["price_data"] > 0
