"""The strategies as an engine service: started with the engine (``on_start``), stopped
before trading (``on_stop``), their state kept between runs, and their deployments
recorded (``strategies`` and ``strategy_runs`` rows: :mod:`engine.strategy_records`).

State between runs: what each running strategy's ``on_save`` returns is written to the
``strategy_state`` table (one row per strategy, the latest wins) every
:data:`SAVE_INTERVAL_S` when it has changed, and once more at shutdown after ``on_stop``.
At the next start each strategy of the same ``class`` gets it back through ``on_load``
before ``on_start``, beside the positions and working orders the ledgers restore. A hard
crash loses at most the last interval's changes. Backtests neither read nor write it: a
backtest starts blank and is deterministic.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Final

from engine.ids import StrategyId
from engine.metrics import MetricsBuilder
from engine.model import Signal
from engine.service import Service
from engine.services import prepare_strategy_data
from engine.strategy_records import StrategyFigures, StrategyRecorder

if TYPE_CHECKING:
    from engine.app import Engine
    from engine.strategy_host import StrategyHost

__all__ = ["SAVE_INTERVAL_S", "StrategiesService"]

_log = logging.getLogger("engine.strategy_host")

SAVE_INTERVAL_S: Final = 1.0
"""How often the running strategies' state is saved when it has changed."""
LOAD_TIMEOUT_S: Final = 30.0


class StrategiesService(Service):
    """Starts strategies (on_start) with the engine; stops them (on_stop) before trading;
    keeps their state between runs unless ``keep_state`` is false (backtests)."""

    name = "strategies"

    def __init__(self, host: StrategyHost, engine: Engine, *, keep_state: bool = True) -> None:
        self.host = host
        self.engine = engine
        self.keep_state = keep_state
        self._saved: dict[StrategyId, tuple[str, str]] = {}
        self.restored: list[StrategyId] = []
        """The strategies given their state from the previous run at this start."""
        self.saves = 0
        self._stopped = False
        self.recorder = StrategyRecorder(engine.bus.publish, self._realized)

    def _realized(self) -> dict[StrategyId, StrategyFigures]:
        trading = self.engine.trading
        if trading is None:
            return {}
        figures: dict[StrategyId, StrategyFigures] = {}
        for sid, t in trading.portfolio.strategy_totals().items():  # the ledger's fills too
            closed = t.wins + t.losses
            figures[sid] = StrategyFigures(t.realized - t.fees, t.fills,
                                           t.wins / closed if closed else None)
        return figures

    def _on_signal(self, signal: Signal) -> None:
        self.recorder.last_signal_ns[signal.strategy_id] = time.time_ns()

    async def start(self) -> None:
        if self.keep_state:
            await self._load()
        self.host.start()
        prepare_strategy_data(self.engine, self.host)  # events flow only after this
        if self._store_ready():
            self.engine.bus.subscribe(Signal, self._on_signal)
            self.recorder.sync(self.host.deployed(), time.time_ns())

    def run(self) -> Any:
        return self._save_every(SAVE_INTERVAL_S) if self._store_ready() else None

    async def stop(self) -> None:
        self.host.stop()
        if self._store_ready() and not self._stopped:
            self.save()  # what on_stop left
            self.recorder.sync(self.host.deployed(), time.time_ns(), final=True)
        self._stopped = True

    def save(self) -> int:
        """Submit the state of each running strategy whose state changed since the last
        save; how many."""
        changed = 0
        now = time.time_ns()
        from engine.store.records import StrategyState  # noqa: PLC0415

        for sid, entry in self.host.saved_states().items():
            if self._saved.get(sid) != entry:
                self._saved[sid] = entry
                self.engine.bus.publish(StrategyState(strategy_id=sid, spec=entry[0],
                                                      state_json=entry[1], ts_ns=now))
                changed += 1
        self.saves += changed
        return changed

    async def _save_every(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            if self._stopped:
                return
            self.save()
            self.recorder.sync(self.host.deployed(), time.time_ns())

    def _store_ready(self) -> bool:
        database = self.engine.database
        return self.keep_state and database.writer is not None and database.account_id is not None

    async def _load(self) -> None:
        database = self.engine.database
        if database.pool is None or database.account_id is None:
            return
        from engine.store import queries  # noqa: PLC0415

        saved = await queries.strategy_states(database.pool, database.account_id,
                                              timeout=LOAD_TIMEOUT_S)
        self._saved = dict(saved)  # unchanged state need not be written again
        self.restored = self.host.load_states(saved)
        if self.restored:
            _log.info("strategies resume with the state they saved",
                      extra={"strategies": self.restored})

    def status(self) -> dict[str, Any]:
        return {"strategies": self.host.status(), "state_restored": list(self.restored),
                "state_saves": self.saves}

    def metrics(self, out: MetricsBuilder) -> None:
        self.host.metrics(out)
