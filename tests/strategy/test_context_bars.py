"""``ctx.bars``: a strategy reads the ring buffers of the timeframes it names, the same bars
as an independent pandas resampling of the recorded data; a timeframe nobody builds is an
error (which halts the strategy), never an empty ring that looks like a quiet market."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from engine.backtest.runner import run_backtest
from engine.config import load_config

BTC_1M = Path(__file__).resolve().parent.parent / "data" / \
    "coinbase_btcusd_1m_2018-04-04_2018-04-06.csv.gz"

READER = '''
from engine.strategy import Strategy, StrategyConfig

class Cfg(StrategyConfig, frozen=True):
    symbol: str
    timeframes: tuple[str, ...] = ("5m",)
    read: str = "5m"

SEEN = {}

class Reader(Strategy[Cfg]):
    def on_bar(self, ctx, bar):
        if bar.timeframe == "1m":  # the 1m ring holds the bar being delivered
            assert ctx.bars(bar.symbol, "1m").close(1)[-1] == bar.close
        ring = ctx.bars(bar.symbol, self.config.read)
        SEEN["ts"], SEEN["ohlcv"] = ring.ts(), [ring.open(), ring.high(), ring.low(),
                                               ring.close(), ring.volume()]
'''


def _config(tmp_path: Path, read: str) -> Path:
    path = tmp_path / "bt.toml"
    path.write_text(f"""
[backtest]
data = ["{BTC_1M}"]
[[strategies]]
name = "reader"
class = "te_ring_reader:Reader"
symbol = "BTC/USD"
read = "{read}"
""")
    return path


@pytest.fixture
def reader(strategy_module: Callable[[str, str], ModuleType]) -> dict[str, object]:
    seen: dict[str, object] = strategy_module("te_ring_reader", READER).SEEN
    return seen


def test_a_named_timeframe_ring_holds_the_resampled_bars(
        tmp_path: Path, reader: dict[str, object]) -> None:
    result = run_backtest(load_config(_config(tmp_path, "5m"), env={}))
    assert result.metrics["halted"] == {}
    frame = pd.read_csv(BTC_1M)
    frame.index = pd.to_datetime(frame.pop("ts_ms"), unit="ms")
    five = frame.resample("5min").agg({"open": "first", "high": "max", "low": "min",
                                       "close": "last", "volume": "sum"}).dropna()
    ts = np.asarray(reader["ts"])
    assert len(ts) >= len(five) - 1 > 700  # every closed 5m bar (the last may be open)
    expected = five.loc[pd.to_datetime(ts, unit="ns")]
    for got, column in zip(reader["ohlcv"], expected.columns, strict=True):  # type: ignore[call-overload]
        np.testing.assert_allclose(got, expected[column].to_numpy(), rtol=1e-12)


def test_reading_a_timeframe_nobody_builds_halts_the_strategy_with_the_reason(
        tmp_path: Path, reader: dict[str, object]) -> None:
    result = run_backtest(load_config(_config(tmp_path, "15m"), env={}))
    assert result.metrics["halted"]["reader"]["reason"] == (
        "on_bar raised ValueError: ctx.bars: no 15m bars are built; name 15m in the "
        "strategy's config (its timeframe or timeframes key)")
