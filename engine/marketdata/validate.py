"""Validation of incoming market data records, and the bookkeeping of rejected ones.

Every record a gateway delivers goes through one of the ``check_*`` functions (one record,
the live path) or :func:`validate_trades` (arrays, the batch path). A bad record is dropped
and counted by :class:`BadDataTracker` under a :class:`Reason`; it is logged at most once
per symbol and reason per minute, and a flood of bad records raises an
:class:`~engine.model.Alert`. Nothing here raises on bad data.

Stateful rules (a trade behind the last closed bar, a duplicate trade id) are applied by the
aggregator, which owns that state; their reasons are listed here so that all reasons live
in one place.
"""

from __future__ import annotations

import enum
import logging
import math
import time
from collections.abc import Callable
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from numba import njit

from engine.ids import Symbol
from engine.model import Alert, AlertSeverity, Bar, Quote

__all__ = [
    "BadDataTracker",
    "Reason",
    "check_bar",
    "check_quote",
    "check_trade_values",
    "validate_trades",
]

_log = logging.getLogger(__name__)
_INF: Final = math.inf


class Reason(enum.IntEnum):
    """Why a record was rejected; the lower-case name is the /metrics ``reason`` label."""

    OK = 0
    NON_FINITE = 1
    NON_POSITIVE_PRICE = 2
    NEGATIVE_VOLUME = 3
    NON_POSITIVE_QTY = 4
    HIGH_BELOW_LOW = 5
    OHLC_INCONSISTENT = 6
    FUTURE_TIMESTAMP = 7
    BEHIND_LAST_CLOSED = 8
    DUPLICATE_TRADE_ID = 9
    CROSSED_QUOTE = 10
    MALFORMED = 11

    @property
    def label(self) -> str:
        """The metric label, e.g. ``non_finite``."""
        return self.name.lower()


def check_trade_values(price: float, qty: float, ts_ns: int, max_ts_ns: int) -> Reason:
    """Stateless checks of one trade: finite positive price and qty, not in the future."""
    if 0.0 < price < _INF and 0.0 < qty < _INF and ts_ns <= max_ts_ns:
        return Reason.OK
    if math.isnan(price) or math.isnan(qty) or math.isinf(price) or math.isinf(qty):
        return Reason.NON_FINITE
    if price <= 0.0:
        return Reason.NON_POSITIVE_PRICE
    if qty < 0.0:
        return Reason.NEGATIVE_VOLUME
    if qty == 0.0:
        return Reason.NON_POSITIVE_QTY
    return Reason.FUTURE_TIMESTAMP


def check_bar(bar: Bar, max_ts_ns: int) -> Reason:
    """Stateless checks of one bar (``max_ts_ns`` bounds its open time)."""
    o, h, lo, c, v = bar.open, bar.high, bar.low, bar.close, bar.volume
    # One chained comparison accepts a good bar (NaN fails every comparison).
    if 0.0 < lo <= o <= h < _INF and lo <= c <= h and 0.0 <= v < _INF \
            and bar.ts_ns <= max_ts_ns:
        return Reason.OK
    if not all(map(math.isfinite, (o, h, lo, c, v))):
        return Reason.NON_FINITE
    if o <= 0.0 or h <= 0.0 or lo <= 0.0 or c <= 0.0:
        return Reason.NON_POSITIVE_PRICE
    if v < 0.0:
        return Reason.NEGATIVE_VOLUME
    if h < lo:
        return Reason.HIGH_BELOW_LOW
    if not (lo <= o <= h and lo <= c <= h):
        return Reason.OHLC_INCONSISTENT
    if bar.ts_ns > max_ts_ns:
        return Reason.FUTURE_TIMESTAMP
    return Reason.OK


def check_quote(quote: Quote, max_ts_ns: int) -> Reason:
    """Stateless checks of one top-of-book quote."""
    values = (quote.bid, quote.ask, quote.bid_qty, quote.ask_qty)
    if not all(map(math.isfinite, values)):
        return Reason.NON_FINITE
    if quote.bid <= 0.0 or quote.ask <= 0.0:
        return Reason.NON_POSITIVE_PRICE
    if quote.bid_qty < 0.0 or quote.ask_qty < 0.0:
        return Reason.NEGATIVE_VOLUME
    if quote.bid > quote.ask:
        return Reason.CROSSED_QUOTE
    if quote.ts_ns > max_ts_ns:
        return Reason.FUTURE_TIMESTAMP
    return Reason.OK


