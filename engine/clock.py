"""Clocks: wall time for live trading, simulated time for backtests.

Everything in the engine that reads time or waits for it takes a :class:`Clock`, so the
same code runs live and in a backtest. Timers call plain callbacks with the time they were
due (``ts_ns``); they never run concurrently with other engine code.

- :class:`LiveClock` reads ``time.time_ns()`` and schedules timers on the running asyncio
  loop (``loop.call_at``), so a timer costs no task.
- :class:`SimClock` only moves when the replay calls :meth:`SimClock.advance_to`; due timers
  fire in time order, each seeing ``now_ns()`` equal to its due time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["Clock", "LiveClock", "SimClock", "TimerCallback"]

TimerCallback = Callable[[int], None]


class Clock(Protocol):
    """What the engine needs from time."""

    def now_ns(self) -> int:
        """Current time, nanoseconds since the Unix epoch (UTC)."""
        ...

    def set_timer(
        self, name: str, interval_ns: int, callback: TimerCallback, start_ns: int | None = None
    ) -> None:
        """Call ``callback(due_ns)`` every ``interval_ns``, first at ``start_ns + interval``."""
        ...

    def set_alarm(self, name: str, at_ns: int, callback: TimerCallback) -> None:
        """Call ``callback(at_ns)`` once at ``at_ns`` (at once if that is past)."""
        ...

    def cancel(self, name: str) -> None:
        """Cancel the timer or alarm ``name``; unknown names are ignored."""
        ...

    def timer_names(self) -> list[str]:
        """Names of the active timers and alarms."""
        ...


class _Timer:
    __slots__ = ("callback", "cancelled", "due_ns", "handle", "interval_ns", "name")

    def __init__(self, name: str, due_ns: int, interval_ns: int, callback: TimerCallback) -> None:
        self.name = name
        self.due_ns = due_ns
        self.interval_ns = interval_ns  # 0 for a one-shot alarm
        self.callback = callback
        self.cancelled = False
        self.handle: asyncio.TimerHandle | None = None


def _check_interval(interval_ns: int) -> None:
    if interval_ns <= 0:
        raise ValueError(f"timer interval must be > 0 ns, got {interval_ns}")


class SimClock:
    """A clock that moves only when told to, for backtests and replays.

    ``SimClock()`` without a start time is *unstarted*: it reads 0 until the first
    :meth:`advance_to`, which sets the time without firing anything and shifts the timers
    set meanwhile by the same amount. Components can then set their timers at build time,
    relative to "the start", before anyone knows when the recorded data begins.
    """

    def __init__(self, start_ns: int | None = None) -> None:
        self._started = start_ns is not None
        self._now = start_ns or 0
        self._heap: list[tuple[int, int, _Timer]] = []
        self._timers: dict[str, _Timer] = {}
        self._seq = itertools.count()

    def now_ns(self) -> int:
        """The simulated time."""
        return self._now

    def set_timer(
        self, name: str, interval_ns: int, callback: TimerCallback, start_ns: int | None = None
    ) -> None:
        """See :meth:`Clock.set_timer`."""
        _check_interval(interval_ns)
        start = self._now if start_ns is None else start_ns
        self._add(_Timer(name, start + interval_ns, interval_ns, callback))

    def set_alarm(self, name: str, at_ns: int, callback: TimerCallback) -> None:
        """See :meth:`Clock.set_alarm`."""
        self._add(_Timer(name, max(at_ns, self._now), 0, callback))

    def cancel(self, name: str) -> None:
        """See :meth:`Clock.cancel`."""
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancelled = True

    def timer_names(self) -> list[str]:
        """See :meth:`Clock.timer_names`."""
        return sorted(self._timers)

    def next_due_ns(self) -> int | None:
        """When the next timer is due, or None."""
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def advance_to(self, ts_ns: int) -> None:
        """Move time to ``ts_ns``, firing every timer due up to and including it, in order."""
        if not self._started:
            self._start_at(ts_ns)
            return
        if ts_ns < self._now:
            raise ValueError(f"SimClock cannot go back in time: {ts_ns} < {self._now}")
        heap = self._heap
        while heap and heap[0][0] <= ts_ns:
            due, _, timer = heapq.heappop(heap)
            if timer.cancelled:
                continue
            self._now = due
            if timer.interval_ns:
                timer.due_ns = due + timer.interval_ns
                heapq.heappush(heap, (timer.due_ns, next(self._seq), timer))
            else:
                self._timers.pop(timer.name, None)
            timer.callback(due)
        self._now = ts_ns

    def cancel_all(self) -> None:
        """Cancel every timer."""
        for name in list(self._timers):
            self.cancel(name)

    def _start_at(self, ts_ns: int) -> None:
        shift = ts_ns - self._now
        self._started = True
        self._now = ts_ns
        live = [timer for _, _, timer in self._heap if not timer.cancelled]
        self._heap = []
        for timer in live:
            timer.due_ns += shift
            heapq.heappush(self._heap, (timer.due_ns, next(self._seq), timer))

    def _add(self, timer: _Timer) -> None:
        self.cancel(timer.name)
        self._timers[timer.name] = timer
        heapq.heappush(self._heap, (timer.due_ns, next(self._seq), timer))


class LiveClock:
    """Wall-clock time; timers run on the asyncio loop that is running when they are set."""

    def __init__(self) -> None:
        self._timers: dict[str, _Timer] = {}

    def now_ns(self) -> int:
        """Wall time, nanoseconds since the epoch."""
        return time.time_ns()

    def set_timer(
        self, name: str, interval_ns: int, callback: TimerCallback, start_ns: int | None = None
    ) -> None:
        """See :meth:`Clock.set_timer`."""
        _check_interval(interval_ns)
        start = self.now_ns() if start_ns is None else start_ns
        self._schedule(_Timer(name, start + interval_ns, interval_ns, callback))

    def set_alarm(self, name: str, at_ns: int, callback: TimerCallback) -> None:
        """See :meth:`Clock.set_alarm`."""
        self._schedule(_Timer(name, at_ns, 0, callback))

    def cancel(self, name: str) -> None:
        """See :meth:`Clock.cancel`."""
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancelled = True
            if timer.handle is not None:
                timer.handle.cancel()

    def cancel_all(self) -> None:
        """Cancel every timer (at shutdown)."""
        for name in list(self._timers):
            self.cancel(name)

    def timer_names(self) -> list[str]:
        """See :meth:`Clock.timer_names`."""
        return sorted(self._timers)

    def _schedule(self, timer: _Timer) -> None:
        self.cancel(timer.name)
        self._timers[timer.name] = timer
        self._arm(timer)

    def _arm(self, timer: _Timer) -> None:
        loop = asyncio.get_running_loop()
        delay_s = max(0.0, (timer.due_ns - self.now_ns()) / 1e9)
        timer.handle = loop.call_at(loop.time() + delay_s, self._fire, timer)

    def _fire(self, timer: _Timer) -> None:
        if timer.cancelled:
            return
        due = timer.due_ns
        if timer.interval_ns:
            # Skip missed periods rather than firing a burst after a stall.
            now = self.now_ns()
            periods = max(1, (now - due) // timer.interval_ns + 1)
            timer.due_ns = due + periods * timer.interval_ns
            self._arm(timer)
        else:
            self._timers.pop(timer.name, None)
        timer.callback(due)
