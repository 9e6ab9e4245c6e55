"""The blocked STOCH equals the bar-by-bar kernel (TA-Lib's scan) and TA-Lib in every
case: periods of 1, windows and sums longer than a block, a short last block, and
the fallbacks (a NaN or a zero high or low anywhere)."""

from __future__ import annotations

import numpy as np
import pytest
from _talib_cases import assert_same
from conftest import random_walk

from engine.indicators import _kernels_stoch as ks

talib = pytest.importorskip("talib")

BLOCK = ks._BLOCK


def _both(h: np.ndarray, lo: np.ndarray, c: np.ndarray, p: tuple[int, int, int]) -> None:
    n = c.shape[0]
    got = (np.full(n, 7.0), np.full(n, 7.0))
    ref = (np.full(n, 7.0), np.full(n, 7.0))
    ks.stoch_kernel(h, lo, c, *p, *got)
    ks._stoch_serial(h, lo, c, *p, *ref)
    assert_same(got, ref, f"stoch{p} n={n}")
    ta = talib.STOCH(h, lo, c, p[0], p[1], 0, p[2], 0)
    assert_same(got, tuple(ta), f"stoch{p} n={n} vs TA-Lib")


@pytest.mark.parametrize(
    "p",
    [(14, 3, 3), (1, 1, 1), (1, 3, 2), (5, 1, 3), (3, 4, 1), (2, 2, 2), (16, 5, 7), (17, 2, 9)],
)
@pytest.mark.parametrize("n", [30, BLOCK - 1, BLOCK + 20, 3 * BLOCK + 5])
def test_blocked_equals_serial(p: tuple[int, int, int], n: int) -> None:
    b = random_walk(n, seed=n + p[0])
    _both(b.high, b.low, b.close, p)


@pytest.mark.parametrize("p", [(BLOCK + 300, 3, 3), (14, BLOCK + 7, 2), (14, 3, BLOCK + 9)])
def test_periods_longer_than_a_block(p: tuple[int, int, int]) -> None:
    b = random_walk(4 * BLOCK + 77, seed=5)
    _both(b.high, b.low, b.close, p)


@pytest.mark.parametrize("where", [0, 13, BLOCK + 3, 3 * BLOCK - 1])
@pytest.mark.parametrize("what", [np.nan, 0.0, -0.0])
def test_nan_or_zero_falls_back(where: int, what: float) -> None:
    b = random_walk(3 * BLOCK + 40, seed=9)
    h, lo = b.high.copy(), b.low.copy()
    lo[where] = what
    h[where + 5] = what
    _both(h, lo, b.close, (14, 3, 3))


def test_coarse_prices_with_ties() -> None:
    b = random_walk(2 * BLOCK + 100, seed=3)
    r = (np.round(b.high, 0), np.round(b.low, 0), np.round(b.close, 0))
    _both(*r, (14, 3, 3))
    _both(*r, (9, 1, 1))
