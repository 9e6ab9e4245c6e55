"""Numba indicator library: TA-Lib 0.8 bit-exact batch functions and streaming
state for many symbols at once.

Batch functions take float64 arrays and return arrays of the same length with a
NaN prefix of exactly TA-Lib's lookback (see :mod:`.batch_ma` for the shared
conventions). Streaming objects (``EmaState`` etc., :mod:`.streaming`) advance K
symbols by one bar per ``update`` call and agree bit for bit with the batch
functions on the same bars.
"""

from engine.indicators._fma import HOST_HAS_FMA
from engine.indicators.batch_ma import bbands, ema, macd, sma, stddev, wma, zscore
from engine.indicators.batch_osc import adx, atr, obv, roc, rsi, stoch, vwap
from engine.indicators.streaming import (
    BbandsState,
    EmaState,
    MacdState,
    RocState,
    RsiState,
    SmaState,
    StddevState,
    WmaState,
    ZscoreState,
)
from engine.indicators.streaming_bars import AdxState, AtrState, ObvState, StochState, VwapState
from engine.indicators.warmup import warm_up

__all__ = [
    "HOST_HAS_FMA",
    "AdxState",
    "AtrState",
    "BbandsState",
    "EmaState",
    "MacdState",
    "ObvState",
    "RocState",
    "RsiState",
    "SmaState",
    "StddevState",
    "StochState",
    "VwapState",
    "WmaState",
    "ZscoreState",
    "adx",
    "atr",
    "bbands",
    "ema",
    "macd",
    "obv",
    "roc",
    "rsi",
    "sma",
    "stddev",
    "stoch",
    "vwap",
    "warm_up",
    "wma",
    "zscore",
]
