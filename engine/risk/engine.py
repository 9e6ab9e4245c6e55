"""The risk engine: pre-trade checks, portfolio guards, kill switch, persisted state.

- :meth:`RiskEngine.check` is the OMS's pre-trade hook. A rejection is published as
  :class:`OrderRiskRejected` (for live consumers), a ``RiskEventRecord`` (the
  ``risk_events`` row) and an alert, and returned as the order's reject reason
  ``"<check>: <reason>"``.
- :meth:`RiskEngine.on_equity` (a portfolio equity listener) runs the guards of seed 003:
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
from engine.portfolio.performance import day_bounds, day_of
from engine.risk.checks import OpenOrdersView, PortfolioView, PreTradeChecks
from engine.risk.config import RiskConfig
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
_HUNDRED = Decimal(100)
_INF = Decimal("Infinity")
_NEG_INF = Decimal("-Infinity")
_MARGIN = Decimal("1e-18")
_STATE = {"reducing": RiskState.REDUCING, "halted": RiskState.HALTED}
_DECISION: dict[RiskState, RiskDecision] = {
    RiskState.ACTIVE: "resume", RiskState.REDUCING: "warn", RiskState.HALTED: "halt"}
_SEVERITY = {RiskState.ACTIVE: AlertSeverity.INFO, RiskState.REDUCING: AlertSeverity.WARNING,
             RiskState.HALTED: AlertSeverity.CRITICAL}


class RiskEngine:
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
        loaded = store.load()
        self.snapshot = loaded or RiskSnapshot(initial_equity=starting_equity,
                                               high_water_mark=starting_equity)
        self.state = self.snapshot.state
        self._save_ns = config.save_interval_s * NS_PER_S
        self._day_lo = self._day_hi = 0  # the first mark checks the day
        self._hwm: Decimal | None = None
        self._dd_k: Decimal | None = None
        self._loss_floor = self._floor = _NEG_INF
        self._ceiling = _INF
        self._set_bounds()
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
        self._publish(Alert(
            severity=AlertSeverity.WARNING, category="risk", title=f"order rejected: {check}",
            message=reason, ts_ns=ts, symbol=order.symbol, order_id=order.id,
            strategy_id=order.strategy_id))
        return f"{check}: {reason}"

    # -- guards ----------------------------------------------------------------------------

    def on_equity(self, ts_ns: int, equity: Decimal) -> None:
        """Run the guards on a new equity mark (a portfolio equity listener).

        Usually two comparisons: the guards' exact figures are computed only when equity is
        at or beyond a bound where one of them could act (see :meth:`_set_bounds`).
        """
        if not self._day_lo <= ts_ns < self._day_hi:
            self._check_day(ts_ns, equity)
        hwm = self._hwm
        if hwm and equity > hwm:
            self.snapshot = msgspec.structs.replace(self.snapshot, high_water_mark=equity)
            self._hwm = equity
            self._hwm_dirty = True
            if self._dd_k is not None:
                self._floor = max(self._loss_floor, equity * self._dd_k)
        if equity <= self._floor or equity >= self._ceiling:
            self._run_guards(ts_ns, equity)
        if self._hwm_dirty and ts_ns - self._last_save_ns >= self._save_ns:
            self._save(ts_ns)

    def _check_day(self, ts_ns: int, equity: Decimal) -> None:
        self._day_lo, self._day_hi = day_bounds(ts_ns)
        day = day_of(ts_ns).isoformat()
        if self.snapshot.day != day:
            self._new_day(ts_ns, day, equity)

    def _run_guards(self, ts_ns: int, equity: Decimal) -> None:
        snap = self.snapshot
        hwm = snap.high_water_mark or equity
        cfg = self.config
        start = snap.day_start_equity or equity
        figures = {"equity": str(equity), "high_water_mark": str(hwm),
                   "day_start_equity": str(start)}
        if cfg.max_daily_loss_pct is not None and start > 0:
            loss = (start - equity) / start * _HUNDRED
            self._guard("daily_loss", loss, cfg.max_daily_loss_pct, cfg.daily_loss_action,
                        ts_ns, f"daily loss {loss:.2f}% >= {cfg.max_daily_loss_pct}%", figures)
        if cfg.max_drawdown_pct is not None and hwm > 0:
            dd = (hwm - equity) / hwm * _HUNDRED
            self._guard("drawdown", dd, cfg.max_drawdown_pct, cfg.drawdown_action, ts_ns,
                        f"drawdown {dd:.2f}% from high-water mark {hwm} >= "
                        f"{cfg.max_drawdown_pct}%", figures)
        initial = snap.initial_equity
        if cfg.profit_target_pct is not None and initial:
            gain = (equity - initial) / initial * _HUNDRED
            self._guard("profit_target", gain, cfg.profit_target_pct, cfg.profit_target_action,
                        ts_ns, f"profit {gain:.2f}% reached target {cfg.profit_target_pct}%",
                        figures)

    def _act_at(self, name: str, limit: Decimal | None, action: str) -> Decimal | None:
        """The smallest figure (percent) at which guard ``name`` does anything in the current
        state: trips (when that makes the state stricter) or warns (once a day); None when
        it can do nothing."""
        if limit is None:
            return None
        trips = _STATE[action].rank > self.state.rank
        warns = (name, self.snapshot.day or "") not in self._warned
        warn_at = limit * self.config.warn_at_fraction
        if trips:
            return min(limit, warn_at) if warns else limit
        return warn_at if warns else None

    def _set_bounds(self) -> None:
        """Recompute the equity bounds outside which :meth:`_run_guards` must run.

        Called when the day, the state or a warning changes (a rising high-water mark only
        moves the drawdown floor). Each bound carries a relative slack of 1e-18, far above
        the rounding of the guards' Decimal arithmetic, so the exact guards run on every
        mark where they could act: they trip on exactly the same mark as without bounds.
        A bound that cannot be stated (e.g. no high-water mark) makes every mark run them.
        """
        cfg, snap = self.config, self.snapshot
        act = self._act_at("daily_loss", cfg.max_daily_loss_pct, cfg.daily_loss_action)
        start = snap.day_start_equity
        if act is None:
            self._loss_floor = _NEG_INF
        elif not start:
            self._loss_floor = _INF
        else:
            self._loss_floor = (start * (_HUNDRED - act) / _HUNDRED + start * _MARGIN
                                if start > 0 else _NEG_INF)
        act = self._act_at("drawdown", cfg.max_drawdown_pct, cfg.drawdown_action)
        hwm = self._hwm = snap.high_water_mark
        self._dd_k = None
        if act is None:
            dd_floor = _NEG_INF
        elif not hwm:
            dd_floor = _INF
        elif hwm > 0:
            self._dd_k = (_HUNDRED - act) / _HUNDRED + _MARGIN
            dd_floor = hwm * self._dd_k
        else:
            dd_floor = _NEG_INF
        self._floor = max(self._loss_floor, dd_floor)
        act = self._act_at("profit_target", cfg.profit_target_pct, cfg.profit_target_action)
        initial = snap.initial_equity
        if act is None or not initial:
            self._ceiling = _INF
        else:
            self._ceiling = (initial * (_HUNDRED + act) / _HUNDRED - initial * _MARGIN
                             if initial > 0 else _NEG_INF)

    def _guard(self, name: str, value: Decimal, limit: Decimal, action: str, ts: int,
               reason: str, figures: dict[str, str]) -> None:
        if value >= limit:
            target = _STATE[action]
            if target.rank > self.state.rank:
                self._transition(target, f"guard:{name}", reason, "risk-engine", ts,
                                 {"guard": name, "value": str(value), **figures})
        elif value >= limit * self.config.warn_at_fraction:
            key = (name, self.snapshot.day or "")
            if key not in self._warned:
                self._warned.add(key)
                self._set_bounds()
                self._publish(RiskEventRecord(
                    ts_ns=ts, check=name, decision="warn", limit_value=limit,
                    observed_value=value, message=f"{name} near its limit", details=figures))
                self._publish(Alert(
                    severity=AlertSeverity.WARNING, category="risk",
                    title=f"{name} near its limit",
                    message=f"{name} at {value:.2f}% of limit {limit}%", ts_ns=ts))

    def _new_day(self, ts: int, day: str, equity: Decimal) -> None:
        snap = self.snapshot
        self.snapshot = msgspec.structs.replace(snap, day=day, day_start_equity=equity)
        self._warned.clear()
        self._set_bounds()
        if snap.day is not None and snap.source == "guard:daily_loss" and (
                self.state is not RiskState.ACTIVE and not snap.kill_switch):
            self._transition(RiskState.ACTIVE, "daily_reset", f"new trading day {day}",
                             "risk-engine", ts, {})
        else:
            self._save(ts)

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
                "day_start_equity": str(snap.day_start_equity), "rejections": self.rejections}

    def flush(self) -> None:
        """Persist now (at shutdown)."""
        self._save(self._clock.now_ns())
