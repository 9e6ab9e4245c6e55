"""zscore and rolling vwap (no TA-Lib counterpart) against independent numpy/pandas code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import Bars, random_walk

import engine.indicators as ind


@pytest.mark.parametrize("period", [1, 2, 5, 20, 100])
def test_zscore_against_two_pass_numpy(period: int) -> None:
    c = random_walk(5000, seed=11).close
    w = np.lib.stride_tricks.sliding_window_view(c, period)
    mean = w.mean(axis=1)
    std = np.sqrt(((w - mean[:, None]) ** 2).mean(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.where(std > 1e-12 * np.abs(mean), (c[period - 1 :] - mean) / std, 0.0)
    got = ind.zscore(c, period)
    assert np.isnan(got[: period - 1]).all()
    np.testing.assert_allclose(got[period - 1 :], expected, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("period", [1, 3, 20, 50])
def test_vwap_against_pandas(real_bars: Bars, period: int) -> None:
    b = real_bars
    tp = (b.high + b.low + b.close) / 3.0
    num = pd.Series(tp * b.volume).rolling(period).sum().to_numpy()
    den = pd.Series(b.volume).rolling(period).sum().to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = num / den
    got = ind.vwap(b.high, b.low, b.close, b.volume, period)
    assert np.isnan(got[: period - 1]).all()
    # Windows with (near) zero volume are NaN by definition; compare the rest.
    live = den > 1e-9 * np.nanmax(den)
    live[: period - 1] = False
    np.testing.assert_allclose(got[live], expected[live], rtol=1e-9)


def test_vwap_zero_volume_window_is_nan() -> None:
    b = random_walk(200, seed=12)
    v = b.volume.copy()
    v[:] = 0.0
    assert np.isnan(ind.vwap(b.high, b.low, b.close, v, 5)).all()


def test_vwap_and_zscore_nan_prefix() -> None:
    b = random_walk(300, seed=13)
    pad = np.full(4, np.nan)
    c = np.r_[pad, b.close]
    z = ind.zscore(c, 10)
    assert np.isnan(z[: 4 + 9]).all() and not np.isnan(z[4 + 9])
    np.testing.assert_array_equal(z[4:], ind.zscore(b.close, 10))
    h, lo, v = (np.r_[pad, a] for a in (b.high, b.low, b.volume))
    w = ind.vwap(h, lo, c, v, 10)
    np.testing.assert_array_equal(w[4:], ind.vwap(b.high, b.low, b.close, b.volume, 10))
