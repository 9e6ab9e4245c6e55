"""Portfolio guards, the risk state machine, the kill switch, persistence across restarts."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from trading_harness import LOOSE, T0, D, Harness

from engine.model import NS_PER_S, OrderStatus
from engine.risk import (
    JsonFileRiskStateStore,
    RiskError,
    RiskSnapshot,
    RiskState,
    RiskStateChanged,
)

DAY = 86_400 * NS_PER_S


def guarded(store: object = None, **changes: object) -> Harness:
    cfg = msgspec.structs.replace(LOOSE, **changes)  # type: ignore[arg-type]
    h = Harness(risk=cfg, store=store)  # type: ignore[arg-type]
    h.trade(100.0)
    return h


def buy_and_move(h: Harness, qty: str, price: float) -> None:
    h.submit(qty=qty)
    h.trade(100.0, qty=1e6)  # filled at 100 (no fees, no slippage)
    h.trade(price, ms=2000)  # past the mark interval: equity re-marked


def test_daily_loss_moves_to_reducing_then_resets_next_day() -> None:
    h = guarded(max_daily_loss_pct=D(5), daily_loss_action="reducing")
    buy_and_move(h, "600", 91.0)  # -5,400 on 100,000
    assert h.risk.state is RiskState.REDUCING
    (event,) = h.rec.of(RiskStateChanged)
    assert event.source == "guard:daily_loss" and "daily loss 5.40%" in event.reason
    assert h.rec.alerts("risk state active -> reducing")
    assert h.submit(qty=1).status is OrderStatus.REJECTED
    h.clock.advance_to(T0 - T0 % DAY + DAY + NS_PER_S)
    h.trade(91.0)
    assert h.risk.state is RiskState.ACTIVE
    assert h.rec.of(RiskStateChanged)[-1].source == "daily_reset"


def test_drawdown_halts_and_cancels_working_orders() -> None:
    h = guarded(max_drawdown_pct=D(10), drawdown_action="halted")
    working = h.submit(qty=1, type="limit", limit_price=50)
    buy_and_move(h, "1000", 120.0)  # equity 120,000: new high-water mark
    assert h.risk.snapshot.high_water_mark == D(120_000)
    h.trade(107.0, ms=2000)  # 107,000: drawdown 10.83%
    assert h.risk.state is RiskState.HALTED
    assert h.oms.get(working.id).status is OrderStatus.CANCELLED  # type: ignore[union-attr]
    assert h.rec.alerts("risk state active -> halted")[0].severity.value == "critical"


def test_warning_before_the_limit(caplog: pytest.LogCaptureFixture) -> None:
    h = guarded(max_daily_loss_pct=D(5))
    buy_and_move(h, "500", 91.5)  # -4.25%: above 80% of the limit
    assert h.risk.state is RiskState.ACTIVE
    assert h.rec.alerts("daily_loss near its limit")
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        "daily_loss near its limit: 4.25% of limit 5%"]


def test_profit_target_stops_trading() -> None:
    h = guarded(profit_target_pct=D(2), profit_target_action="halted")
    buy_and_move(h, "1000", 103.0)
    assert h.risk.state is RiskState.HALTED


def test_state_survives_a_restart(tmp_path: Path) -> None:
    store = JsonFileRiskStateStore(tmp_path / "risk_state.json")
    h = guarded(store, max_drawdown_pct=D(3))
    buy_and_move(h, "1000", 96.0)
    assert h.risk.state is RiskState.HALTED
    # a new process: same file
    h2 = guarded(JsonFileRiskStateStore(tmp_path / "risk_state.json"), max_drawdown_pct=D(3))
    assert h2.risk.state is RiskState.HALTED
    assert h2.risk.snapshot.source == "guard:drawdown"
    assert h2.submit(qty=1).status is OrderStatus.REJECTED
    assert not list(tmp_path.glob(".risk-*"))  # no temporary file left behind


def test_kill_switch_on_off_and_operator_reset(tmp_path: Path) -> None:
    path = tmp_path / "risk_state.json"
    h = guarded(JsonFileRiskStateStore(path))
    assert h.risk.set_kill_switch(True, "alice", "venue incident") is RiskState.HALTED
    with pytest.raises(RiskError):
        h.risk.reset_halt("bob", "too early")
    loaded = msgspec.json.decode(path.read_bytes(), type=RiskSnapshot)
    assert loaded.kill_switch and loaded.state is RiskState.HALTED and loaded.actor == "alice"
    assert h.risk.set_kill_switch(False, "alice", "resolved") is RiskState.ACTIVE
    h.risk.set_state(RiskState.REDUCING, "bob", "end of week")
    assert h.risk.reset_halt("bob", "monday") is RiskState.ACTIVE
    kinds = [(e.previous.value, e.state.value, e.actor) for e in h.rec.of(RiskStateChanged)]
    assert kinds == [("active", "halted", "alice"), ("halted", "active", "alice"),
                     ("active", "reducing", "bob"), ("reducing", "active", "bob")]


def test_guards_never_relax() -> None:
    h = guarded(max_daily_loss_pct=D(5), daily_loss_action="reducing")
    h.risk.set_state(RiskState.HALTED, "ops", "manual")
    buy_and_move(h, "0.001", 50.0)
    assert h.risk.state is RiskState.HALTED
