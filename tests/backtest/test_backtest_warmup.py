"""A backtest from ``backtest.start`` warms its indicators and rings on the files' bars
before that date, as a live engine started then warms them from the exchange: from its
first bar it sees what a backtest run from the files' first bar sees there."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from engine.backtest.runner import run_backtest
from engine.config import load_config

FTX = Path(__file__).resolve().parent.parent / "data" / \
    "ftx_btc-perp_1m_2021-12-31_2022-02-01.csv.gz"
JAN_2 = 1_641_081_600_000_000_000  # 2022-01-02: the file starts 2021-12-31 23:01

RECORDER = '''
from engine.strategy import Strategy, StrategyConfig

class Cfg(StrategyConfig, frozen=True):
    symbol: str
    timeframes: tuple[str, ...] = ("1m", "5m")

SEEN = []

class Recorder(Strategy[Cfg]):
    def on_start(self, ctx):
        self.ema = ctx.indicators.ema(self.config.symbol, "1m", 20)
        self.rsi = ctx.indicators.rsi(self.config.symbol, "5m", 14)

    def on_bar(self, ctx, bar):
        SEEN.append((bar.timeframe, bar.ts_ns,
                     self.ema.value if self.ema.ready else None,
                     self.rsi.value if self.rsi.ready else None,
                     len(ctx.bars(bar.symbol, "5m"))))
'''


@pytest.fixture
def recorder(strategy_module: Callable[[str, str], ModuleType]) -> Any:
    return strategy_module("te_warm_recorder", RECORDER)


def _run(tmp_path: Path, recorder: Any, start: str, periods: int) -> tuple[list[Any], Any]:
    recorder.SEEN.clear()
    path = tmp_path / "bt.toml"
    path.write_text(f"""
[backtest]
data = ["{FTX}"]
symbol = "BTC/USD"
start = "{start}"
end = "2022-01-03"
[marketdata]
warmup_periods = {periods}
[[strategies]]
name = "rec"
class = "te_warm_recorder:Recorder"
symbol = "BTC/USD"
""")
    result = run_backtest(load_config(path, env={}))
    return list(recorder.SEEN), result


def test_a_backtest_from_a_date_sees_what_one_from_the_files_start_sees(
        tmp_path: Path, recorder: Any) -> None:
    full, _ = _run(tmp_path, recorder, "", 3)
    # a span reaching back past the file's first bar: the whole history warms
    warm, result = _run(tmp_path, recorder, "2022-01-02", 100)
    assert result.metrics["warmup_bars"] == 1499  # every bar before, from 2021-12-31 23:01
    assert warm[0][1] == JAN_2
    assert warm == [seen for seen in full if seen[1] >= JAN_2]  # bit for bit, rings too


def test_the_default_span_makes_the_indicators_ready_at_the_first_bar(
        tmp_path: Path, recorder: Any) -> None:
    cold, cold_result = _run(tmp_path, recorder, "2022-01-02", 0)
    warm, result = _run(tmp_path, recorder, "2022-01-02", 3)
    assert cold_result.metrics["warmup_bars"] == 0
    assert cold[0][2] is None and cold[0][4] == 0  # cold: not ready, empty ring
    # 3 x 14 5m bars for the RSI: 210 1m bars before the start
    assert result.metrics["warmup_bars"] == 210
    first = warm[0]
    assert first[2] is not None and not math.isnan(first[2]) and first[4] == 42
    assert next(s[3] for s in warm if s[0] == "5m") is not None  # the RSI too
