"""Bit-exact equality with TA-Lib (the dev extra) on random walks and real bars."""

from __future__ import annotations

import numpy as np
import pytest
from _talib_cases import assert_same, cases
from conftest import Bars, random_walk

import engine.indicators as ind

talib = pytest.importorskip("talib")

PERIODS = (1, 2, 3, 9, 14, 30)


@pytest.mark.parametrize("period", PERIODS)
def test_long_random_walk_matches_talib(long_walk: Bars, period: int) -> None:
    for name, ours, ref in cases(talib, period):
        assert_same(ours(long_walk), ref(long_walk), f"{name}({period})")


@pytest.mark.parametrize("period", (2, 14, 26))
def test_real_data_matches_talib(real_bars: Bars, period: int) -> None:
    for name, ours, ref in cases(talib, period):
        assert_same(ours(real_bars), ref(real_bars), f"{real_bars.name} {name}({period})")


@pytest.mark.parametrize("scale", (1e-8, 1e-3, 1e6))
def test_price_scales_match_talib(scale: float) -> None:
    bars = random_walk(20_000, scale=scale, seed=5)
    for name, ours, ref in cases(talib, 14):
        assert_same(ours(bars), ref(bars), f"{name} at {scale:g}")


def test_default_parameters_match_talib(long_walk: Bars) -> None:
    b = long_walk
    assert_same(ind.rsi(b.close), talib.RSI(b.close), "rsi()")
    assert_same(ind.macd(b.close), talib.MACD(b.close), "macd()")
    assert_same(ind.bbands(b.close), talib.BBANDS(b.close), "bbands()")
    assert_same(ind.atr(b.high, b.low, b.close), talib.ATR(b.high, b.low, b.close), "atr()")
    assert_same(ind.adx(b.high, b.low, b.close), talib.ADX(b.high, b.low, b.close), "adx()")
    assert_same(
        ind.stoch(b.high, b.low, b.close),
        talib.STOCH(b.high, b.low, b.close, 14, 3, 0, 3, 0),
        "stoch()",
    )
    assert_same(ind.stddev(b.close), talib.STDDEV(b.close, 20), "stddev()")


def test_lookbacks_equal_talib() -> None:
    from talib import abstract

    b = random_walk(500, seed=1)
    expected = {
        "SMA": (ind.sma(b.close, 30), {"timeperiod": 30}),
        "EMA": (ind.ema(b.close, 30), {"timeperiod": 30}),
        "WMA": (ind.wma(b.close, 30), {"timeperiod": 30}),
        "RSI": (ind.rsi(b.close, 14), {"timeperiod": 14}),
        "ATR": (ind.atr(b.high, b.low, b.close, 14), {"timeperiod": 14}),
        "ADX": (ind.adx(b.high, b.low, b.close, 14), {"timeperiod": 14}),
        "ROC": (ind.roc(b.close, 10), {"timeperiod": 10}),
        "STDDEV": (ind.stddev(b.close, 20), {"timeperiod": 20}),
        "MACD": (ind.macd(b.close)[0], {}),
        "BBANDS": (ind.bbands(b.close)[0], {"timeperiod": 20}),
        "STOCH": (ind.stoch(b.high, b.low, b.close)[0], {"fastk_period": 14}),
        "OBV": (ind.obv(b.close, b.volume), {}),
    }
    for name, (values, params) in expected.items():
        lookback = abstract.Function(name, **params).lookback
        prefix = int(np.argmax(~np.isnan(values)))
        assert prefix == lookback, name


def test_fma_choice_matches_installed_talib(long_walk: Bars) -> None:
    """HOST_HAS_FMA is what this machine's TA-Lib does: the other rounding differs."""
    c = long_walk.close
    mine = ind.ema(c, 30, fused=ind.HOST_HAS_FMA)
    other = ind.ema(c, 30, fused=not ind.HOST_HAS_FMA)
    ref = talib.EMA(c, 30)
    assert_same(mine, ref, "ema with HOST_HAS_FMA")
    assert not np.array_equal(other, ref, equal_nan=True)
    assert_same(ind.macd(c, fused=ind.HOST_HAS_FMA), talib.MACD(c), "macd")
    h, lo = long_walk.high, long_walk.low
    assert_same(ind.atr(h, lo, c, fused=ind.HOST_HAS_FMA), talib.ATR(h, lo, c), "atr")
