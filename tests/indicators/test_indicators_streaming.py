"""Streaming state == batch function, bit for bit (hypothesis property tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from _talib_cases import assert_same
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.indicators as ind

Fields = dict[str, np.ndarray]


def _bars(n: int, k: int, scale: float, seed: int, nan_lead: int, nan_at: int) -> Fields:
    rng = np.random.default_rng(seed)
    c = scale * np.exp(np.cumsum(rng.normal(0.0, 0.02, (n, k)), axis=0))
    h = c * (1.0 + np.abs(rng.normal(0.0, 0.01, (n, k))))
    lo = c * (1.0 - np.abs(rng.normal(0.0, 0.01, (n, k))))
    v = rng.integers(0, 50, (n, k)).astype(np.float64)
    if k > 1 and nan_lead:
        c[:nan_lead, 1] = np.nan
    if 0 <= nan_at < n:
        h[nan_at, 0] = np.nan
        c[nan_at, 0] = np.nan
    return {"high": h, "low": lo, "close": c, "volume": v}


# name -> (factory(p, k), input field names, state attributes, batch(p, column fields))
Spec = tuple[Callable[[int, int], Any], tuple[str, ...], tuple[str, ...], Callable[..., Any]]
SPECS: dict[str, Spec] = {
    "ema": (
        lambda p, k: ind.EmaState(p, k),
        ("close",),
        ("value",),
        lambda p, f: ind.ema(f["close"], p),
    ),
    "sma": (
        lambda p, k: ind.SmaState(p, k),
        ("close",),
        ("value",),
        lambda p, f: ind.sma(f["close"], p),
    ),
    "wma": (
        lambda p, k: ind.WmaState(p, k),
        ("close",),
        ("value",),
        lambda p, f: ind.wma(f["close"], p),
    ),
    "rsi": (
        lambda p, k: ind.RsiState(p, k),
        ("close",),
        ("value",),
        lambda p, f: ind.rsi(f["close"], p),
    ),
    "roc": (
        lambda p, k: ind.RocState(p, k),
        ("close",),
        ("value",),
        lambda p, f: ind.roc(f["close"], p),
    ),
    "stddev": (
        lambda p, k: ind.StddevState(p, k, 1.5),
        ("close",),
        ("value",),
        lambda p, f: ind.stddev(f["close"], p, 1.5),
    ),
    "zscore": (
        lambda p, k: ind.ZscoreState(p, k),
        ("close",),
        ("value",),
        lambda p, f: ind.zscore(f["close"], p),
    ),
    "bbands": (
        lambda p, k: ind.BbandsState(p, k, 2.0, 1.5),
        ("close",),
        ("upper", "middle", "lower"),
        lambda p, f: ind.bbands(f["close"], p, 2.0, 1.5),
    ),
    "macd": (
        lambda p, k: ind.MacdState(k, p, 2 * p + 1, max(1, p // 2)),
        ("close",),
        ("macd", "signal", "hist"),
        lambda p, f: ind.macd(f["close"], p, 2 * p + 1, max(1, p // 2)),
    ),
    "atr": (
        lambda p, k: ind.AtrState(p, k),
        ("high", "low", "close"),
        ("value",),
        lambda p, f: ind.atr(f["high"], f["low"], f["close"], p),
    ),
    "adx": (
        lambda p, k: ind.AdxState(p, k),
        ("high", "low", "close"),
        ("value",),
        lambda p, f: ind.adx(f["high"], f["low"], f["close"], p),
    ),
    "stoch": (
        lambda p, k: ind.StochState(k, p, max(1, p // 3), max(1, p // 2)),
        ("high", "low", "close"),
        ("slowk", "slowd"),
        lambda p, f: ind.stoch(f["high"], f["low"], f["close"], p, max(1, p // 3), max(1, p // 2)),
    ),
    "obv": (
        lambda p, k: ind.ObvState(k),
        ("close", "volume"),
        ("value",),
        lambda p, f: ind.obv(f["close"], f["volume"]),
    ),
    "vwap": (
        lambda p, k: ind.VwapState(p, k),
        ("high", "low", "close", "volume"),
        ("value",),
        lambda p, f: ind.vwap(f["high"], f["low"], f["close"], f["volume"], p),
    ),
}


def _check(
    name: str, n: int, k: int, p: int, scale: float, seed: int, lead: int, nan_at: int
) -> None:
    make, inputs, attrs, batch = SPECS[name]
    bars = _bars(n, k, scale, seed, lead, nan_at)
    state = make(p, k)
    got = {a: np.empty((n, k)) for a in attrs}
    for i in range(n):
        state.update(*(bars[f][i] for f in inputs))
        for a in attrs:
            got[a][i] = getattr(state, a)
    for j in range(k):
        ref = batch(p, {f: np.ascontiguousarray(v[:, j]) for f, v in bars.items()})
        ref = ref if isinstance(ref, tuple) else (ref,)
        for a, r in zip(attrs, ref, strict=True):
            assert_same(got[a][:, j], r, f"{name} p={p} symbol {j} {a}")
    seeded = make(p, k)
    seeded.seed(*(bars[f] for f in inputs))
    assert_same(seeded.snapshot().ravel(), state.snapshot().ravel(), f"{name} seed == updates")


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(sorted(SPECS)),
    n=st.integers(1, 260),
    k=st.integers(1, 3),
    p=st.integers(1, 30),
    scale=st.sampled_from([1e-8, 1e-4, 1.0, 100.0, 1e6]),
    seed=st.integers(0, 2**31),
    lead=st.integers(0, 6),
    nan_at=st.integers(-1, 300),
)
def test_streaming_equals_batch(
    name: str, n: int, k: int, p: int, scale: float, seed: int, lead: int, nan_at: int
) -> None:
    _check(name, n, k, p, scale, seed, lead, nan_at)


def test_every_kind_long_series() -> None:
    for name in SPECS:
        for p in (1, 2, 14):
            _check(name, 1500, 2, p, 50.0, 7, 3, 700)


def test_snapshot_restore_continues_exactly() -> None:
    rng = np.random.default_rng(1)
    x = 100 + np.cumsum(rng.normal(size=(300, 4)), axis=0)
    full = ind.RsiState(14, 4)
    full.seed(x)
    first = ind.RsiState(14, 4)
    first.seed(x[:200])
    snap = first.snapshot()
    resumed = ind.RsiState(14, 4)
    resumed.restore(snap)
    resumed.seed(x[200:])
    assert_same(resumed.value.copy(), full.value.copy(), "restored RSI")
    assert resumed.ready.all() and resumed.count.tolist() == [300] * 4


def test_ready_and_value_views() -> None:
    s = ind.EmaState(3, 2)
    assert not s.ready.any() and np.isnan(s.value).all()
    for v in (1.0, 2.0):
        s.update(np.array([v, np.nan]))
    assert not s.ready.any()
    s.update(np.array([3.0, 5.0]))
    assert s.ready.tolist() == [True, False]
    assert s.value[0] == 2.0 and np.isnan(s.value[1])
    assert s.value.flags.writeable is False
    assert repr(s) == "EmaState(k=2, ready=1)"
