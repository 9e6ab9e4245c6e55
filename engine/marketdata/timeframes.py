"""Timeframes: parsing, lengths and exchange-aligned UTC boundaries.

A bar of timeframe ``tf`` opening at ``ts_ns`` covers ``[ts_ns, ts_ns + tf)``. Boundaries are
aligned on the Unix epoch in UTC, which is what Binance, Coinbase and ccxt use for every
timeframe up to one day (``1d`` starts at 00:00 UTC). Weeks and months are not bar
timeframes of the engine: their boundaries are not epoch-aligned.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["NS_PER_MINUTE", "TimeframeError", "align", "timeframe_ns", "validate_timeframe"]

NS_PER_MINUTE: Final = 60_000_000_000

_UNIT_NS: Final = {
    "s": 1_000_000_000,
    "m": NS_PER_MINUTE,
    "h": 60 * NS_PER_MINUTE,
    "d": 24 * 60 * NS_PER_MINUTE,
}
_PATTERN: Final = re.compile(r"^([1-9][0-9]*)([smhd])$")


class TimeframeError(ValueError):
    """A timeframe string is not of the form ``<n><s|m|h|d>`` or is not usable."""


def timeframe_ns(timeframe: str) -> int:
    """Length of ``timeframe`` (``1m``, ``5m``, ``4h``, ``1d`` ...) in nanoseconds."""
    match = _PATTERN.match(timeframe)
    if match is None:
        raise TimeframeError(f"bad timeframe {timeframe!r}: expected e.g. 1m, 5m, 1h, 4h, 1d")
    return int(match.group(1)) * _UNIT_NS[match.group(2)]


def validate_timeframe(timeframe: str) -> str:
    """Check that ``timeframe`` is a whole number of minutes dividing one day; return it."""
    length = timeframe_ns(timeframe)
    day = _UNIT_NS["d"]
    if length % NS_PER_MINUTE or (length <= day and day % length) or (length > day):
        raise TimeframeError(
            f"timeframe {timeframe!r}: bars are built from 1m bars, so it must be a whole "
            "number of minutes that divides one day (1m, 5m, 15m, 30m, 1h, 4h, 1d ...)"
        )
    return timeframe


def align(ts_ns: int, length_ns: int) -> int:
    """Open time of the bar of length ``length_ns`` that contains ``ts_ns`` (UTC, epoch)."""
    return ts_ns - ts_ns % length_ns
