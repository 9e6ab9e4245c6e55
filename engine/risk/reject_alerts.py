"""Which risk rejections raise an alert: not every one. A strategy that keeps submitting into
a halted account, or past a limit, is refused on every bar; an alert per refusal would bury
an operator's alert channel (MQTT, the ``alerts`` table) under one line a minute per
strategy. Every refusal is still a ``risk_events`` row, an ``OrderRiskRejected`` event, a
rejected order and a counted metric; only the alerts are spaced out."""

from __future__ import annotations

__all__ = ["RejectionAlerts"]

RejectionKey = tuple[str | None, str, str]
"""(strategy id, symbol, check)."""


class RejectionAlerts:
    """The first rejection of each (strategy, symbol, check) is alerted; the same again is
    alerted once ``interval_ns`` has passed since that alert, saying how many were not.
    ``interval_ns`` 0 alerts every rejection."""

    def __init__(self, interval_ns: int) -> None:
        self._interval_ns = interval_ns
        self._last: dict[RejectionKey, tuple[int, int]] = {}  # key -> (alerted at, held back)
        self.held_back = 0
        """Rejections not alerted, in all."""

    def admit(self, key: RejectionKey, ts_ns: int) -> int | None:
        """None: do not alert this rejection; else alert it, and this many like it were not
        alerted since the last alert of ``key``."""
        last = self._last.get(key)
        if last is not None and ts_ns - last[0] < self._interval_ns:
            self._last[key] = (last[0], last[1] + 1)
            self.held_back += 1
            return None
        self._last[key] = (ts_ns, 0)
        return 0 if last is None else last[1]
