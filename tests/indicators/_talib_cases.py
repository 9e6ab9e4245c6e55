"""Pairs of (ours, TA-Lib) calls shared by the TA-Lib comparison tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import engine.indicators as ind

Case = tuple[str, Callable[[Any], Any], Callable[[Any], Any]]


def cases(talib: Any, p: int) -> list[Case]:
    """Every TA-Lib-backed indicator at period ``p`` (TA-Lib's minimums respected)."""
    q = max(1, p // 3)
    out: list[Case] = [
        ("sma", lambda b: ind.sma(b.close, p), lambda b: talib.SMA(b.close, p)),
        ("ema", lambda b: ind.ema(b.close, p), lambda b: talib.EMA(b.close, p)),
        ("wma", lambda b: ind.wma(b.close, p), lambda b: talib.WMA(b.close, p)),
        (
            "atr",
            lambda b: ind.atr(b.high, b.low, b.close, p),
            lambda b: talib.ATR(b.high, b.low, b.close, p),
        ),
        ("roc", lambda b: ind.roc(b.close, p), lambda b: talib.ROC(b.close, p)),
        ("obv", lambda b: ind.obv(b.close, b.volume), lambda b: talib.OBV(b.close, b.volume)),
        (
            "stoch",
            lambda b: ind.stoch(b.high, b.low, b.close, p, q, max(1, p // 4)),
            lambda b: talib.STOCH(
                b.high, b.low, b.close, fastk_period=p, slowk_period=q, slowd_period=max(1, p // 4)
            ),
        ),
    ]
    if p >= 2:
        out += [
            ("rsi", lambda b: ind.rsi(b.close, p), lambda b: talib.RSI(b.close, p)),
            (
                "adx",
                lambda b: ind.adx(b.high, b.low, b.close, p),
                lambda b: talib.ADX(b.high, b.low, b.close, p),
            ),
            (
                "stddev",
                lambda b: ind.stddev(b.close, p, 1.3),
                lambda b: talib.STDDEV(b.close, p, 1.3),
            ),
            ("stddev1", lambda b: ind.stddev(b.close, p), lambda b: talib.STDDEV(b.close, p)),
            ("bbands", lambda b: ind.bbands(b.close, p), lambda b: talib.BBANDS(b.close, p)),
            (
                "bbands_eq",
                lambda b: ind.bbands(b.close, p, 1.7, 1.7),
                lambda b: talib.BBANDS(b.close, p, 1.7, 1.7),
            ),
            (
                "bbands_ud",
                lambda b: ind.bbands(b.close, p, 2.3, 1.7),
                lambda b: talib.BBANDS(b.close, p, 2.3, 1.7),
            ),
            (
                "macd",
                lambda b: ind.macd(b.close, p, 2 * p + 1, q),
                lambda b: talib.MACD(b.close, p, 2 * p + 1, q),
            ),
        ]
    return out


def assert_same(ours: Any, ref: Any, label: str) -> None:
    """Bit-exact equality, NaN where NaN, for one array or a tuple of arrays."""
    a = ours if isinstance(ours, tuple) else (ours,)
    b = ref if isinstance(ref, tuple) else (ref,)
    assert len(a) == len(b), label
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        x, y = np.asarray(x), np.asarray(y)
        assert x.shape == y.shape, f"{label}[{i}] shape"
        same = (x.view(np.int64) == y.view(np.int64)) | (np.isnan(x) & np.isnan(y))
        if not same.all():
            bad = np.flatnonzero(~same)
            raise AssertionError(
                f"{label}[{i}]: {bad.size} bars differ, first at {bad[0]}: "
                f"{x[bad[0]]!r} != {y[bad[0]]!r}"
            )
