"""Aggregation of real recorded Binance XRP/ETH data equals Binance's own bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.bus import MessageBus
from engine.clock import SimClock
from engine.config import MarketDataConfig
from engine.gateway import TradeBatch
from engine.ids import Symbol, Venue
from engine.marketdata import MarketDataFeed
from engine.marketdata.aggregate import aggregate_trades, resample_bars
from engine.marketdata.recorded import read_file
from engine.model import Bar, OrderSide, TradeTick

DATA = Path(__file__).resolve().parent.parent / "data"
MIN = 60_000_000_000
FIELDS = ("open", "high", "low", "close", "volume")


@pytest.fixture(scope="module")
def trades() -> dict[str, np.ndarray]:
    return read_file(DATA / "binance_xrpeth_trades_2019-10-11_2019-10-13.csv.gz").columns


@pytest.fixture(scope="module")
def bars_1m() -> dict[str, np.ndarray]:
    return read_file(DATA / "binance_xrpeth_1m_2019-10-11_2019-10-13.csv.gz").columns


@pytest.fixture(scope="module")
def bars_5m() -> dict[str, np.ndarray]:
    return read_file(DATA / "binance_xrpeth_5m_2019-10-11_2019-10-13.csv.gz").columns


def _rows(cols: dict[str, np.ndarray]) -> dict[int, tuple[float, ...]]:
    return {int(t): tuple(float(cols[f][i]) for f in FIELDS) for i, t in enumerate(cols["ts"])}


def test_batch_trades_to_1m_equal_recorded(trades, bars_1m) -> None:
    agg, late = aggregate_trades(trades["ts"], trades["price"], trades["qty"], MIN)
    assert late == 0
    recorded = _rows(bars_1m)
    ours = _rows(agg)
    with_trades = {t for t, row in recorded.items() if row[4] > 0}
    assert set(ours) == with_trades  # every minute that has trades, and only those
    for t in with_trades:
        assert ours[t] == recorded[t], t
    assert int(agg["num_trades"].sum()) == len(trades["ts"])


def test_recorded_1m_to_5m_equal_recorded(bars_1m, bars_5m) -> None:
    ours = resample_bars(bars_1m, 5 * MIN)
    assert _rows(ours) == _rows(bars_5m)


def test_trades_to_5m_equal_recorded_where_traded(trades, bars_5m) -> None:
    agg, _ = aggregate_trades(trades["ts"], trades["price"], trades["qty"], MIN)
    ours = _rows(resample_bars(agg, 5 * MIN))
    for t, row in _rows(bars_5m).items():
        if row[4] > 0:
            assert ours[t] == row, t


def _feed(clock: SimClock, **kw) -> tuple[MarketDataFeed, list[Bar], MessageBus]:
    bus = MessageBus()
    bars: list[Bar] = []
    bus.subscribe(Bar, bars.append)
    config = MarketDataConfig(timeframes=["1m", "5m", "1h"], **kw)
    feed = MarketDataFeed(bus, clock, config)
    feed.start_timers()
    return feed, bars, bus


def test_live_path_one_trade_at_a_time_equals_recorded(trades, bars_1m, bars_5m) -> None:
    clock = SimClock(int(trades["ts"][0]))
    feed, bars, bus = _feed(clock)
    ticks: list[TradeTick] = []
    bus.subscribe(TradeTick, ticks.append)
    venue, symbol = Venue("binance"), Symbol("XRP/ETH")
    sides = {1: OrderSide.BUY, -1: OrderSide.SELL, 0: None}
    for i in range(len(trades["ts"])):
        ts = int(trades["ts"][i])
        clock.advance_to(ts)
        feed.handle(TradeTick(venue, symbol, ts, float(trades["price"][i]),
                              float(trades["qty"][i]), sides[int(trades["side"][i])],
                              str(int(trades["trade_id"][i]))))
    clock.advance_to(int(trades["ts"][-1]) + 2 * 3600 * 10**9)  # idle close by the clock
    assert len(ticks) == len(trades["ts"])
    assert feed.bad.total == 0
    got_1m = {b.ts_ns: (b.open, b.high, b.low, b.close, b.volume)
              for b in bars if b.timeframe == "1m"}
    recorded = {t: r for t, r in _rows(bars_1m).items() if r[4] > 0}
    assert got_1m == recorded
    got_5m = {b.ts_ns: (b.open, b.high, b.low, b.close, b.volume)
              for b in bars if b.timeframe == "5m"}
    for t, row in _rows(bars_5m).items():
        if row[4] > 0:
            assert got_5m[t] == row
    one_m = [b for b in bars if b.timeframe == "1m"]
    assert [b.ts_ns for b in one_m] == sorted(b.ts_ns for b in one_m)  # emitted in order
    ring = feed.bars("XRP/ETH", "1m")
    assert ring.close(3).tolist() == [b.close for b in one_m[-3:]]
    assert all(b.closed for b in bars)
    vw = one_m[0]
    assert vw.num_trades > 0 and vw.low <= vw.vwap <= vw.high


def test_batch_path_through_feed_equals_recorded(trades, bars_1m) -> None:
    clock = SimClock(int(trades["ts"][-1]))
    feed, bars, _ = _feed(clock)
    n = len(trades["ts"])
    for lo in range(0, n, 1000):  # chunks, as replay and backfill deliver them
        hi = min(n, lo + 1000)
        feed.handle(TradeBatch(Venue("binance"), Symbol("XRP/ETH"), trades["ts"][lo:hi],
                               trades["price"][lo:hi], trades["qty"][lo:hi],
                               trades["side"][lo:hi], trades["trade_id"][lo:hi]))
    clock.advance_to(int(trades["ts"][-1]) + 3600 * 10**9)
    got = {b.ts_ns: (b.open, b.high, b.low, b.close, b.volume)
           for b in bars if b.timeframe == "1m"}
    recorded = {t: r for t, r in _rows(bars_1m).items() if r[4] > 0}
    assert set(got) == set(recorded)
    for t, row in recorded.items():
        assert got[t][:4] == row[:4]
        assert got[t][4] == pytest.approx(row[4], rel=1e-12)
    assert feed.counts["trade"] == n and feed.bad.total == 0
