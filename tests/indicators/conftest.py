"""Fixtures for the indicator tests: seeded random walks and real recorded bars."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
REAL_FILES = (
    "coinbase_btcusd_1m_2018-04-04_2018-04-06.csv.gz",
    "binance_xrpeth_1m_2019-10-11_2019-10-13.csv.gz",
    "bittrex_adabtc_5m_2018-01-10_2018-01-30.csv.gz",
    "nasdaq_goog_1d_2004-08-19_2013-03-01.csv.gz",
)


@dataclass(frozen=True, slots=True)
class Bars:
    """OHLCV columns as contiguous float64 arrays."""

    name: str
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


def random_walk(n: int, scale: float = 100.0, seed: int = 0) -> Bars:
    """A seeded geometric random walk with consistent high/low/volume."""
    rng = np.random.default_rng(seed)
    close = scale * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    high = close * (1.0 + np.abs(rng.normal(0.0, 0.004, n)))
    low = close * (1.0 - np.abs(rng.normal(0.0, 0.004, n)))
    volume = rng.integers(0, 1000, n).astype(np.float64)
    return Bars(f"walk{n}x{scale:g}", high, low, close, volume)


def load_bars(name: str) -> Bars:
    """Read a recorded ``ts_ms,open,high,low,close,volume`` file from tests/data."""
    with gzip.open(DATA_DIR / name, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", skiprows=1, dtype=np.float64)
    return Bars(
        name,
        np.ascontiguousarray(table[:, 2]),
        np.ascontiguousarray(table[:, 3]),
        np.ascontiguousarray(table[:, 4]),
        np.ascontiguousarray(table[:, 5]),
    )


@pytest.fixture(scope="session")
def long_walk() -> Bars:
    """200,000 bars of random walk."""
    return random_walk(200_000, seed=42)


@pytest.fixture(scope="session", params=REAL_FILES)
def real_bars(request: pytest.FixtureRequest) -> Bars:
    """Each recorded file in tests/data."""
    return load_bars(request.param)
