"""Runs strategy plugins: dispatch from the bus, the guard, halting (hot reload comes from
the :class:`~engine.strategy_reload.StrategyReloads` mixin).

Every call into a plugin goes through the guard (:meth:`StrategyHost._call`, and its twin
for the per-bar hook, inlined in :meth:`StrategyHost.on_bar`): an exception, or an event
hook (not ``on_start``/``on_stop``) that runs longer than its budget, halts that strategy
(its working orders are cancelled when ``cancel_on_halt``), publishes a critical
:class:`Alert`, and the other strategies go on. A halted strategy gets no further events
until it is reloaded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

from engine.bus import MessageBus
from engine.clock import Clock
from engine.events import OrderEvent, OrderFilled
from engine.ids import StrategyId
from engine.metrics import MetricsBuilder
from engine.model import Alert, AlertSeverity, Bar, Signal, TradeTick
from engine.oms.children import is_rollup
from engine.plugins import LoadedStrategy, named_timeframes
from engine.strategy import IndicatorSource, Strategy
from engine.strategy_context import StrategyActions, StrategyContext
from engine.strategy_reload import StrategyReloads
from engine.strategy_slot import DEFAULT_BUDGET_MS, DISABLED, StrategySlot

__all__ = ["DISABLED", "StrategyActions", "StrategyContext", "StrategyHost"]

_log: Final = logging.getLogger(__name__)

_now: Final = time.perf_counter_ns


class StrategyHost(StrategyReloads):
    """Owns the strategy instances and routes events to them through the guard."""

    def __init__(self, *, bus: MessageBus, clock: Clock, indicators: IndicatorSource,
                 actions: StrategyActions, bars: Callable[[str, str], Any],
                 cancel_on_halt: bool = True, subscribe_bars: bool = True,
                 enforce_budget: bool = True) -> None:
        """``subscribe_bars=False`` when bars arrive through the indicator hub instead
        (which calls :meth:`on_bar` once the indicators include the bar).
        ``enforce_budget=False`` records hooks over budget (``over_budget`` in
        :meth:`status`) without halting: a backtest must not depend on wall time."""
        self._bus = bus
        self._clock = clock
        self._indicators = indicators
        self._actions = actions
        self._bars = bars
        self._cancel_on_halt = cancel_on_halt
        self._subscribe_bars = subscribe_bars
        self._enforce_budget = enforce_budget
        self._slots: dict[StrategyId, StrategySlot] = {}
        self._by_symbol: dict[str, list[StrategySlot]] = {}
        self._started = False

    # -- set-up ------------------------------------------------------------------------------

    def add(self, loaded: LoadedStrategy) -> None:
        """Register a strategy (before or after start)."""
        strategy = loaded.strategy
        context = StrategyContext(strategy.id, clock=self._clock, bus=self._bus,
                                  indicators=self._indicators, actions=self._actions,
                                  bars=self._bars)
        budget_ms = loaded.budget_ms or DEFAULT_BUDGET_MS
        slot = StrategySlot(loaded, context, int(budget_ms * 1e6))
        if not loaded.enabled:
            slot.halted = DISABLED
        self._slots[strategy.id] = slot
        self._reindex()
        if self._started and slot.halted is None:
            self._call_once(slot, "on_start")

    def start(self) -> None:
        """Call every strategy's ``on_start`` and subscribe to the bus."""
        if self._subscribe_bars:
            self._bus.subscribe(Bar, self.on_bar)
        self._bus.subscribe(TradeTick, self.on_trade)
        self._bus.subscribe(OrderEvent, self.on_order_event)
        self._bus.subscribe(Signal, self.on_signal)
        self._started = True
        for slot in list(self._slots.values()):
            if slot.halted is None:
                self._call_once(slot, "on_start")

    def stop(self) -> None:
        """Call ``on_stop`` of every running strategy."""
        for slot in self._slots.values():
            if slot.halted is None:
                self._call_once(slot, "on_stop")
        self._bus.unsubscribe(Bar, self.on_bar)
        self._bus.unsubscribe(TradeTick, self.on_trade)
        self._bus.unsubscribe(OrderEvent, self.on_order_event)
        self._bus.unsubscribe(Signal, self.on_signal)
        self._started = False

    @property
    def indicators(self) -> IndicatorSource:
        """The indicator source the strategies' contexts share."""
        return self._indicators

    def timeframes_used(self) -> list[str]:
        """Timeframes the strategies read: their config's ``timeframe``/``timeframes`` and
        those their indicators were requested on (call after :meth:`start`)."""
        used: set[str] = set(getattr(self._indicators, "timeframes", ()))
        for slot in self._slots.values():
            used.update(tf for _, tf in named_timeframes(slot.loaded.strategy.config))
        return sorted(used)

    # -- dispatch ----------------------------------------------------------------------------

    def on_bar(self, bar: Bar) -> None:
        """Deliver a closed bar to the strategies trading its symbol."""
        if not bar.closed:
            return
        for slot in self._by_symbol.get(bar.symbol, ()):
            if slot.halted is None:
                # The guard of _call, inlined for the one hook called at every bar.
                started = _now()
                try:
                    slot.on_bar(slot.context, bar)
                except Exception as exc:
                    self._raised(slot, "on_bar", exc)
                    continue
                elapsed = _now() - started
                slot.calls += 1
                if elapsed > slot.slowest_ns or elapsed > slot.budget_ns:
                    self._slow(slot, "on_bar", elapsed)

    def on_trade(self, trade: TradeTick) -> None:
        """Deliver a public trade to strategies that override ``on_trade``."""
        for slot in self._by_symbol.get(trade.symbol, ()):
            if slot.wants_trades and slot.halted is None:
                self._call(slot, "on_trade", slot.context, trade)

    def on_order_event(self, event: OrderEvent) -> None:
        """Deliver order updates and fills to the strategy that owns the order."""
        owner = event.order.strategy_id
        slot = self._slots.get(owner) if owner is not None else None
        if slot is None or slot.halted is not None or not (
                slot.wants_fills or slot.wants_updates):
            return
        if isinstance(event, OrderFilled):
            if is_rollup(event.order, event.fill):
                return  # a TWAP/VWAP parent echoing its child's fill: delivered once already
            if slot.wants_fills:
                self._call(slot, "on_fill", slot.context, event.fill)
                if slot.halted is not None:
                    return
        if slot.wants_updates:
            self._call(slot, "on_order_update", slot.context, event.order)

    def on_signal(self, signal: Signal) -> None:
        """Deliver an ML or strategy signal to every other running strategy."""
        for slot in self._slots.values():
            if slot.halted is None and slot.loaded.strategy.id != signal.strategy_id:
                self._call(slot, "on_signal", slot.context, signal)

    # -- the guard ---------------------------------------------------------------------------

    def _call(self, slot: StrategySlot, hook: str, *args: Any) -> None:
        started = time.perf_counter_ns()
        try:
            getattr(slot.loaded.strategy, hook)(*args)
        except Exception as exc:
            self._raised(slot, hook, exc)
            return
        self._took(slot, hook, time.perf_counter_ns() - started)

    def _call_once(self, slot: StrategySlot, hook: str) -> None:
        """``on_start``/``on_stop``: guarded, but not held to the time budget: they run once
        per start or reload, and may load a model, or wait while the indicators they ask
        for once data flows are compiled and seeded."""
        try:
            getattr(slot.loaded.strategy, hook)(slot.context)
        except Exception as exc:
            self._raised(slot, hook, exc)
            return
        slot.calls += 1

    def _raised(self, slot: StrategySlot, hook: str, exc: Exception) -> None:
        slot.calls += 1
        slot.errors += 1
        self.halt(slot.loaded.strategy.id, f"{hook} raised {exc.__class__.__name__}: {exc}",
                  exc=exc, failed=True)

    def _took(self, slot: StrategySlot, hook: str, elapsed: int) -> None:
        slot.calls += 1
        self._slow(slot, hook, elapsed)

    def _slow(self, slot: StrategySlot, hook: str, elapsed: int) -> None:
        if elapsed > slot.slowest_ns:
            slot.slowest_ns = elapsed
        if elapsed > slot.budget_ns:
            if not self._enforce_budget:
                slot.over_budget += 1
            elif slot.halted is None:
                self.halt(slot.loaded.strategy.id, f"{hook} took {elapsed / 1e6:.1f} ms, "
                                                   f"budget {slot.budget_ns / 1e6:.0f} ms",
                          failed=True)

    def halt(self, strategy_id: StrategyId, reason: str, exc: BaseException | None = None,
             failed: bool = False) -> None:
        """Stop delivering events to a strategy, cancel its orders by policy, alert.
        ``failed``: the guard stopped it (a hook raised or ran over budget)."""
        slot = self._slots[strategy_id]
        if slot.halted is not None:
            return
        slot.halted = reason
        slot.failed = failed
        slot.halted_at_ns = self._clock.now_ns()
        _log.error("strategy %s halted: %s", strategy_id, reason, exc_info=exc,
                   extra={"strategy": strategy_id})
        cancelled = 0
        if self._cancel_on_halt:
            try:
                cancelled = self._actions.cancel_all(strategy_id)
            except Exception:
                _log.exception("cancelling the orders of halted strategy %s failed", strategy_id)
        self._bus.publish(Alert(
            severity=AlertSeverity.CRITICAL, category="strategy", title="strategy halted",
            message=f"{strategy_id}: {reason}; {cancelled} working orders cancelled",
            ts_ns=slot.halted_at_ns, strategy_id=strategy_id,
        ))

    # -- observation -------------------------------------------------------------------------

    def ids(self) -> list[StrategyId]:
        """Registered strategy ids."""
        return list(self._slots)

    def deployed(self) -> list[tuple[StrategyId, str, Strategy[Any], str | None, bool]]:
        """Each registered strategy: id, ``class``, the instance (a new one after a reload),
        the halt reason (None: running) and whether the guard stopped it."""
        return [(sid, slot.loaded.spec, slot.loaded.strategy, slot.halted, slot.failed)
                for sid, slot in self._slots.items()]

    def is_halted(self, strategy_id: StrategyId) -> bool:
        """True when the strategy receives no events."""
        return self._slots[strategy_id].halted is not None

    def over_budget(self) -> dict[str, tuple[int, float, float]]:
        """Strategies with hooks over their budget (counted where it is not enforced): the
        count, the slowest hook (ms) and the budget (ms), by strategy id."""
        return {sid: (slot.over_budget, slot.slowest_ns / 1e6, slot.budget_ns / 1e6)
                for sid, slot in self._slots.items() if slot.over_budget}

    def history_wanted(self) -> dict[str, dict[str, int]]:
        """By symbol, the ``ctx.bars`` history the running strategies ask for
        (:meth:`Strategy.history_bars`: bars by timeframe, the most any of them asks)."""
        wanted: dict[str, dict[str, int]] = {}
        for slot in self._slots.values():
            if slot.halted is not None:
                continue
            try:
                asked = dict(slot.loaded.strategy.history_bars())
            except Exception:  # the warm start only reads it: no reason to halt for it
                _log.exception("strategy %s: history_bars() failed; no history loaded for it",
                               slot.loaded.strategy.id)
                continue
            for symbol in slot.symbols:
                mine = wanted.setdefault(symbol, {})
                for timeframe, bars in asked.items():
                    mine[timeframe] = max(mine.get(timeframe, 0), int(bars))
        return wanted

    def sells_short(self, strategy_id: str) -> bool:
        """Whether the strategy runs (not halted nor disabled) and sells short."""
        slot = self._slots.get(StrategyId(strategy_id))
        return slot is not None and slot.halted is None and slot.loaded.strategy.sells_short()

    def symbols_missing(self, available: Iterable[str]) -> dict[str, list[str]]:
        """Per running strategy, the symbols it trades that are not ``available`` (which
        it would wait for forever); strategies missing none are left out."""
        have = set(available)
        out = {sid: sorted(slot.symbols - have) for sid, slot in self._slots.items()
               if slot.halted is None}
        return {sid: missing for sid, missing in out.items() if missing}

    def halts(self) -> dict[str, tuple[int, str]]:
        """The halted strategies: when (clock ns) and why, by strategy id."""
        return {sid: (slot.halted_at_ns, slot.halted) for sid, slot in self._slots.items()
                if slot.halted is not None}

    def status(self) -> list[dict[str, Any]]:
        """/status section."""
        return [
            {"id": sid, "class": slot.loaded.spec, "symbols": sorted(slot.symbols),
             "state": "halted" if slot.halted else "running", "halt_reason": slot.halted,
             "calls": slot.calls, "errors": slot.errors,
             "slowest_hook_ms": round(slot.slowest_ns / 1e6, 3),
             "hooks_over_budget": slot.over_budget}
            for sid, slot in self._slots.items()
        ]

    def metrics(self, out: MetricsBuilder) -> None:
        """/metrics samples."""
        for sid, slot in self._slots.items():
            labels = {"strategy": sid}
            out.gauge("strategy_running", "1 while the strategy receives events",
                      float(slot.halted is None), labels)
            out.counter("strategy_hook_calls", "Calls into strategy hooks", slot.calls, labels)
            out.counter("strategy_errors", "Strategy hooks that raised", slot.errors, labels)

    def _reindex(self) -> None:
        index: dict[str, list[StrategySlot]] = {}
        for slot in self._slots.values():
            for symbol in slot.symbols:
                index.setdefault(symbol, []).append(slot)
        self._by_symbol = index
