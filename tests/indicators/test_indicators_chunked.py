"""The speculative chunked recurrences (SIMD lanes) equal the serial ones in every case:
converged chunks, chunks that must be redone (too little warm-up), and NaN."""

from __future__ import annotations

import numpy as np
import pytest
from _talib_cases import assert_same
from conftest import random_walk

import engine.indicators as ind
from engine.indicators import _chunked as ch
from engine.indicators import _kernels_hlc as hlc

talib = pytest.importorskip("talib")


@pytest.mark.parametrize("warm", [1, 5, 50, 400, 2000])
@pytest.mark.parametrize("fused", [True, False])
def test_ema_and_atr_any_warmup_equal_serial(warm: int, fused: bool) -> None:
    b = random_walk(120_000, seed=21)
    n = b.close.shape[0]
    k = 2.0 / 15.0
    got, ref = np.full(n, np.nan), np.full(n, np.nan)
    last = ch.ema_run(b.close, got, 20, n, 100.0, k, fused, warm)
    ref_last = ch._ema_serial(b.close, ref, 20, n, 100.0, k, fused)
    assert_same(got, ref, f"ema warm={warm}")
    assert last == ref_last
    beta = 13.0 / 14.0
    got[:], ref[:] = np.nan, np.nan
    ch.atr_run(b.high, b.low, b.close, got, 20, n, 1.0, beta, 1.0 - beta, fused, warm)
    ch._atr_serial(b.high, b.low, b.close, ref, 20, n, 1.0, beta, 1.0 - beta, fused)
    assert_same(got, ref, f"atr warm={warm}")


@pytest.mark.parametrize("warm", [1, 50, 700])
def test_rsi_any_warmup_equals_serial(warm: int) -> None:
    c = random_walk(150_000, seed=22).close
    n = c.shape[0]
    got, ref = np.full(n, np.nan), np.full(n, np.nan)
    ch.rsi_run(c, got, 20, n, 0.3, 0.2, 14, warm)
    ch._rsi_serial(c, ref, 20, n, 0.3, 0.2, 14)
    assert_same(got, ref, f"rsi warm={warm}")


@pytest.mark.parametrize("warm", [1, 50, 700])
@pytest.mark.parametrize("fused", [True, False])
def test_macd_any_warmup_equals_serial(warm: int, fused: bool) -> None:
    c = random_walk(150_000, seed=25).close
    n = c.shape[0]
    kf, ks, kg = 2.0 / 13.0, 2.0 / 27.0, 2.0 / 10.0
    got = [np.full(n, np.nan) for _ in range(3)]
    ref = [np.full(n, np.nan) for _ in range(3)]
    st, ref_st = np.array([100.0, 99.0, 0.5]), np.array([100.0, 99.0, 0.5])
    ch.macd_run(c, got[0], got[1], got[2], 20, n, st, kf, ks, kg, fused, warm)
    ch._macd_serial(c, ref[0], ref[1], ref[2], 20, n, ref_st, kf, ks, kg, fused)
    for name, g, r in zip(("line", "signal", "hist"), got, ref, strict=True):
        assert_same(g, r, f"macd {name} warm={warm}")
    assert_same(st, ref_st, "macd final state")


def test_long_series_with_interior_nan_and_jumps_match_talib() -> None:
    b = random_walk(300_000, seed=23)
    c, h, lo = b.close.copy(), b.high.copy(), b.low.copy()
    c[200_000] = np.nan
    h[250_000] = np.nan
    c[100_000:100_050] *= 50.0  # a violent excursion the guesses must recover from
    h[100_000:100_050] *= 50.0
    lo[100_000:100_050] *= 50.0
    for p in (2, 14, 50):
        assert_same(ind.ema(c, p), talib.EMA(c, p), f"ema {p}")
        assert_same(ind.rsi(c, p), talib.RSI(c, p), f"rsi {p}")
        assert_same(ind.atr(h, lo, c, p), talib.ATR(h, lo, c, p), f"atr {p}")
        ours, ref = ind.macd(c, p, 3 * p, 9), talib.MACD(c, p, 3 * p, 9)
        for name, g, r in zip("msh", ours, ref, strict=True):
            assert_same(g, r, f"macd {name} {p}")


def test_warm_bars() -> None:
    assert ch.warm_bars(0.0) == 16
    assert ch.warm_bars(0.5) == 64 + 16
    assert ch.warm_bars(13.0 / 14.0) > 600


def test_unfused_paths_equal_plain_python() -> None:
    """The non-FMA rounding (TA-Lib on a CPU without FMA), against Python floats,
    which round every operation: EMA (chunked at this length) and ATR."""
    b = random_walk(6000, seed=24)
    c, h, lo = b.close.tolist(), b.high.tolist(), b.low.tolist()
    p = 2
    k = 2.0 / (p + 1)
    prev = sum(c[:p]) / p
    ref = [float("nan")] * (p - 1) + [prev]
    for v in c[p:]:
        prev = (v - prev) * k + prev
        ref.append(prev)
    assert_same(ind.ema(b.close, p, fused=False), np.array(ref), "ema unfused")
    q = 3
    beta = (q - 1) / q
    alpha = 1.0 - beta

    def tr(i: int) -> float:
        g = h[i] - lo[i]
        g = max(abs(c[i - 1] - h[i]), g)
        return max(abs(c[i - 1] - lo[i]), g)

    prev = sum(tr(i) for i in range(1, q + 1)) / q
    ref = [float("nan")] * q + [prev]
    for i in range(q + 1, len(c)):
        prev = prev * beta + tr(i) * alpha
        ref.append(prev)
    assert_same(ind.atr(b.high, b.low, b.close, q, fused=False), np.array(ref), "atr unfused")


@pytest.mark.parametrize("warm", [1, 50, 700, 3000])
def test_adx_any_warmup_equals_serial(warm: int) -> None:
    b = random_walk(150_000, seed=26)
    n = b.close.shape[0]
    got, ref = np.full(n, np.nan), np.full(n, np.nan)
    st, ref_st = np.array([1.0, 2.0, 3.0, 20.0]), np.array([1.0, 2.0, 3.0, 20.0])
    hlc.adx_run(b.high, b.low, b.close, got, 20, n, st, 14, warm)
    hlc._adx_serial(b.high, b.low, b.close, ref, 20, n, ref_st, 14)
    assert_same(got, ref, f"adx warm={warm}")
    assert_same(st, ref_st, "adx final state")


@pytest.mark.parametrize("period", [2, 14, 50])
@pytest.mark.parametrize("col", [0, 1, 2])
def test_adx_with_interior_nan_and_flat_runs_equals_talib(period: int, col: int) -> None:
    b = random_walk(200_000, seed=27)
    h, lo, c = b.high.copy(), b.low.copy(), b.close.copy()
    h[120_000:121_000] = lo[120_000:121_000] = c[120_000:121_000] = 50.0
    assert_same(ind.adx(h, lo, c, period), talib.ADX(h, lo, c, period), f"adx {period} flat")
    (h, lo, c)[col][90_000] = np.nan
    assert_same(ind.adx(h, lo, c, period), talib.ADX(h, lo, c, period), f"adx {period} nan")
