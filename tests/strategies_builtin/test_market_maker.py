"""``market_maker`` on real BTC/USD 1m bars quotes and fills what its rule implies, computed
independently (the quote formula and the paper matcher's "through" limit-fill rule written
out bar by bar); config errors name the key."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from itertools import pairwise
from pathlib import Path

import pandas as pd
import pytest
from strategy_backtests import BTC_1M, group_orders, total_qty, write_config

from engine.backtest.runner import run_backtest
from engine.config import ConfigError, load_config
from engine.model import Fill
from engine.plugins import instantiate
from strategies.market_maker import MarketMaker


def _config(tmp_path: Path, params: str, allow_short: bool) -> Path:
    table = 'name = "mm"\nclass = "market_maker"\nsymbol = "BTC/USD"'
    return write_config(tmp_path, [BTC_1M], table + "\n" + params, allow_short=allow_short)


def _orders(fills: list[Fill]) -> list[tuple[int, str, Decimal, Decimal]]:
    return [(fs[0].ts_ns, fs[0].side.value, fs[0].price, total_qty(fs))
            for fs in group_orders(fills)]


def _expected(bars: pd.DataFrame, spread: Decimal, skew: Decimal, qty: Decimal,
              max_pos: Decimal, tick: Decimal, allow_short: bool
              ) -> list[tuple[int, str, Decimal, Decimal]]:
    """Quote after each bar's close, fill on the next bar: a bid fills at the open when the
    open is below it (marketable on arrival), else at the bid when the low is below it; the
    ask symmetrically. Unfilled quotes are cancelled at that bar's close."""
    out = []
    pos = Decimal(0)
    floor = -max_pos if allow_short else Decimal(0)
    rows = list(bars.itertuples(index=False))
    for prev, bar in pairwise(rows):
        close = Decimal(repr(float(prev.close)))
        shift = -skew * pos / max_pos
        bid = (close * (1 + (shift - spread) / 10_000) / tick).to_integral_value(
            ROUND_FLOOR) * tick
        ask = (close * (1 + (shift + spread) / 10_000) / tick).to_integral_value(
            ROUND_CEILING) * tick
        o, h, lo = (Decimal(repr(float(x))) for x in (bar.open, bar.high, bar.low))
        ts = int(bar.ts_ms) * 1_000_000
        fills = []
        if pos + qty <= max_pos:
            if o < bid:
                fills.append((ts, "buy", o, qty))
            elif lo < bid:
                fills.append((ts, "buy", bid, qty))
        if pos - qty >= floor:
            if o > ask:
                fills.append((ts, "sell", o, qty))
            elif h > ask:
                fills.append((ts, "sell", ask, qty))
        for _, side, _, q in fills:
            pos += q if side == "buy" else -q
        out.extend(fills)
    return out


@pytest.mark.parametrize(("spread", "skew", "allow_short"),
                         [("5", "4", True), ("8", "0", False)])
def test_market_maker_trades_what_its_rule_implies(
        tmp_path: Path, spread: str, skew: str, allow_short: bool) -> None:
    qty, max_pos, tick = Decimal("0.004"), Decimal("0.012"), Decimal("0.01")
    params = (f'spread_bps = "{spread}"\nskew_bps = "{skew}"\nqty = "{qty}"\n'
              f'max_position = "{max_pos}"\nallow_short = {str(allow_short).lower()}')
    result = run_backtest(load_config(_config(tmp_path, params, allow_short), env={}))
    bars = pd.read_csv(BTC_1M)
    # Two quotes never exceed a bar's volume: no partial fills to model.
    assert float(bars["volume"].min()) >= 2 * float(qty)
    expected = _expected(bars, Decimal(spread), Decimal(skew), qty, max_pos, tick,
                         allow_short)
    assert len(expected) > 100
    assert sum(1 for e in expected if e[1] == "sell") > 50
    got = _orders(result.fills)
    assert got == expected
    assert result.metrics["risk_rejections"] == {}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"spread_bps": "0"}, "spread_bps must be > 0"),
        ({"skew_bps": "-1"}, "skew_bps must be >= 0"),
        ({"qty": "abc"}, "strategies[0].qty: invalid decimal string"),
        ({"max_position": "0.001", "qty": "0.01"}, "max_position must be >= qty"),
        ({"spred_bps": 5}, "strategies[0].spred_bps: unknown key"),
        ({"symbol": 5}, "strategies[0].symbol: expected str"),
    ],
)
def test_config_errors_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        instantiate(0, {"name": "m", "class": "market_maker", "symbol": "BTC/USD", **table})
    assert message in str(info.value)
    assert str(info.value).startswith("strategies[0]")


def test_defaults_and_type() -> None:
    loaded = instantiate(0, {"name": "m", "class": "market_maker", "symbol": "BTC/USD"})
    assert isinstance(loaded.strategy, MarketMaker)
    assert MarketMaker.strategy_type == "market_making"
    assert loaded.strategy.config.allow_short is False
