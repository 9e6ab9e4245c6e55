"""The risk engine: pre-trade checks, portfolio guards, kill switch, persisted state.

- :meth:`RiskEngine.check` is the OMS's pre-trade hook. A rejection is published as
  :class:`OrderRiskRejected` (for live consumers), a ``RiskEventRecord`` (the
  ``risk_events`` row) and an alert (repeats spaced by ``reject_alert_interval_s``:
  :mod:`engine.risk.reject_alerts`), and returned as the order's reject reason
  ``"<check>: <reason>"``.
- :meth:`RiskEngine.on_equity` (a portfolio equity listener, :mod:`engine.risk.guards`)
  runs the guards of seed 003:
  daily loss (percent of the day's starting equity), drawdown from the high-water mark
  (percent), optional profit target. A breach moves the state to the configured action
  (REDUCING or HALTED); guards never relax it, except that a state set by the daily-loss
  guard returns to ACTIVE at the next UTC day. Warnings are alerted at
  ``warn_at_fraction`` of a limit, once per day per guard.
- Operators: :meth:`set_kill_switch`, :meth:`set_state`, :meth:`reset_halt`.

Every state change is saved to the :class:`RiskStateStore` before it is published as
:class:`RiskStateChanged`, a ``RiskEventRecord`` (decision halt / warn / resume) and an
alert.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from engine.bus import MessageBus
from engine.clock import Clock
from engine.model import NS_PER_S, Alert, AlertSeverity, Order
from engine.risk.checks import OpenOrdersView, PortfolioView, PreTradeChecks
from engine.risk.config import RiskConfig
from engine.risk.guards import PortfolioGuards
from engine.risk.reject_alerts import RejectionAlerts
from engine.risk.state import (
    OrderRiskRejected,
    RiskError,
    RiskSnapshot,
    RiskState,
    RiskStateChanged,
    RiskStateStore,
)
from engine.store.records import RiskDecision, RiskEventRecord

__all__ = ["RiskEngine"]

_log = logging.getLogger(__name__)
_DECISION: dict[RiskState, RiskDecision] = {
    RiskState.ACTIVE: "resume", RiskState.REDUCING: "warn", RiskState.HALTED: "halt"}
_SEVERITY = {RiskState.ACTIVE: AlertSeverity.INFO, RiskState.REDUCING: AlertSeverity.WARNING,
             RiskState.HALTED: AlertSeverity.CRITICAL}


class RiskEngine(PortfolioGuards):
    """Risk of one account: see the module docstring."""

    name = "risk"

    def __init__(self, *, bus: MessageBus, clock: Clock, config: RiskConfig,
                 portfolio: PortfolioView, orders: OpenOrdersView, store: RiskStateStore,
                 starting_equity: Decimal) -> None:
        self.config = config
        self._publish = bus.publish
        self._clock = clock
        self._store = store
        self.checks = PreTradeChecks(config, clock, portfolio, orders)
        self._state_listeners: list[Callable[[RiskStateChanged], None]] = []
        self._warned: set[tuple[str, str]] = set()
        self._last_save_ns = 0
        self._hwm_dirty = False
        self.rejections: dict[str, int] = {}
        self._reject_alerts = RejectionAlerts(int(config.reject_alert_interval_s * NS_PER_S))
        loaded = store.load()
        self.snapshot = loaded or RiskSnapshot(initial_equity=starting_equity,
                                               high_water_mark=starting_equity)
        self.state = self.snapshot.state
        self._save_ns = config.save_interval_s * NS_PER_S
        self._init_guards()
        if loaded is None:
            store.save(self.snapshot)
        elif loaded.state is not RiskState.ACTIVE:
            _log.warning("risk state restored: %s (%s: %s)", loaded.state.value,
                         loaded.source, loaded.reason)

    def reload(self) -> None:
        """Adopt the store's state again (after a store that reads a database has opened,
        before any event flows)."""
        loaded = self._store.load()
        if loaded is None or loaded == self.snapshot:
            return
        self.snapshot = loaded
        self.state = loaded.state
        self._day_lo = self._day_hi = 0
        self._set_bounds()
        if loaded.state is not RiskState.ACTIVE:
            _log.warning("risk state restored: %s (%s: %s)", loaded.state.value,
                         loaded.source, loaded.reason)

    # -- pre-trade -------------------------------------------------------------------------

    def check(self, order: Order, price: Decimal | None) -> str | None:
        """The OMS's hook: None to pass, else the reject reason (recorded and alerted)."""
        verdict = self.checks.check(order, price, self.state)
        if verdict is None:
            return None
        check, reason = verdict
        self.rejections[check] = self.rejections.get(check, 0) + 1
        ts = self._clock.now_ns()
        self._publish(OrderRiskRejected(
            ts_ns=ts, check=check, reason=reason, order_id=order.id,
            client_order_id=order.client_order_id, strategy_id=order.strategy_id,
            symbol=order.symbol, state=self.state))
        self._publish(RiskEventRecord(
            ts_ns=ts, check=check, decision="reject", order_id=order.id, symbol=order.symbol,
            strategy_id=order.strategy_id, message=reason,
            details={"state": self.state.value, "client_order_id": order.client_order_id}))
        # info, not warning: a strategy that keeps trying would flood the journal; every
        # rejection is a risk_events row, and its first in a while an alert
        _log.info("order rejected: %s: %s", check, reason)
        held_back = self._reject_alerts.admit((order.strategy_id, order.symbol, check), ts)
        if held_back is not None:
            more = f" ({held_back} more like it since the last alert)" if held_back else ""
            self._publish(Alert(
                severity=AlertSeverity.WARNING, category="risk",
                title=f"order rejected: {check}", message=reason + more, ts_ns=ts,
                symbol=order.symbol, order_id=order.id, strategy_id=order.strategy_id))
        return f"{check}: {reason}"

    # -- operators -------------------------------------------------------------------------

    def set_kill_switch(self, on: bool, actor: str, reason: str) -> RiskState:
        """Kill switch on: HALTED (and working orders cancelled); off: lifts a halt it set."""
        ts = self._clock.now_ns()
        snap = self.snapshot
        if on:
            self.snapshot = msgspec.structs.replace(snap, kill_switch=True)
            self._transition(RiskState.HALTED, "kill_switch", reason or "kill switch on", actor,
                             ts, {"kill_switch": True}, force_event=True)
        else:
            self.snapshot = msgspec.structs.replace(snap, kill_switch=False)
            target = RiskState.ACTIVE if snap.source == "kill_switch" else self.state
            self._transition(target, "kill_switch", reason or "kill switch off", actor, ts,
                             {"kill_switch": False}, force_event=True)
        return self.state

    def set_state(self, state: RiskState, actor: str, reason: str) -> RiskState:
        """An operator's change of state (any direction); refused while the kill switch is on
        unless the state is HALTED."""
        if self.snapshot.kill_switch and state is not RiskState.HALTED:
            raise RiskError("kill switch is on: turn it off first")
        self._transition(state, "operator", reason, actor, self._clock.now_ns(), {},
                         force_event=True)
        return self.state

    def reset_halt(self, actor: str, reason: str) -> RiskState:
        """Back to ACTIVE after a halt or reduce (same as ``set_state(ACTIVE, ...)``)."""
        return self.set_state(RiskState.ACTIVE, actor, reason)

    def add_state_listener(self, listener: Callable[[RiskStateChanged], None]) -> None:
        """Call ``listener(event)`` after every state change (e.g. cancel orders on halt)."""
        self._state_listeners.append(listener)

    # -- internals -------------------------------------------------------------------------

    def _transition(self, target: RiskState, source: str, reason: str, actor: str, ts: int,
                    details: dict[str, Any], *, force_event: bool = False) -> None:
        previous = self.state
        if target is previous and not force_event:
            return
        self.state = target
        self.snapshot = msgspec.structs.replace(
            self.snapshot, state=target, source=source, reason=reason, actor=actor,
            since_ns=ts, version=self.snapshot.version + 1)
        self._set_bounds()
        self._save(ts)
        event = RiskStateChanged(ts_ns=ts, previous=previous, state=target, source=source,
                                 reason=reason, actor=actor,
                                 kill_switch=self.snapshot.kill_switch, details=details)
        _log.warning("risk state %s -> %s by %s (%s): %s", previous.value, target.value, actor,
                     source, reason)
        self._publish(event)
        self._publish(RiskEventRecord(
            ts_ns=ts, check=source, decision=_DECISION[target], message=reason,
            details={"previous": previous.value, "state": target.value, "actor": actor,
                     "kill_switch": self.snapshot.kill_switch, **details}))
        self._publish(Alert(
            severity=_SEVERITY[target], category="risk",
            title=f"risk state {previous.value} -> {target.value}",
            message=f"{source} by {actor}: {reason}", ts_ns=ts))
        for listener in self._state_listeners:
            listener(event)

    def _save(self, ts: int) -> None:
        self._store.save(self.snapshot)
        self._last_save_ns = ts
        self._hwm_dirty = False

    def status(self) -> dict[str, Any]:
        """For /status."""
        snap = self.snapshot
        return {"state": self.state.value, "source": snap.source, "reason": snap.reason,
                "actor": snap.actor, "since_ns": snap.since_ns, "kill_switch": snap.kill_switch,
                "high_water_mark": str(snap.high_water_mark), "day": snap.day,
                "day_start_equity": str(snap.day_start_equity), "rejections": self.rejections,
                "rejections_not_alerted": self._reject_alerts.held_back}

    def flush(self) -> None:
        """Persist now (at shutdown)."""
        self._save(self._clock.now_ns())
