"""``pairs`` on real BTC/USD + ETH/USD 1m bars (the same two days) trades what its rule
implies, computed independently (pandas: aligned closes, rolling z-score of the log
spread, the entry/exit state machine); config errors name the key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from strategy_backtests import REPO, group_orders, total_qty, write_config

from engine.backtest.runner import run_backtest
from engine.config import ConfigError, load_config
from engine.model import Fill
from engine.plugins import instantiate
from strategies.pairs import Pairs

BTC = REPO / "gateways" / "data" / "coinbase_btcusd_1m_2017-09-03_2017-09-04.csv.gz"
ETH = REPO / "gateways" / "data" / "coinbase_ethusd_1m_2017-09-03_2017-09-04.csv.gz"


def _config(tmp_path: Path, params: str) -> Path:
    table = 'name = "pairs"\nclass = "pairs"\nsymbols = ["BTC/USD", "ETH/USD"]'
    return write_config(tmp_path, [BTC, ETH], table + "\n" + params, allow_short=True)


def _orders(fills: list[Fill]) -> list[tuple[int, str, str, Decimal]]:
    return [(fs[0].ts_ns, str(fs[0].symbol), fs[0].side.value, total_qty(fs))
            for fs in group_orders(fills)]


def _states(z: np.ndarray, entry: float, exit_: float) -> np.ndarray:
    """+1 long spread, -1 short spread, 0 flat, after each minute."""
    out = np.zeros(len(z), dtype=int)
    state = 0
    for i, value in enumerate(z):
        if not np.isnan(value):
            if state == 0:
                state = -1 if value > entry else (1 if value < -entry else 0)
            elif abs(value) < exit_:
                state = 0
        out[i] = state
    return out


@pytest.mark.parametrize(("beta", "period", "entry", "exit_"),
                         [(1.0, 60, 2.0, 0.5), (0.8, 30, 1.5, 0.2)])
def test_pairs_trades_what_its_rule_implies(
        tmp_path: Path, beta: float, period: int, entry: float, exit_: float) -> None:
    qty_a, qty_b = Decimal("0.02"), Decimal("0.5")
    params = (f"beta = {beta}\nperiod = {period}\nentry_z = {entry}\nexit_z = {exit_}\n"
              f'qty_a = "{qty_a}"\nqty_b = "{qty_b}"')
    result = run_backtest(load_config(_config(tmp_path, params), env={}))

    a, b = pd.read_csv(BTC), pd.read_csv(ETH)
    both = a.merge(b, on="ts_ms", suffixes=("_a", "_b"))  # minutes with both bars
    spread = np.log(both["close_a"]) - beta * np.log(both["close_b"])
    roll = spread.rolling(period)
    z = ((spread - roll.mean()) / roll.std(ddof=0)).to_numpy()
    state = _states(z, entry, exit_)
    changes = np.flatnonzero(np.diff(np.concatenate([[0], state])) != 0)
    ts_ns = both["ts_ms"].to_numpy() * 1_000_000
    expected = []
    for i in changes:
        if i + 1 >= len(both):
            continue
        step = int(state[i] - (state[i - 1] if i else 0))
        # Decided at minute i's close; each leg's market order fills on its next bar.
        for symbol, qty, sign in (("BTC/USD", qty_a, step), ("ETH/USD", qty_b, -step)):
            expected.append((int(ts_ns[i + 1]), symbol, "buy" if sign > 0 else "sell",
                             qty * abs(sign)))
    assert len(expected) > 20
    assert len(set(state[changes])) == 3  # long, short and flat all occur
    assert _orders(result.fills) == expected
    assert result.metrics["risk_rejections"] == {}
    opens = {("BTC/USD", t * 1_000_000): p for t, p in zip(a["ts_ms"], a["open"], strict=True)}
    opens |= {("ETH/USD", t * 1_000_000): p for t, p in zip(b["ts_ms"], b["open"], strict=True)}
    assert all(float(f.price) == opens[(str(f.symbol), f.ts_ns)] for f in result.fills)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"symbols": ["BTC/USD"]}, "symbols must be two different symbols"),
        ({"symbols": ["BTC/USD", "BTC/USD"]}, "symbols must be two different symbols"),
        ({"symbols": "BTC/USD"}, "strategies[0].symbols: expected array"),
        ({"period": 0}, "strategies[0].period: expected int >= 1, got 0"),
        ({"period": 1}, "period must be >= 2"),
        ({"entry_z": 0.5, "exit_z": 0.5}, "need 0 <= exit_z < entry_z"),
        ({"beta": "x"}, "strategies[0].beta: expected float"),
        ({"qty_b": "0"}, "qty_a and qty_b must be > 0"),
        ({"symbol": "BTC/USD"}, "strategies[0].symbol: unknown key"),
    ],
)
def test_config_errors_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        instantiate(0, {"name": "p", "class": "pairs",
                        "symbols": ["BTC/USD", "ETH/USD"], **table})
    assert message in str(info.value)
    assert str(info.value).startswith("strategies[0]")


def test_defaults_type_and_symbols() -> None:
    loaded = instantiate(0, {"name": "p", "class": "pairs", "symbols": ["BTC/USD", "ETH/USD"]})
    assert isinstance(loaded.strategy, Pairs)
    assert loaded.strategy.symbols() == ["BTC/USD", "ETH/USD"]
    assert Pairs.strategy_type == "statistical_arbitrage"
    assert loaded.strategy.config.beta == 1.0
