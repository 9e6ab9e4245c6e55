"""TWAP and VWAP parents: the engine slices them into child orders on a schedule.

A parent of quantity Q with ``slices`` = n over ``duration_s`` = D sends slice k (k = 0..n-1)
at ``start + k * D / n``. Slice k brings the parent's executed-or-working quantity up to the
cumulative target ``Q * (w_0 + ... + w_k)`` rounded down to ``qty_step`` (the last target
is Q): a child that was rejected or cancelled is made up by the next slice, and a restart
resumes at the slice due now. TWAP weights are equal; VWAP weights follow the symbol's
recent volume profile (:class:`engine.oms.profile.VolumeProfile`), equal when no volume is known.

The parent is accepted by the engine (never sent to a venue). Its children are ordinary
orders with ``parent_id`` set; each child fill is also rolled up into the parent as an
``OrderFilled`` that carries the child's fill (``fill.order_id`` is the child's; see
:func:`engine.oms.is_rollup`). When the schedule is over and no child works any more, a
parent that is not filled expires.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from typing import Protocol

from engine.clock import Clock
from engine.ids import ClientOrderId
from engine.model import NS_PER_S, OrderType
from engine.oms.book import Entry
from engine.oms.commands import AlgoParams
from engine.oms.profile import VolumeProfile

__all__ = ["AlgoExecutor", "AlgoHost"]

_ZERO = Decimal(0)


class AlgoHost(Protocol):
    """What the executor needs from the OMS."""

    def submit_child(self, parent: Entry, qty: Decimal, params: AlgoParams, ts_ns: int) -> None:
        """Send one child order of ``qty``."""
        ...

    def working_child_qty(self, parent: Entry) -> Decimal:
        """Unfilled quantity of the parent's working children."""
        ...

    def finish_parent(self, parent: Entry, ts_ns: int) -> None:
        """The schedule is over and no child works: expire the parent unless filled."""
        ...


class _Schedule:
    __slots__ = ("entry", "next_index", "params", "slice_ns", "start_ns", "targets")

    def __init__(self, entry: Entry, params: AlgoParams, start_ns: int,
                 weights: list[Decimal]) -> None:
        self.entry = entry
        self.params = params
        self.start_ns = start_ns
        self.slice_ns = max(1, int(params.duration_s * NS_PER_S) // params.slices)
        self.next_index = 0
        qty = entry.order.qty
        cum = _ZERO
        self.targets: list[Decimal] = []
        for w in weights:
            cum += w
            self.targets.append((qty * cum).quantize(params.qty_step, rounding=ROUND_DOWN))
        self.targets[-1] = qty


class AlgoExecutor:
    """Runs the schedules of working TWAP/VWAP parents on the engine's clock."""

    def __init__(self, clock: Clock, host: AlgoHost, profile: VolumeProfile) -> None:
        self._clock = clock
        self._host = host
        self._profile = profile
        self._schedules: dict[ClientOrderId, _Schedule] = {}

    def start(self, entry: Entry, params: AlgoParams, start_ns: int) -> None:
        """Begin (or, after a restart, resume) a parent's schedule."""
        order = entry.order
        n = params.slices
        slice_ns = max(1, int(params.duration_s * NS_PER_S) // n)
        times = [start_ns + k * slice_ns for k in range(n)]
        if order.type is OrderType.VWAP:
            weights = self._profile.weights(order.symbol, times)
        else:
            weights = [Decimal(1) / n] * n
        sched = _Schedule(entry, params, start_ns, weights)
        self._schedules[order.client_order_id] = sched
        now = self._clock.now_ns()
        due = min(n - 1, max(0, (now - start_ns) // slice_ns))
        sched.next_index = due
        self._slice(sched, now)
        if sched.next_index < n:
            first = start_ns + sched.next_index * slice_ns
            self._clock.set_alarm(self._name(sched), first, self._tick_for(sched))

    def stop(self, entry: Entry) -> None:
        """Forget a parent's schedule (cancelled or done)."""
        sched = self._schedules.pop(entry.order.client_order_id, None)
        if sched is not None:
            self._clock.cancel(self._name(sched))

    def schedule_over(self, entry: Entry) -> bool:
        """True when every slice of the parent has been sent."""
        sched = self._schedules.get(entry.order.client_order_id)
        return sched is None or sched.next_index >= len(sched.targets)

    def __len__(self) -> int:
        return len(self._schedules)

    def _name(self, sched: _Schedule) -> str:
        return f"algo:{sched.entry.order.client_order_id}"

    def _tick_for(self, sched: _Schedule) -> Callable[[int], None]:
        def tick(due_ns: int) -> None:
            if self._schedules.get(sched.entry.order.client_order_id) is not sched:
                return
            self._slice(sched, due_ns)
            if sched.next_index < len(sched.targets):
                at = sched.start_ns + sched.next_index * sched.slice_ns
                self._clock.set_alarm(self._name(sched), at, tick)

        return tick

    def _slice(self, sched: _Schedule, ts_ns: int) -> None:
        k = sched.next_index
        if k >= len(sched.targets):
            return
        parent = sched.entry.order
        done = parent.filled_qty + self._host.working_child_qty(sched.entry)
        qty = sched.targets[k] - done
        sched.next_index = k + 1
        if qty > 0 and not parent.status.is_terminal:
            self._host.submit_child(sched.entry, qty, sched.params, ts_ns)
        if sched.next_index >= len(sched.targets) and self._host.working_child_qty(
                sched.entry) == 0 and not sched.entry.order.status.is_terminal:
            self._host.finish_parent(sched.entry, ts_ns)
