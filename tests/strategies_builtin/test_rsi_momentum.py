"""``rsi_momentum`` on real BTC/USD 1m bars trades what its rule implies, computed
independently (TA-Lib RSI, the entry/exit rule in pandas); config errors name the key."""

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
from engine.model import Fill, Signal, SignalDirection
from engine.plugins import instantiate
from strategies.rsi_momentum import RsiMomentum


def _config(tmp_path: Path, params: str) -> Path:
    table = 'name = "rsi"\nclass = "rsi_momentum"\nsymbol = "BTC/USD"'
    return write_config(tmp_path, [BTC_1M], table + "\n" + params)


def _orders(fills: list[Fill]) -> list[tuple[int, str, Decimal]]:
    return [(fs[0].ts_ns, fs[0].side.value, total_qty(fs))
            for fs in group_orders(fills)]


def _expected_states(rsi: np.ndarray, entry: float, exit_: float) -> np.ndarray:
    """The long/flat state after each bar: enter on a cross above ``entry`` (previous RSI
    at or below it), leave on an RSI below ``exit``."""
    state = np.zeros(len(rsi), dtype=bool)
    long = False
    for i in range(1, len(rsi)):
        prev, cur = rsi[i - 1], rsi[i]
        if not long and not np.isnan(prev) and prev <= entry < cur:
            long = True
        elif long and cur < exit_:
            long = False
        state[i] = long
    return state


@pytest.mark.parametrize(("period", "entry", "exit_"), [(14, 55.0, 45.0), (9, 70.0, 30.0)])
def test_rsi_momentum_trades_what_its_rule_implies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, period: int, entry: float, exit_: float
) -> None:
    signals: list[Signal] = []
    from engine import app as app_module

    original = app_module.build_app

    def spy(*args: object, **kwargs: object) -> object:
        engine = original(*args, **kwargs)  # type: ignore[arg-type]
        engine.bus.subscribe(Signal, signals.append)
        return engine

    monkeypatch.setattr(app_module, "build_app", spy)
    params = f'period = {period}\nentry = {entry}\nexit = {exit_}\nqty = "0.3"'
    result = run_backtest(load_config(_config(tmp_path, params), env={}))

    bars = pd.read_csv(BTC_1M)
    rsi = talib.RSI(bars["close"].to_numpy(dtype=float), timeperiod=period)
    state = _expected_states(rsi, entry, exit_)
    changes = np.flatnonzero(np.diff(np.concatenate([[False], state]).astype(int)) != 0)
    # An order decided on bar i's close fills on the next bar (at its open).
    ts_ns = bars["ts_ms"].to_numpy() * 1_000_000
    expected = [(int(ts_ns[i + 1]), "buy" if state[i] else "sell", Decimal("0.3"))
                for i in changes if i + 1 < len(bars)]
    assert len(expected) > 20
    assert _orders(result.fills) == expected
    opens = dict(zip(ts_ns, bars["open"], strict=True))
    assert all(float(f.price) == opens[f.ts_ns] for f in result.fills)  # zero slippage

    # One signal per entry/exit, at the deciding bar's close, with the RSI that fired it.
    close_ns = ts_ns + 60_000_000_000
    assert [(s.ts_ns, s.direction) for s in signals] == [
        (int(close_ns[i]), SignalDirection.LONG if state[i] else SignalDirection.FLAT)
        for i in changes]
    for s, i in zip(signals, changes, strict=True):
        assert s.reasoning["rsi"] == pytest.approx(rsi[i], abs=1e-9)
        assert (s.reasoning["rsi"] > entry) if state[i] else (s.reasoning["rsi"] < exit_)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"period": 0}, "strategies[0].period: expected int >= 1, got 0"),
        ({"entry": "high"}, "strategies[0].entry: expected float"),
        ({"qty": "abc"}, "strategies[0].qty: invalid decimal string"),
        ({"exitt": 40}, "strategies[0].exitt: unknown key"),
        ({"exit": 60.0}, "need 0 < exit < entry < 100, got exit=60.0, entry=55.0"),
        ({"entry": 100.0}, "need 0 < exit < entry < 100"),
        ({"exit": 0.0}, "need 0 < exit < entry < 100"),
        ({"qty": "0"}, "qty must be > 0"),
    ],
)
def test_config_errors_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        instantiate(0, {"name": "r", "class": "rsi_momentum", "symbol": "BTC/USD", **table})
    assert message in str(info.value)
    assert str(info.value).startswith("strategies[0]")


def test_defaults_and_type() -> None:
    loaded = instantiate(0, {"name": "r", "class": "rsi_momentum", "symbol": "BTC/USD"})
    assert isinstance(loaded.strategy, RsiMomentum)
    cfg = loaded.strategy.config
    assert (cfg.timeframe, cfg.period, cfg.entry, cfg.exit, cfg.qty) == (
        "1m", 14, 55.0, 45.0, Decimal("0.01"))
    assert RsiMomentum.strategy_type == "momentum"
