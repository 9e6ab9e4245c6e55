"""The portfolio guards of the risk engine: daily loss, drawdown, profit target.

Split from :mod:`engine.risk.engine` by responsibility: this part watches equity marks and
moves the risk state; the engine checks orders, takes operators' commands and persists.
A mark costs two comparisons: the guards' exact Decimal figures are computed only when
equity reaches a bound at which one of them could act (:meth:`PortfolioGuards._set_bounds`),
so they trip, warn and reset on exactly the marks where computing them on every mark would.
"""

from __future__ import annotations

import logging
import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec

from engine.model import Alert, AlertSeverity
from engine.portfolio.performance import day_bounds, day_of
from engine.risk.state import RiskSnapshot, RiskState
from engine.store.records import RiskEventRecord

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.risk.config import RiskConfig

__all__ = ["PortfolioGuards"]

_log = logging.getLogger("engine.risk.engine")  # with the risk engine's own lines
_HUNDRED = Decimal(100)
_INF = Decimal("Infinity")
_NEG_INF = Decimal("-Infinity")
_MARGIN = Decimal("1e-18")
_STATE = {"reducing": RiskState.REDUCING, "halted": RiskState.HALTED}


class PortfolioGuards:
    """Base of :class:`~engine.risk.engine.RiskEngine`: the guards on equity marks.

    A base class rather than a mixin so that the compiled build (``engine.native``) makes
    the risk engine one native class; :class:`RiskEngine` sets the attributes and defines
    the methods declared here.
    """

    config: RiskConfig
    snapshot: RiskSnapshot
    state: RiskState
    _publish: Callable[[object], None]
    _warned: set[tuple[str, str]]
    _hwm_dirty: bool
    _last_save_ns: int
    _save_ns: float

    def _transition(self, target: RiskState, source: str, reason: str, actor: str,
                    ts: int, details: dict[str, Any], *, force_event: bool = False) -> None:
        raise NotImplementedError  # RiskEngine

    def _save(self, ts: int) -> None:
        raise NotImplementedError  # RiskEngine

    def _init_guards(self) -> None:
        self._bound_watchers: list[Callable[[], None]] = []
        self._day_lo = self._day_hi = 0  # the first mark checks the day
        self._hwm: Decimal | None = None
        self._dd_k: Decimal | None = None
        self._loss_floor = self._floor = _NEG_INF
        self._ceiling = _INF
        self._set_bounds()

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

    def equity_bounds(self) -> tuple[Decimal, Decimal, int]:
        """``(floor, ceiling, until_ns)``: :meth:`on_equity` does nothing on a mark whose
        equity is above ``floor`` and at most ``ceiling`` (the high-water mark, or just
        under the profit target's bound) and whose time is before ``until_ns`` (the day's
        end; a pending save of the high-water mark). The portfolio skips such marks (see
        ``Portfolio.add_guard``)."""
        target = self._ceiling  # the profit target acts at equity >= it: step under it
        if target.is_finite():
            target -= abs(target) * _MARGIN
        hwm = self._hwm
        ceiling = hwm if hwm and hwm < target else target
        until = self._day_hi
        if self._hwm_dirty:  # on_equity saves at ts - last_save >= save_ns (ts is an int)
            until = min(until, self._last_save_ns + math.ceil(self._save_ns))
        return self._floor, ceiling, until

    def watch_bounds(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever :meth:`equity_bounds` changes other than on a mark
        (a state change by an operator, a reload)."""
        self._bound_watchers.append(callback)

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
        for watcher in self._bound_watchers:
            watcher()

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
                _log.warning("%s near its limit: %.2f%% of limit %s%%", name, value, limit)
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
