"""Edge cases: short series, period 1, constant series, NaN prefix, interior NaN.

Where TA-Lib has the indicator the behaviour is TA-Lib's, checked against it;
the documented outcomes are also asserted directly.
"""

from __future__ import annotations

import numpy as np
import pytest
from _talib_cases import assert_same, cases
from conftest import Bars, random_walk

import engine.indicators as ind

talib = pytest.importorskip("talib")


def _variant(b: Bars, **kw: np.ndarray) -> Bars:
    fields = {"high": b.high, "low": b.low, "close": b.close, "volume": b.volume} | kw
    return Bars(b.name, **fields)


def _all_cases(bars: Bars, periods: tuple[int, ...] = (1, 2, 3, 7, 14)) -> None:
    for p in periods:
        for name, ours, ref in cases(talib, p):
            assert_same(ours(bars), ref(bars), f"{name}({p})")


@pytest.mark.parametrize("n", [0, 1, 2, 5, 13, 14, 15])
def test_short_series(n: int) -> None:
    b = random_walk(30, seed=2)
    short = Bars(
        "short", b.high[:n].copy(), b.low[:n].copy(), b.close[:n].copy(), b.volume[:n].copy()
    )
    _all_cases(short)
    assert ind.rsi(short.close, 14).shape == (n,)
    if n <= 14:
        assert np.isnan(ind.rsi(short.close, 14)).all()


def test_constant_series() -> None:
    f = np.full(400, 5.25)
    flat = Bars("flat", f, f, f, np.full(400, 3.0))
    _all_cases(flat)
    assert (ind.rsi(f, 14)[14:] == 0.0).all()
    assert (ind.stddev(f, 20)[19:] == 0.0).all()
    upper, middle, lower = ind.bbands(f, 20)
    assert (upper[19:] == middle[19:]).all() and (lower[19:] == middle[19:]).all()
    assert (ind.zscore(f, 20)[19:] == 0.0).all()
    assert (ind.adx(f, f, f, 14)[27:] == 0.0).all()
    assert (ind.stoch(f, f, f)[0][18:] == 0.0).all()


def test_step_and_jumpy_series() -> None:
    b = random_walk(3000, seed=9)
    c = b.close.copy()
    c[::3] *= 5.0
    c[1::3] /= 3.0
    _all_cases(_variant(b, close=c, high=c * 1.01, low=c * 0.99))
    step = np.where(np.arange(3000) < 1500, 5.0, 7.0)
    _all_cases(Bars("step", step, step, step, b.volume))


def test_nan_prefix_is_skipped_like_talib() -> None:
    b = random_walk(600, seed=3)
    pad = np.full(10, np.nan)
    padded = Bars("pad", *(np.r_[pad, a] for a in (b.high, b.low, b.close, b.volume)))
    _all_cases(padded)
    shifted = ind.ema(padded.close, 14)
    assert np.isnan(shifted[: 10 + 13]).all() and not np.isnan(shifted[10 + 13])
    assert_same(shifted[10:], ind.ema(b.close, 14), "ema after NaN prefix")


def test_nan_prefix_in_one_input_only() -> None:
    b = random_walk(600, seed=4)
    h = b.high.copy()
    h[:7] = np.nan
    _all_cases(_variant(b, high=h))


def test_interior_nan_matches_talib() -> None:
    b = random_walk(5000, seed=6)
    c = b.close.copy()
    c[1000] = np.nan
    _all_cases(_variant(b, close=c))
    h, lo, v = b.high.copy(), b.low.copy(), b.volume.copy()
    h[500], lo[700], v[900] = np.nan, np.nan, np.nan
    _all_cases(_variant(b, high=h, low=lo, volume=v))
    # Documented outcomes: recurrences stay NaN, windowed rebuilds recover.
    assert np.isnan(ind.ema(c, 10)[1000:]).all()
    assert np.isnan(ind.sma(c, 10)[1000:]).all()
    assert not np.isnan(ind.stddev(c, 10)[-1])
    assert (ind.rsi(c, 14)[1001:] == 0.0).all()


def test_all_nan_input() -> None:
    allnan = np.full(20, np.nan)
    _all_cases(Bars("allnan", allnan, allnan, allnan, allnan), periods=(1, 3))


def test_period_one() -> None:
    b = random_walk(1000, seed=8)
    assert_same(ind.ema(b.close, 1), b.close, "ema(1) copies")
    assert_same(ind.wma(b.close, 1), b.close, "wma(1) copies")
    assert (ind.stddev(b.close, 1) == 0.0).all()
    assert (ind.zscore(b.close, 1) == 0.0).all()
    r = ind.rsi(b.close, 1)
    assert np.isnan(r[0])
    up = np.diff(b.close) > 0
    assert (r[1:][up] == 100.0).all() and (r[1:][~up] == 0.0).all()


def test_obv_without_any_valid_bar_is_all_nan() -> None:
    """Documented deviation: TA-Lib reports the last volume, we report NaN."""
    close = np.full(5, np.nan)
    volume = np.arange(1.0, 6.0)
    assert np.isnan(ind.obv(close, volume)).all()
    assert talib.OBV(close, volume)[-1] == 5.0


def test_read_only_inputs_give_the_same_values() -> None:
    """A bar ring hands out read-only views (``ctx.bars(...).close()``); numba refused
    them in the fused kernels (ema, rsi) with a typing error."""
    b = random_walk(300, seed=5)
    frozen = {}
    for name in ("high", "low", "close", "volume"):
        view = getattr(b, name).view()
        view.flags.writeable = False
        frozen[name] = view
    ro = Bars(b.name, **frozen)
    for name, ours, _ in cases(talib, 14):
        assert_same(ours(ro), ours(b), f"{name} on read-only arrays")