@njit(nogil=True, cache=True)
def _validate_trades(
    ts: npt.NDArray[np.int64],
    price: npt.NDArray[np.float64],
    qty: npt.NDArray[np.float64],
    trade_id: npt.NDArray[np.int64],
    max_ts_ns: int,
    min_ts_ns: int,
    last_id: int,
    out: npt.NDArray[np.int8],
) -> int:
    bad = 0
    for i in range(ts.shape[0]):
        p = price[i]
        q = qty[i]
        code = 0
        if not (0.0 < p < np.inf and 0.0 < q < np.inf):
            if np.isnan(p) or np.isnan(q) or np.isinf(p) or np.isinf(q):
                code = 1
            elif p <= 0.0:
                code = 2
            elif q < 0.0:
                code = 3
            else:
                code = 4
        elif ts[i] > max_ts_ns:
            code = 7
        elif ts[i] < min_ts_ns:
            code = 8
        elif trade_id[i] >= 0:
            if trade_id[i] <= last_id:
                code = 9
            else:
                last_id = trade_id[i]
        out[i] = code
        if code:
            bad += 1
    return bad


def validate_trades(
    ts: npt.NDArray[np.int64],
    price: npt.NDArray[np.float64],
    qty: npt.NDArray[np.float64],
    trade_id: npt.NDArray[np.int64],
    *,
    max_ts_ns: int,
    min_ts_ns: int,
    last_id: int = -1,
) -> tuple[npt.NDArray[np.int8], int]:
    """Reason codes (0 = good) for arrays of trades of one symbol, and the number of bad ones.

    ``trade_id`` holds integer ids, increasing (Binance style), or -1 where a trade has none;
    an id not above every earlier id is a duplicate. ``min_ts_ns`` is the end of the last
    closed bar: an older trade is late.
    """
    out = np.empty(ts.shape[0], dtype=np.int8)
    kernel: Any = _validate_trades
    bad = kernel(ts, price, qty, trade_id, max_ts_ns, min_ts_ns, last_id, out)
    return out, int(bad)


class BadDataTracker:
    """Counts rejected records by symbol and reason; rate-limits logs; detects floods.

    A flood is ``flood_threshold`` or more bad records of one symbol within
    ``flood_window_ns`` of data time; it publishes one ``ERROR`` alert per symbol and window.
    """

    def __init__(
        self,
        alert: Callable[[Alert], None],
        *,
        flood_threshold: int = 100,
        flood_window_ns: int = 60_000_000_000,
        log_interval_s: float = 60.0,
    ) -> None:
        self._alert = alert
        self._flood_threshold = flood_threshold
        self._flood_window_ns = flood_window_ns
        self._log_interval_s = log_interval_s
        self.counts: dict[tuple[Symbol, Reason], int] = {}
        self._last_log: dict[tuple[Symbol, Reason], float] = {}
        self._window: dict[Symbol, tuple[int, int]] = {}  # symbol -> (window start, count)
        self.alerts_raised = 0

    @property
    def total(self) -> int:
        """All rejected records."""
        return sum(self.counts.values())

    def by_reason(self) -> dict[str, int]:
        """Totals per reason label."""
        out: dict[str, int] = {}
        for (_, reason), n in self.counts.items():
            out[reason.label] = out.get(reason.label, 0) + n
        return out

    def reject(self, symbol: Symbol, reason: Reason, now_ns: int, detail: object = None,
               count: int = 1) -> None:
        """Count ``count`` rejected records of ``symbol`` for ``reason``."""
        key = (symbol, reason)
        self.counts[key] = self.counts.get(key, 0) + count
        mono = time.monotonic()
        last = self._last_log.get(key)
        if last is None or mono - last >= self._log_interval_s:
            self._last_log[key] = mono
            record = repr(detail)[:200]
            # the message says it all for a console; the fields are for JSON logs
            _log.warning(
                "dropped bad market data record(s) of %s: %s (%d; %d so far, logged at most "
                "once a minute per reason): %s", symbol, reason.label, count,
                self.counts[key], record,
                extra={"symbol": symbol, "reason": reason.label, "count": count,
                       "record": record},
            )
        start, n = self._window.get(symbol, (now_ns, 0))
        if now_ns - start >= self._flood_window_ns:
            start, n = now_ns, 0
        n += count
        if n >= self._flood_threshold:
            self.alerts_raised += 1
            self._alert(Alert(
                severity=AlertSeverity.ERROR,
                category="marketdata",
                title=f"bad market data flood on {symbol}",
                message=f"{n} bad records within {self._flood_window_ns // 1_000_000_000} s; "
                        f"by reason: {self.by_reason()}",
                ts_ns=now_ns,
                symbol=symbol,
            ))
            # No further alert for this symbol until the window has passed.
            start, n = now_ns, -(1 << 62)
        self._window[symbol] = (start, n)
