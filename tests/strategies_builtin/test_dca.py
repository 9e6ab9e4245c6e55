"""``dca`` on real BTC/USD 1m bars buys what its rule implies, computed independently
(pandas for the schedule, exact fractions for the round-down and the cap); config errors
name the key."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest
from strategy_backtests import BTC_1M, group_orders, total_qty, write_config

from engine.backtest.runner import run_backtest
from engine.config import ConfigError, load_config
from engine.model import Fill
from engine.plugins import instantiate
from strategies.dca import Dca


def _config(tmp_path: Path, params: str) -> Path:
    table = 'name = "dca"\nclass = "dca"\nsymbol = "BTC/USD"'
    return write_config(tmp_path, [BTC_1M], table + "\n" + params)


def _orders(fills: list[Fill]) -> list[tuple[int, str, Decimal]]:
    return [(fs[0].ts_ns, fs[0].side.value, total_qty(fs))
            for fs in group_orders(fills)]


def _expected(bars: pd.DataFrame, amount: str, every: int, step: str,
              cap: str | None) -> list[tuple[int, str, Decimal]]:
    """Buy on bars every, 2*every, ... (1-based); qty = floor(amount / close / step) * step,
    cut to what is left under ``cap``; filled at the next bar's open."""
    decide = bars.index[(bars.index + 1) % every == 0]
    amount_f, step_f = Fraction(amount), Fraction(step)
    held = Fraction(0)
    out = []
    for i in decide:
        if i + 1 >= len(bars):
            continue  # decided on the last bar: nothing left to fill it
        close = Fraction(repr(float(bars["close"].iloc[i])))
        qty = math.floor(amount_f / close / step_f) * step_f
        if cap is not None:
            qty = min(qty, math.floor((Fraction(cap) - held) / step_f) * step_f)
        if qty <= 0:
            continue
        held += qty
        out.append((int(bars["ts_ms"].iloc[i + 1]) * 1_000_000, "buy",
                    Decimal(qty.numerator) / Decimal(qty.denominator)))
    return out


@pytest.mark.parametrize(
    ("amount", "every", "step", "cap"),
    [("1000", 60, "0.000001", None),  # the default schedule and step
     ("77.77", 7, "0.0001", None),
     ("200", 10, "0.000001", "2.5")],  # the cap is reached on the first day
)
def test_dca_buys_what_its_rule_implies(
    tmp_path: Path, amount: str, every: int, step: str, cap: str | None
) -> None:
    # Sized so that neither buying power nor the daily-loss guard of the default risk
    # config ever rejects a buy: every rejection would be a missing order.
    params = f'amount = "{amount}"\nevery_bars = {every}\nqty_step = "{step}"'
    if cap is not None:
        params += f'\nmax_position = "{cap}"'
    result = run_backtest(load_config(_config(tmp_path, params), env={}))

    bars = pd.read_csv(BTC_1M)
    expected = _expected(bars, amount, every, step, cap)
    got = _orders(result.fills)
    assert len(expected) > 20
    assert got == expected
    assert not result.metrics["risk_rejections"]
    assert all(q % Decimal(step) == 0 for _, _, q in got)
    if cap is not None:
        total = sum((q for _, _, q in got), Decimal(0))
        assert total <= Decimal(cap)
        assert len(expected) < len(bars) // every - 1  # the cap did stop the buying
    ts_ns = bars["ts_ms"].to_numpy() * 1_000_000
    opens = dict(zip(ts_ns, bars["open"], strict=True))
    assert all(float(f.price) == opens[f.ts_ns] for f in result.fills)  # zero slippage


def test_dca_is_deterministic(tmp_path: Path) -> None:
    path = _config(tmp_path, 'amount = "250"\nevery_bars = 45')
    first, second = (run_backtest(load_config(path, env={})) for _ in range(2))
    assert _orders(first.fills) == _orders(second.fills)
    assert first.metrics == second.metrics


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"every_bars": 0}, "strategies[0].every_bars: expected int >= 1, got 0"),
        ({"amount": "lots"}, "strategies[0].amount: invalid decimal string"),
        ({"max_position": "x"}, "strategies[0].max_position: "),
        ({"amuont": "10"}, "strategies[0].amuont: unknown key"),
        ({"amount": "0"}, "amount must be > 0, got 0"),
        ({"qty_step": "-0.01"}, "qty_step must be > 0, got -0.01"),
        ({"max_position": "0"}, "max_position must be > 0, got 0"),
    ],
)
def test_config_errors_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        instantiate(0, {"name": "d", "class": "dca", "symbol": "BTC/USD", **table})
    assert message in str(info.value)
    assert str(info.value).startswith("strategies[0]")


def test_defaults_and_type() -> None:
    loaded = instantiate(0, {"name": "d", "class": "dca", "symbol": "BTC/USD"})
    assert isinstance(loaded.strategy, Dca)
    cfg = loaded.strategy.config
    assert (cfg.timeframe, cfg.every_bars, cfg.qty_step, cfg.max_position) == (
        "1m", 60, Decimal("0.000001"), None)
    assert Dca.strategy_type == "dca"
