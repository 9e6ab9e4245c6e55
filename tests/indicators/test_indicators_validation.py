"""The wrappers reject bad input with a clear ValueError, and honour out=."""

from __future__ import annotations

import numpy as np
import pytest

import engine.indicators as ind

X = np.linspace(1.0, 2.0, 50)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ind.sma(X.astype(np.float32), 5), "float64"),
        (lambda: ind.sma(X.astype(np.int64), 5), "float64"),
        (lambda: ind.sma([1.0, 2.0], 5), "numpy.ndarray"),
        (lambda: ind.sma(X.reshape(5, 10), 5), "1-dimensional"),
        (lambda: ind.sma(X, 0), ">= 1"),
        (lambda: ind.ema(X, -3), ">= 1"),
        (lambda: ind.rsi(X, 2.5), "integer"),
        (lambda: ind.rsi(X, True), "integer"),
        (lambda: ind.atr(X, X[:-1], X), "same length"),
        (lambda: ind.vwap(X, X, X, X[:10], 5), "same length"),
        (lambda: ind.bbands(X, 5, float("nan")), "finite"),
        (lambda: ind.stddev(X, 5, "2"), "real number"),
        (lambda: ind.macd(X, 12, 26, 0), ">= 1"),
        (lambda: ind.sma(X, 5, out=np.empty(49)), "shape"),
        (lambda: ind.sma(X, 5, out=np.empty(50, dtype=np.float32)), "float64"),
        (lambda: ind.sma(X, 5, out=np.empty(100)[::2]), "C-contiguous"),
        (lambda: ind.macd(X, out=(np.empty(50), np.empty(50))), "3 arrays"),
        (lambda: ind.EmaState(0, 3), ">= 1"),
        (lambda: ind.EmaState(5, 0), ">= 1"),
        (lambda: ind.EmaState(5, 3).update(np.zeros(4)), "shape"),
        (lambda: ind.EmaState(5, 3).seed(np.zeros((10, 4))), "shape"),
        (
            lambda: ind.AtrState(5, 2).seed(np.zeros((3, 2)), np.zeros((3, 2)), np.zeros((4, 2))),
            "bars",
        ),
    ],
)
def test_bad_input_raises_value_error(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_out_is_filled_and_returned() -> None:
    out = np.full(50, 123.0)
    got = ind.sma(X, 5, out=out)
    assert got is out
    np.testing.assert_array_equal(out, ind.sma(X, 5))
    outs = (np.empty(50), np.empty(50), np.empty(50))
    got3 = ind.bbands(X, 5, out=outs)
    assert all(g is o for g, o in zip(got3, outs, strict=True))


def test_non_contiguous_input_is_accepted() -> None:
    wide = np.linspace(1.0, 2.0, 100)
    np.testing.assert_array_equal(ind.ema(wide[::2], 5), ind.ema(wide[::2].copy(), 5))


def test_fma_flag_is_honoured() -> None:
    c = np.cumsum(np.random.default_rng(0).normal(size=5000)) + 100.0
    assert not np.array_equal(ind.ema(c, 7, fused=True), ind.ema(c, 7, fused=False))
