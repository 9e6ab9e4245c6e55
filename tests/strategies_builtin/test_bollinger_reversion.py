"""``bollinger_reversion`` on real BTC/USD 1m bars trades what its rule implies, computed
independently (TA-Lib BBANDS, the entry/exit rule in pandas); config errors name the key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib
from strategy_backtests import BTC_1M, group_orders, total_qty, write_config

from engine.backtest.runner import run_backtest
from engine.config import ConfigError, load_config
from engine.model import Fill
from engine.plugins import instantiate
from strategies.bollinger_reversion import BollingerReversion


def _config(tmp_path: Path, params: str) -> Path:
    table = 'name = "bb"\nclass = "bollinger_reversion"\nsymbol = "BTC/USD"'
    return write_config(tmp_path, [BTC_1M], table + "\n" + params)


def _orders(fills: list[Fill]) -> list[tuple[int, str, Decimal]]:
    return [(fs[0].ts_ns, fs[0].side.value, total_qty(fs))
            for fs in group_orders(fills)]


def _expected_states(close: pd.Series, middle: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """The long/flat state after each bar: enter on a close below the lower band, leave on
    a close at or above the middle band."""
    frame = pd.DataFrame({"close": close, "middle": middle, "lower": lower}).dropna()
    state = pd.Series(False, index=close.index)
    long = False
    for i, row in frame.iterrows():
        if not long and row.close < row.lower:
            long = True
        elif long and row.close >= row.middle:
            long = False
        state[i] = long
    return np.asarray(state.to_numpy(), dtype=bool)


@pytest.mark.parametrize(("period", "nbdev"), [(20, 2.0), (10, 1.5)])
def test_bollinger_reversion_trades_what_its_rule_implies(
    tmp_path: Path, period: int, nbdev: float
) -> None:
    params = f'period = {period}\nnbdev = {nbdev}\nqty = "0.25"'
    result = run_backtest(load_config(_config(tmp_path, params), env={}))

    bars = pd.read_csv(BTC_1M)
    close = bars["close"].astype(float)
    _, middle, lower = talib.BBANDS(close.to_numpy(), timeperiod=period, nbdevup=nbdev,
                                    nbdevdn=nbdev)  # SMA middle band
    state = _expected_states(close, middle, lower)
    changes = np.flatnonzero(np.diff(np.concatenate([[False], state]).astype(int)) != 0)
    # An order decided on bar i's close fills on the next bar (at its open).
    ts_ns = bars["ts_ms"].to_numpy() * 1_000_000
    expected = [(int(ts_ns[i + 1]), "buy" if state[i] else "sell", Decimal("0.25"))
                for i in changes if i + 1 < len(bars)]
    assert len(expected) > 20
    assert _orders(result.fills) == expected
    opens = dict(zip(ts_ns, bars["open"], strict=True))
    assert all(float(f.price) == opens[f.ts_ns] for f in result.fills)  # zero slippage


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"period": -5}, "strategies[0].period: expected int >= 1, got -5"),
        ({"nbdev": "wide"}, "strategies[0].nbdev: expected float"),
        ({"qty": "abc"}, "strategies[0].qty: invalid decimal string"),
        ({"nbdevv": 2}, "strategies[0].nbdevv: unknown key"),
        ({"period": 1}, "period must be >= 2, got 1"),
        ({"nbdev": 0.0}, "nbdev must be > 0, got 0.0"),
        ({"qty": "-1"}, "qty must be > 0, got -1"),
    ],
)
def test_config_errors_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        instantiate(0, {"name": "b", "class": "bollinger_reversion", "symbol": "BTC/USD",
                        **table})
    assert message in str(info.value)
    assert str(info.value).startswith("strategies[0]")


def test_defaults_and_type() -> None:
    loaded = instantiate(0, {"name": "b", "class": "bollinger_reversion", "symbol": "BTC/USD"})
    assert isinstance(loaded.strategy, BollingerReversion)
    cfg = loaded.strategy.config
    assert (cfg.timeframe, cfg.period, cfg.nbdev, cfg.qty) == ("1m", 20, 2.0, Decimal("0.01"))
    assert BollingerReversion.strategy_type == "mean_reversion"
