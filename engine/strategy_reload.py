"""Hot reload, the part of :class:`~engine.strategy_host.StrategyHost` that swaps strategy
code and config while the engine runs (a mixin: the host provides what is declared here)."""

from __future__ import annotations

import logging
from typing import Any, Final

from engine.bus import MessageBus
from engine.clock import Clock
from engine.ids import StrategyId
from engine.model import Alert, AlertSeverity
from engine.plugins import (
    LoadedStrategy,
    PluginError,
    config_dict,
    reload_class,
    validate_config,
)
from engine.strategy_slot import DEFAULT_BUDGET_MS, DISABLED, StrategySlot
from engine.strategy_state import decode_state, encode_state

__all__ = ["StrategyReloads"]

_log: Final = logging.getLogger("engine.strategy_host")  # what operators filter on


class StrategyReloads:
    """Mixin of :class:`~engine.strategy_host.StrategyHost`: reload, add, replace, disable."""

    # Set by StrategyHost.__init__; declared here, where the reloads use them (mypyc
    # compiles both classes and needs every attribute declared on the class that reads it).
    _slots: dict[StrategyId, StrategySlot]
    _bus: MessageBus
    _clock: Clock
    _started: bool

    def add(self, loaded: LoadedStrategy) -> None:
        """Provided by StrategyHost."""
        raise NotImplementedError

    def halt(self, strategy_id: StrategyId, reason: str, exc: BaseException | None = None,
             failed: bool = False) -> None:
        """Provided by StrategyHost."""
        raise NotImplementedError

    def _call_once(self, slot: StrategySlot, hook: str) -> None:
        raise NotImplementedError

    def _raised(self, slot: StrategySlot, hook: str, exc: Exception) -> None:
        raise NotImplementedError

    def saved_states(self) -> dict[StrategyId, tuple[str, str]]:
        """Each running strategy's ``on_save`` as JSON text, with its ``class``; one whose
        ``on_save`` raises, or returns what JSON cannot hold, is halted (its state could not
        survive a restart)."""
        out: dict[StrategyId, tuple[str, str]] = {}
        for sid, slot in list(self._slots.items()):
            if slot.halted is None:
                try:
                    out[sid] = (slot.loaded.spec, encode_state(slot.loaded.strategy.on_save()))
                except Exception as exc:
                    self._raised(slot, "on_save", exc)
        return out

    def load_states(self, saved: dict[StrategyId, tuple[str, str]]) -> list[StrategyId]:
        """Before :meth:`start`: give each strategy what it saved in the previous run
        (``on_load``), when its ``class`` is the same; the ids given their state. One whose
        ``on_load`` raises is halted: started blank, it would act beside the position and the
        orders it left."""
        restored: list[StrategyId] = []
        for sid, slot in self._slots.items():
            entry = saved.get(sid)
            if entry is None or slot.halted is not None:
                continue
            spec, text = entry
            if spec != slot.loaded.spec:
                _log.warning("strategy %s: its saved state is of class %s, not %s: not loaded",
                             sid, spec, slot.loaded.spec)
                continue
            try:
                slot.loaded.strategy.on_load(decode_state(text))
            except Exception as exc:
                self._raised(slot, "on_load", exc)
            else:
                restored.append(sid)
        return restored

    def _reindex(self) -> None:
        raise NotImplementedError

    def reload(self, strategy_id: StrategyId, table: dict[str, Any] | None = None) -> None:
        """Re-import a strategy's module (and config), handing state over via on_save/on_load.

        On failure the old instance keeps running and an alert says why.
        """
        slot = self._slots[strategy_id]
        old = slot.loaded.strategy
        try:
            new_cls = reload_class(type(old))
            params = old.config if table is None else validate_config(
                new_cls.config_class,
                {k: v for k, v in table.items() if k not in ("name", "class", "enabled",
                                                             "budget_ms")},
                f"strategy {strategy_id}",
            )
            if not isinstance(params, new_cls.config_class):
                params = validate_config(new_cls.config_class,
                                         config_dict(params), f"strategy {strategy_id}")
            budget = slot.loaded.budget_ms if table is None else table.get("budget_ms")
            if budget is not None and (not isinstance(budget, int | float) or budget <= 0):
                raise ValueError(f"budget_ms: expected a number > 0, got {budget!r}")
            new = new_cls(strategy_id, params)
            # through JSON, as at a restart: on_load sees one form of its state
            state = decode_state(encode_state(old.on_save())) if slot.halted is None else {}
            new.on_load(state)
        except Exception as exc:  # PluginError, ConfigError, or the plugin's own error
            reason = str(exc) if isinstance(exc, PluginError) else repr(exc)
            _log.error("reload of strategy %s failed; keeping the running version: %s",
                       strategy_id, reason)
            slot.extra["reload_failed"] = True
            self._bus.publish(Alert(
                severity=AlertSeverity.ERROR, category="strategy", title="reload failed",
                message=f"{strategy_id}: {reason}", ts_ns=self._clock.now_ns(),
                strategy_id=strategy_id))
            return
        loaded = LoadedStrategy(new, slot.loaded.spec, new_cls.__module__, True,
                                None if budget is None else float(budget))
        self._slots[strategy_id] = StrategySlot(loaded, slot.context,
                                         int((budget or DEFAULT_BUDGET_MS) * 1e6))
        self._reindex()
        if self._started:
            self._call_once(self._slots[strategy_id], "on_start")
        _log.info("strategy %s reloaded", strategy_id)

    def reload_all(self, tables: list[dict[str, Any]]) -> dict[str, str]:
        """Apply a new ``[[strategies]]`` list: reload the kept ones (code and config), add
        new ones, halt removed ones. Market data and open orders are untouched."""
        from engine.plugins import instantiate

        outcome: dict[str, str] = {}
        wanted = {str(t.get("name")) for t in tables}
        for index, table in enumerate(tables):
            sid = StrategyId(str(table.get("name")))
            if sid in self._slots and table.get("enabled", True) is False:
                if self._slots[sid].halted is None:  # disabled now: stop it, do not reload
                    self.halt(sid, DISABLED)
                outcome[sid] = "disabled"
            elif sid in self._slots and table.get("class") != self._slots[sid].loaded.spec:
                outcome[sid] = self._replace(index, sid, table)
            elif sid in self._slots:
                self.reload(sid, table)
                outcome[sid] = "reload failed" if self._reload_failed(sid) else "reloaded"
            else:
                try:
                    self.add(instantiate(index, table))
                    outcome[sid] = "added"
                except Exception as exc:
                    outcome[sid] = f"not added: {exc}"
                    self._bus.publish(Alert(
                        severity=AlertSeverity.ERROR, category="strategy", title="reload failed",
                        message=f"{sid}: {exc}", ts_ns=self._clock.now_ns(), strategy_id=sid))
        for sid in list(self._slots):
            if sid not in wanted and self._slots[sid].halted is None:
                self.halt(sid, "removed from the config")
                outcome[sid] = "halted"
        return outcome

    def _replace(self, index: int, sid: StrategyId, table: dict[str, Any]) -> str:
        """Another class under a running strategy's name: a new strategy (its state is not
        handed over; its orders and position, which belong to the name, are)."""
        from engine.plugins import instantiate

        try:
            loaded = instantiate(index, table)
        except Exception as exc:
            self._bus.publish(Alert(
                severity=AlertSeverity.ERROR, category="strategy", title="reload failed",
                message=f"{sid}: {exc}", ts_ns=self._clock.now_ns(), strategy_id=sid))
            return f"not replaced: {exc}"
        old = self._slots[sid]
        if old.halted is None and self._started:
            self._call_once(old, "on_stop")
        self.add(loaded)
        _log.info("strategy %s replaced: %s -> %s", sid, old.loaded.spec, loaded.spec)
        return "replaced"

    def _reload_failed(self, strategy_id: StrategyId) -> bool:
        return bool(self._slots[strategy_id].extra.pop("reload_failed", False))

