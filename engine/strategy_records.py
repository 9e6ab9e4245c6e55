"""What the database records of the strategies: a ``strategies`` row per configured strategy
(what it is, whether it runs, its realized result) and a ``strategy_runs`` row per
deployment (one instance from its start to its stop: which code and config ran, when, and
how it ended).

:class:`StrategyRecorder` compares the host's strategies with what it last recorded and
publishes the differences: call :meth:`sync` at start, every second or so, and with
``final=True`` at shutdown. A new instance (a reload, a resume, a replaced class) ends the
previous run (``stopped``, "reloaded") and starts one; a halt ends it ``failed`` when the
guard stopped the strategy (a hook raised or ran over its budget), ``stopped`` when an
operator or the config did.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, NamedTuple, get_args

import orjson

from engine.ids import StrategyId, uuid7
from engine.plugins import config_dict
from engine.store.records import StrategyRecord, StrategyRun, StrategyType

__all__ = ["StrategyFigures", "StrategyRecorder", "code_version", "config_hash"]

_TYPES: Final = frozenset(get_args(StrategyType))
Deployed = tuple[StrategyId, str, Any, str | None, bool]
"""``StrategyHost.deployed()``: id, class, instance, halt reason, stopped by the guard."""


def config_hash(config: dict[str, Any]) -> str:
    """A short hash of a config: equal configs, equal hashes."""
    text = orjson.dumps(config, default=str, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(text).hexdigest()[:16]


def code_version(strategy: Any) -> str:
    """A short hash of the source file of the strategy's class ("" when it has none)."""
    try:
        path = inspect.getsourcefile(type(strategy))
        if path is None:
            return ""
        with open(path, "rb") as source:
            return hashlib.sha256(source.read()).hexdigest()[:16]
    except (OSError, TypeError):
        return ""


class StrategyFigures(NamedTuple):
    """A strategy's results so far: the PnL its fills realized net of fees, its fills, and
    its win rate (wins over the fills that closed exposure; None before any)."""

    pnl: Decimal = Decimal(0)
    fills: int = 0
    win_rate: float | None = None


@dataclass(slots=True)
class _Run:
    record: StrategyRun
    instance: Any
    running: bool


class StrategyRecorder:
    """Publishes ``StrategyRecord`` and ``StrategyRun`` records as the strategies change."""

    def __init__(self, publish: Callable[[Any], None],
                 realized: Callable[[], dict[StrategyId, StrategyFigures]]) -> None:
        """``realized()``: each strategy's figures so far."""
        self._publish = publish
        self._realized = realized
        self._runs: dict[StrategyId, _Run] = {}
        self._rows: dict[StrategyId, tuple[Any, ...]] = {}
        self.last_signal_ns: dict[StrategyId, int] = {}

    def sync(self, deployed: Iterable[Deployed], now_ns: int, *, final: bool = False) -> None:
        """Record what changed since the last call (``final``: the engine stops)."""
        figures = self._realized()
        for sid, spec, instance, halted, failed in deployed:
            running = halted is None and not final
            run = self._runs.get(sid)
            if run is not None and run.running and (run.instance is not instance or not running):
                reason: str | None = halted
                end = "failed" if failed else "stopped"
                if run.instance is not instance:
                    end, reason = "stopped", "reloaded"
                elif final and halted is None:
                    reason = "engine shutdown"
                self._end(run, end, reason, now_ns)
            if running and (run is None or run.instance is not instance or not run.running):
                self._start(sid, spec, instance, now_ns)
            self._row(sid, instance, running, figures.get(sid), now_ns)

    def _start(self, sid: StrategyId, spec: str, instance: Any, now_ns: int) -> None:
        config = config_dict(instance.config)
        record = StrategyRun(id=uuid7(), strategy_id=sid, started_ns=now_ns,
                             code_version=code_version(instance),
                             config_hash=config_hash(config), config={"class": spec, **config})
        self._runs[sid] = _Run(record, instance, True)
        self._publish(record)

    def _end(self, run: _Run, status: Any, reason: str | None, now_ns: int) -> None:
        run.running = False
        run.record = dataclasses.replace(run.record, status=status, stopped_ns=now_ns,
                                         stop_reason=reason)
        self._publish(run.record)

    def _row(self, sid: StrategyId, instance: Any, running: bool,
             figures: StrategyFigures | None, now_ns: int) -> None:
        pnl, fills, win_rate = figures or StrategyFigures()
        # a new config comes with a new instance (a reload): its identity stands for it
        key = (instance, running, pnl, fills, win_rate, self.last_signal_ns.get(sid))
        if self._rows.get(sid) == key:
            return
        self._rows[sid] = key
        kind: StrategyType = getattr(instance, "strategy_type", "custom")
        config = config_dict(instance.config)
        doc = (inspect.getdoc(type(instance)) or "").strip().splitlines()
        self._publish(StrategyRecord(
            name=sid, strategy_type=kind if kind in _TYPES else "custom", ts_ns=now_ns,
            config=config, active=running, description=doc[0] if doc else None,
            total_pnl=pnl, num_trades=fills, win_rate=win_rate,
            last_signal_ns=self.last_signal_ns.get(sid)))

