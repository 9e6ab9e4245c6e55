"""Liveness and readiness: event-loop lag and the named checks behind /readyz."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CheckResult", "LoopMonitor", "Readiness"]


class LoopMonitor:
    """Measures how late the event loop wakes a sleeping task (the loop's lag).

    A healthy loop wakes the task within a millisecond or so; a loop blocked by
    synchronous work wakes it late by the length of the block.
    """

    def __init__(self, interval_s: float = 0.1, window: int = 600) -> None:
        self.interval_s = interval_s
        self.last_lag_s = 0.0
        self.max_lag_s = 0.0
        self._recent: deque[float] = deque(maxlen=window)
        self._last_tick = time.monotonic()

    async def run(self) -> None:
        """Measure forever (a task in the engine's TaskGroup)."""
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.interval_s)
            lag = max(0.0, loop.time() - start - self.interval_s)
            self.last_lag_s = lag
            self.max_lag_s = max(self.max_lag_s, lag)
            self._recent.append(lag)
            self._last_tick = time.monotonic()

    def current_lag_s(self) -> float:
        """The last measured lag, or the time since the last tick when that is larger
        (a loop blocked right now has not measured its lag yet)."""
        overdue = time.monotonic() - self._last_tick - self.interval_s
        return max(self.last_lag_s, overdue)

    def quantile_s(self, q: float) -> float:
        """A quantile of the lag over the recent window (q in [0, 1])."""
        if not self._recent:
            return 0.0
        ordered = sorted(self._recent)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one readiness check."""

    ok: bool
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class Readiness:
    """Named readiness checks; the engine is ready when all of them pass."""

    def __init__(self) -> None:
        self._checks: dict[str, Callable[[], CheckResult]] = {}

    def add(self, name: str, check: Callable[[], CheckResult]) -> None:
        """Register (or replace) the check ``name``."""
        self._checks[name] = check

    def remove(self, name: str) -> None:
        """Forget the check ``name``."""
        self._checks.pop(name, None)

    def evaluate(self) -> tuple[bool, dict[str, CheckResult]]:
        """Run every check; a check that raises counts as failed with its error."""
        results: dict[str, CheckResult] = {}
        for name, check in self._checks.items():
            try:
                results[name] = check()
            except Exception as exc:
                results[name] = CheckResult(False, f"check raised {exc.__class__.__name__}: {exc}")
        return all(r.ok for r in results.values()), results
