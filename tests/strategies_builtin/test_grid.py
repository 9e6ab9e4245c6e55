"""``grid`` on real BTC/USD 1m bars places and fills what its rule implies, computed
independently (the grid state machine and the paper matcher's "through" limit-fill rule
written out bar by bar); config errors name the key."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pandas as pd
import pytest
from strategy_backtests import BTC_1M, group_orders, total_qty, write_config

from engine.backtest.runner import run_backtest
from engine.config import ConfigError, load_config
from engine.model import Fill
from engine.plugins import instantiate
from strategies.grid import Grid


def _config(tmp_path: Path, params: str, allow_short: bool) -> Path:
    table = 'name = "grid"\nclass = "grid"\nsymbol = "BTC/USD"'
    return write_config(tmp_path, [BTC_1M], table + "\n" + params, allow_short=allow_short)


def _orders(fills: list[Fill]) -> list[tuple[int, str, Decimal, Decimal]]:
    return [(fs[0].ts_ns, fs[0].side.value, fs[0].price, total_qty(fs))
            for fs in group_orders(fills)]


def _simulate(bars: pd.DataFrame, levels: int, step: Decimal, qty: Decimal, max_pos: Decimal,
              allow_short: bool) -> list[tuple[int, str, Decimal, Decimal]]:
    """Bar by bar: fills of the working orders (in submission order: on its first bar an
    order fills at the open when the open is through its limit, else at the limit when the
    bar's range is through it), then the counter-orders and the placements the limits
    allow (sells lowest first, then buys highest first)."""
    def dec(x: float) -> Decimal:
        return Decimal(repr(float(x)))

    center = dec(bars["close"].iloc[0])
    price = {k: (center * (1 + k * step / 100)).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
             for k in range(-levels, levels + 1)}
    wanted = [(-k, 1) for k in range(1, levels + 1)] + [(k, -1) for k in range(1, levels + 1)]
    working: list[list[object]] = []  # [level, side, fresh]
    pos = Decimal(0)
    floor = -max_pos if allow_short else Decimal(0)
    out = []
    for bar in bars.itertuples(index=False):
        o, h, lo = dec(bar.open), dec(bar.high), dec(bar.low)
        ts = int(bar.ts_ms) * 1_000_000
        still = []
        for level, side, fresh in working:
            limit = price[level]  # type: ignore[index]
            px = None
            if fresh and (o < limit if side > 0 else o > limit):
                px = o
            elif lo < limit if side > 0 else h > limit:
                px = limit
            if px is None:
                still.append([level, side, False])
                continue
            out.append((ts, "buy" if side > 0 else "sell", px, qty))
            pos += qty * side  # type: ignore[operator]
            wanted.append((level + side, -side))  # type: ignore[operator]
        working = still
        buys = sum((qty for w in working if w[1] > 0), Decimal(0))  # type: ignore[operator]
        sells = sum((qty for w in working if w[1] < 0), Decimal(0))  # type: ignore[operator]
        keep = []
        for level, side in sorted(wanted, key=lambda w: (w[1], w[0] if w[1] < 0 else -w[0])):
            if (side > 0 and pos + buys + qty > max_pos) or (
                    side < 0 and pos - sells - qty < floor):
                keep.append((level, side))
                continue
            working.append([level, side, True])
            if side > 0:
                buys += qty
            else:
                sells += qty
        wanted = keep
    return out


@pytest.mark.parametrize(("levels", "step", "max_pos", "allow_short"),
                         [(4, "0.1", "0.003", True), (5, "0.15", "0.004", False)])
def test_grid_trades_what_its_rule_implies(
        tmp_path: Path, levels: int, step: str, max_pos: str, allow_short: bool) -> None:
    qty = Decimal("0.001")
    params = (f'levels = {levels}\nstep_pct = "{step}"\nqty = "{qty}"\n'
              f'max_position = "{max_pos}"\nallow_short = {str(allow_short).lower()}')
    result = run_backtest(load_config(_config(tmp_path, params, allow_short), env={}))
    bars = pd.read_csv(BTC_1M)
    # All grid orders together never exceed a bar's volume: no partial fills to model.
    assert float(bars["volume"].min()) >= 2 * levels * float(qty)
    expected = _simulate(bars, levels, Decimal(step), qty, Decimal(max_pos), allow_short)
    assert len(expected) >= 8  # the price leaves the grid: few but real round trips
    assert {e[1] for e in expected} == {"buy", "sell"}
    assert _orders(result.fills) == expected
    assert result.metrics["risk_rejections"] == {}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"levels": 0}, "strategies[0].levels: expected int >= 1, got 0"),
        ({"step_pct": "0"}, "step_pct must be > 0"),
        ({"levels": 50, "step_pct": "2"}, "levels * step_pct must be < 100"),
        ({"qty": "abc"}, "strategies[0].qty: invalid decimal string"),
        ({"max_position": "0.0001"}, "max_position must be >= qty"),
        ({"center": "-5"}, "center must be > 0"),
        ({"step": 1}, "strategies[0].step: unknown key"),
    ],
)
def test_config_errors_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        instantiate(0, {"name": "g", "class": "grid", "symbol": "BTC/USD", **table})
    assert message in str(info.value)
    assert str(info.value).startswith("strategies[0]")


def test_defaults_and_type() -> None:
    loaded = instantiate(0, {"name": "g", "class": "grid", "symbol": "BTC/USD"})
    assert isinstance(loaded.strategy, Grid)
    assert Grid.strategy_type == "grid_trading"
    assert loaded.strategy.config.center is None
