"""The ``strategies`` and ``strategy_runs`` records of a strategy's life: started, reloaded,
halted by the guard or by an operator, stopped with the engine."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.ids import StrategyId
from engine.plugins import instantiate
from engine.store.records import StrategyRecord, StrategyRun
from engine.strategy_records import (
    StrategyFigures,
    StrategyRecorder,
    code_version,
    config_hash,
)

SID = StrategyId("grid")
TABLE = {"name": "grid", "class": "grid", "symbol": "BTC/USD", "levels": 2}


class World:
    """The recorder's inputs, set by each step."""

    def __init__(self) -> None:
        self.published: list[Any] = []
        self.figures: dict[StrategyId, StrategyFigures] = {}
        self.recorder = StrategyRecorder(self.published.append, lambda: dict(self.figures))
        self.instance = instantiate(0, TABLE).strategy
        self.halted: str | None = None
        self.failed = False
        self.now = 1_000

    def sync(self, *, final: bool = False) -> list[Any]:
        self.now += 1_000
        start = len(self.published)
        self.recorder.sync([(SID, "grid", self.instance, self.halted, self.failed)], self.now,
                           final=final)
        return self.published[start:]


def runs(records: list[Any]) -> list[tuple[str, str | None]]:
    return [(r.status, r.stop_reason) for r in records if isinstance(r, StrategyRun)]


def rows(records: list[Any]) -> list[tuple[bool, Decimal, int]]:
    return [(r.active, r.total_pnl, r.num_trades) for r in records
            if isinstance(r, StrategyRecord)]


def test_a_start_records_the_run_and_the_strategy_then_only_changes() -> None:
    w = World()
    first = w.sync()
    assert runs(first) == [("running", None)] and rows(first) == [(True, Decimal(0), 0)]
    run = first[0]
    assert run.config["class"] == "grid" and run.config["levels"] == 2
    assert run.code_version == code_version(w.instance) != ""
    assert run.config_hash == config_hash({k: v for k, v in run.config.items() if k != "class"})
    row = first[1]
    assert (row.name, row.strategy_type, row.description) == (
        "grid", "grid_trading", "A static price grid, buy low / sell one step higher (and the "
        "reverse).")
    assert w.sync() == []
    w.figures[SID] = StrategyFigures(Decimal("12.5"), 3)
    assert rows(w.sync()) == [(True, Decimal("12.5"), 3)]
    w.figures[SID] = StrategyFigures(Decimal("12.5"), 3, 0.5)  # a win rate alone changes it
    (row,) = w.sync()
    assert row.win_rate == 0.5


def test_a_reload_ends_the_run_and_starts_the_next() -> None:
    w = World()
    started = w.sync()[0]
    w.instance = instantiate(0, {**TABLE, "levels": 3}).strategy
    out = w.sync()
    assert runs(out) == [("stopped", "reloaded"), ("running", None)]
    assert out[0].id == started.id and out[1].id != started.id
    assert out[1].config["levels"] == 3 and out[1].config_hash != started.config_hash


def test_a_guard_halt_fails_the_run_and_an_operator_halt_stops_it() -> None:
    w = World()
    w.sync()
    w.halted, w.failed = "on_bar raised RuntimeError: boom", True
    out = w.sync()
    assert runs(out) == [("failed", "on_bar raised RuntimeError: boom")]
    assert rows(out) == [(False, Decimal(0), 0)]
    assert w.sync(final=True) == []  # nothing runs any more
    w = World()
    w.sync()
    w.halted = "halted by mqtt:ops: drill"
    assert runs(w.sync()) == [("stopped", "halted by mqtt:ops: drill")]


def test_a_resumed_strategy_is_a_new_run_and_shutdown_stops_it() -> None:
    w = World()
    w.sync()
    w.halted, w.failed = "on_bar raised RuntimeError: boom", True
    w.sync()
    w.halted, w.failed = None, False
    w.instance = instantiate(0, TABLE).strategy  # resume-strategy: a fresh instance
    assert runs(w.sync()) == [("running", None)]
    out = w.sync(final=True)
    assert runs(out) == [("stopped", "engine shutdown")]
    assert rows(out) == [(False, Decimal(0), 0)]
