"""The indicator hub: preloaded (backtest) values equal streamed ones, bit for bit, and a
bar that differs from the preloaded data makes the hub stream on without a seam."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from engine.indicator_hub import WINDOW, Handle, IndicatorHub
from engine.marketdata.recorded import read_file
from engine.model import Bar

DATA = Path(__file__).resolve().parent.parent / "data"
BTC, XRP = "BTC/USD", "XRP/ETH"


def _two_symbols(n: int = 1500, symbols: tuple[str, ...] = (BTC, XRP)) -> list[Bar]:
    """Real 1m bars of two symbols on one time axis: BTC from the start, XRP joining later
    and missing every 7th minute (carried at its last close). Past the files' two days
    the closes start over (``n`` beyond the hub's list window)."""
    btc = read_file(DATA / "coinbase_btcusd_1m_2018-04-04_2018-04-06.csv.gz").columns["close"]
    xrp = read_file(DATA / "binance_xrpeth_1m_2019-10-11_2019-10-13.csv.gz").columns["close"]
    t0 = 1_522_800_000_000_000_000
    bars = []
    for i in range(n):
        ts = t0 + i * 60_000_000_000
        if BTC in symbols:
            bars.append(Bar("v", BTC, "1m", ts, 1.0, 1.0, 1.0, float(btc[i % len(btc)]), 1.0))  # type: ignore[arg-type]
        if XRP in symbols and i >= 40 and i % 7:
            bars.append(Bar("v", XRP, "1m", ts, 1.0, 1.0, 1.0, float(xrp[i % len(xrp)]), 1.0))  # type: ignore[arg-type]
    return bars


def _hub(symbols: tuple[str, ...] = (BTC, XRP)
         ) -> tuple[IndicatorHub, list[Handle], list[tuple[str, int]]]:
    seen: list[tuple[str, int]] = []
    hub = IndicatorHub(lambda bar: seen.append((bar.symbol, bar.ts_ns)))
    handles: list[Handle] = []
    for symbol in symbols:
        handles += [hub.ema(symbol, "1m", 10), hub.sma(symbol, "1m", 20),
                    hub.rsi(symbol, "1m", 14), hub.zscore(symbol, "1m", 30),
                    *hub.bbands(symbol, "1m", 20, 2.0)]
    return hub, handles, seen


def _snapshot(handles: list[Handle]) -> list[tuple[float, bool]]:
    return [(h.value, h.ready) for h in handles]


def _same(a: list[tuple[float, bool]], b: list[tuple[float, bool]]) -> bool:
    return all((x == y or (math.isnan(x) and math.isnan(y))) and r == s
               for (x, r), (y, s) in zip(a, b, strict=True))


def _series(bars: list[Bar]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for symbol in (BTC, XRP):
        mine = [b for b in bars if b.symbol == symbol]
        if not mine:
            continue
        out[symbol] = (np.array([b.ts_ns for b in mine], dtype=np.int64),
                       np.array([b.close for b in mine]))
    return out


def _run(hub: IndicatorHub, handles: list[Handle], bars: list[Bar]
         ) -> list[list[tuple[float, bool]]]:
    states = []
    for bar in bars:
        hub.on_bar(bar)
        states.append(_snapshot(handles))
    hub.flush()
    states.append(_snapshot(handles))
    return states


def test_preloaded_values_equal_streamed_values_bit_for_bit() -> None:
    bars = _two_symbols()
    streamed, s_handles, s_seen = _hub()
    preloaded, p_handles, p_seen = _hub()
    preloaded.preload("1m", _series(bars))
    expected = _run(streamed, s_handles, bars)
    got = _run(preloaded, p_handles, bars)
    assert p_seen == s_seen  # the same bars delivered in the same order
    assert all(_same(g, e) for g, e in zip(got, expected, strict=True))
    assert any(r for _, r in expected[-1])  # the comparison covered ready values
    assert preloaded._timeframes["1m"].grid_ts is not None  # it stayed on the preloaded path


def test_a_bar_missing_from_the_feed_makes_the_hub_stream_on_seamlessly() -> None:
    bars = _two_symbols()
    # The feed rejected one BTC bar, and another BTC bar arrives with a different close.
    dropped = next(i for i, b in enumerate(bars) if b.symbol == BTC and i > 600)
    fed = bars[:dropped] + bars[dropped + 1:]
    changed = next(i for i, b in enumerate(fed) if b.symbol == BTC and i > 900)
    old = fed[changed]
    fed[changed] = Bar(old.venue, old.symbol, old.timeframe, old.ts_ns, 1.0, 1.0, 1.0,
                       old.close * 1.01, 1.0)
    streamed, s_handles, s_seen = _hub()
    preloaded, p_handles, p_seen = _hub()
    preloaded.preload("1m", _series(bars))  # what the files said, not what was fed
    expected = _run(streamed, s_handles, fed)
    got = _run(preloaded, p_handles, fed)
    assert p_seen == s_seen
    assert all(_same(g, e) for g, e in zip(got, expected, strict=True))
    assert preloaded._timeframes["1m"].grid_ts is None  # it left the preloaded path


def test_a_bar_differing_early_falls_back_before_any_row() -> None:
    bars = _two_symbols()
    first = bars[0]
    fed = [Bar(first.venue, first.symbol, "1m", first.ts_ns, 1.0, 1.0, 1.0, 123.0, 1.0),  # type: ignore[arg-type]
           *bars[1:]]
    streamed, s_handles, _ = _hub()
    preloaded, p_handles, _ = _hub()
    preloaded.preload("1m", _series(bars))
    assert all(_same(g, e) for g, e in zip(_run(preloaded, p_handles, fed),
                                           _run(streamed, s_handles, fed), strict=True))


def test_preloaded_values_equal_streamed_across_list_windows() -> None:
    # two symbols (the general path) and one (the solo path), over three list windows
    for symbols in ((BTC, XRP), (BTC,)):
        bars = _two_symbols(2 * WINDOW + 300, symbols)
        streamed, s_handles, s_seen = _hub(symbols)
        preloaded, p_handles, p_seen = _hub(symbols)
        preloaded.preload("1m", _series(bars))
        expected = _run(streamed, s_handles, bars)
        got = _run(preloaded, p_handles, bars)
        assert p_seen == s_seen
        assert all(_same(g, e) for g, e in zip(got, expected, strict=True)), symbols
        tf = preloaded._timeframes["1m"]
        assert tf.grid_ts is not None and tf.lo == 2 * WINDOW  # moved through the windows
        assert (tf.solo is not None) == (len(symbols) == 1)


def test_a_bar_differing_in_a_later_window_streams_on_seamlessly() -> None:
    for symbols in ((BTC, XRP), (BTC,)):
        bars = _two_symbols(2 * WINDOW + 300, symbols)
        changed = next(i for i, b in enumerate(bars)
                       if b.symbol == BTC and b.ts_ns >= bars[0].ts_ns + (WINDOW + 17) * 60 * 10**9)
        fed = list(bars)
        old = fed[changed]
        fed[changed] = Bar(old.venue, old.symbol, old.timeframe, old.ts_ns, 1.0, 1.0, 1.0,
                           old.close * 0.99, 1.0)
        streamed, s_handles, _ = _hub(symbols)
        preloaded, p_handles, _ = _hub(symbols)
        preloaded.preload("1m", _series(bars))
        expected = _run(streamed, s_handles, fed)
        got = _run(preloaded, p_handles, fed)
        assert all(_same(g, e) for g, e in zip(got, expected, strict=True)), symbols
        assert preloaded._timeframes["1m"].grid_ts is None


def test_a_bad_parameter_or_timeframe_raises_when_requested_not_at_the_first_bar() -> None:
    """Raised in the strategy's on_start (its guard halts it), never later inside the hub
    where it would stop every strategy."""
    hub = IndicatorHub(lambda bar: None)
    with pytest.raises(ValueError, match="period must be >= 1, got 0"):
        hub.ema(BTC, "1m", 0)
    with pytest.raises(ValueError, match="bad timeframe '7q'"):
        hub.sma(BTC, "7q", 10)
    with pytest.raises(ValueError, match="timeframe '7m': bars are built from 1m bars"):
        hub.sma(BTC, "7m", 10)  # a timeframe the feed never builds: no bar would ever come
    with pytest.raises(ValueError, match="nbdev"):
        hub.bbands(BTC, "1m", 20, math.inf)
    assert hub.timeframes == []  # nothing half-registered
    handle = hub.ema(BTC, "1m", 3)
    for bar in _two_symbols(5, (BTC,)):
        hub.on_bar(bar)
    hub.flush()
    assert handle.ready


def test_indicators_requested_once_data_flows_equal_those_requested_at_the_start() -> None:
    """A reloaded or added strategy asks for its indicators while bars flow: a new
    indicator, and one on a symbol new to the timeframe (which widens every indicator of
    it), are seeded with the closes the hub advanced and then stream on, bit for bit what
    a hub asked for everything at the start gives (fewer than HISTORY bar times here)."""
    eth = "ETH/USD"
    bars = _two_symbols(900)
    cut = next(i for i, b in enumerate(bars) if b.ts_ns >= bars[0].ts_ns + 500 * 60 * 10**9)
    ethers = [Bar("v", eth, "1m", b.ts_ns, 1.0, 1.0, 1.0, b.close * 0.07, 1.0)  # type: ignore[arg-type]
              for b in bars[cut:] if b.symbol == BTC]
    later = sorted(bars[cut:] + ethers, key=lambda b: b.ts_ns)  # stable: BTC, XRP, ETH

    def late_requests(hub: IndicatorHub) -> list[Handle]:
        return [hub.ema(BTC, "1m", 7), hub.rsi(XRP, "1m", 9), hub.ema(eth, "1m", 5),
                *hub.bbands(eth, "1m", 10, 1.5)]

    def delivered(hub: IndicatorHub, handles: list[Handle], seen: dict[tuple[str, int], list[
            tuple[float, bool]]]) -> None:
        hub.deliver_to(lambda bar: seen.__setitem__((bar.symbol, bar.ts_ns),
                                                    _snapshot(handles)))

    reference, ref_handles, _ = _hub()
    ref_handles += late_requests(reference)
    expected: dict[tuple[str, int], list[tuple[float, bool]]] = {}
    delivered(reference, ref_handles, expected)
    for bar in bars[:cut] + later:
        reference.on_bar(bar)
    reference.flush()
    for preload in (False, True):
        hub, handles, _ = _hub()
        if preload:
            hub.preload("1m", _series(bars))  # the files said BTC and XRP only
        got: dict[tuple[str, int], list[tuple[float, bool]]] = {}
        delivered(hub, handles, got)
        for bar in bars[:cut]:
            hub.on_bar(bar)
        handles += late_requests(hub)
        for bar in later:
            hub.on_bar(bar)
        hub.flush()
        after = [key for key in expected if key[1] >= bars[cut].ts_ns]
        assert len(after) > 1000 and set(got) == set(expected)
        assert all(_same(got[key], expected[key]) for key in after), preload
        assert all(r for _, r in got[after[-1]])  # every handle ready by the end
