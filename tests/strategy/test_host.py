"""The strategy host: the guard halts a failing strategy, others go on; hot reload."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.bus import MessageBus
from engine.clock import SimClock
from engine.ids import OrderId, StrategyId, new_order_id
from engine.indicator_hub import IndicatorHub
from engine.model import Alert, AlertSeverity, Bar, Order
from engine.oms.commands import SubmitOrder
from engine.plugins import instantiate
from engine.risk.state import RiskState
from engine.strategy_host import StrategyHost


class RecordingActions:
    """Stands in for the order side: records intents, keeps positions per strategy."""

    def __init__(self) -> None:
        self.submitted: list[tuple[StrategyId, SubmitOrder]] = []
        self.cancel_all_calls: list[StrategyId] = []
        self.positions: dict[tuple[StrategyId, str], Decimal] = {}

    def submit(self, strategy_id: StrategyId, intent: Any) -> OrderId | None:
        self.submitted.append((strategy_id, intent))
        key = (strategy_id, intent.symbol)
        self.positions[key] = self.positions.get(key, Decimal(0)) + intent.qty * intent.side.sign
        return new_order_id()

    def cancel(self, strategy_id: StrategyId, order_id: OrderId) -> None:
        pass

    def cancel_all(self, strategy_id: StrategyId) -> int:
        self.cancel_all_calls.append(strategy_id)
        return 0

    def position(self, strategy_id: StrategyId, symbol: str) -> Decimal:
        return self.positions.get((strategy_id, symbol), Decimal(0))

    def open_orders(self, strategy_id: StrategyId, symbol: str | None) -> list[Order]:
        return []

    def cash(self) -> Decimal:
        return Decimal(100000)

    def equity(self) -> Decimal:
        return Decimal(100000)

    def risk_state(self) -> RiskState:
        return RiskState.ACTIVE


PLUGIN_V1 = '''
from decimal import Decimal
from engine.strategy import Strategy, StrategyConfig
from engine.intents import MarketOrder

class CfgV(StrategyConfig, frozen=True):
    symbol: str
    explode_at: int = -1
    sleep_ms: float = 0.0

class Counting(Strategy[CfgV]):
    VERSION = 1
    def on_start(self, ctx):
        self.bars = getattr(self, "bars", 0)
    def on_bar(self, ctx, bar):
        self.bars += 1
        if self.bars == self.config.explode_at:
            raise RuntimeError("kaboom")
        if self.config.sleep_ms:
            import time
            time.sleep(self.config.sleep_ms / 1000)
        ctx.submit(MarketOrder(self.config.symbol, Decimal("1")))
    def on_save(self):
        return {"bars": self.bars}
    def on_load(self, state):
        self.bars = state.get("bars", 0)
'''


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "te_test_plugin.py").write_text(PLUGIN_V1)
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    sys.modules.pop("te_test_plugin", None)


def make_host() -> tuple[MessageBus, StrategyHost, RecordingActions, list[Alert]]:
    bus = MessageBus()
    actions = RecordingActions()
    alerts: list[Alert] = []
    bus.subscribe(Alert, alerts.append)
    host = StrategyHost(bus=bus, clock=SimClock(), indicators=IndicatorHub(lambda b: None),
                        actions=actions, bars=lambda s, t: None)
    return bus, host, actions, alerts


def bar(i: int, symbol: str = "X") -> Bar:
    return Bar("v", symbol, "1m", i * 60_000_000_000, 1.0, 1.0, 1.0, 1.0, 1.0)  # type: ignore[arg-type]


def test_raising_strategy_is_halted_with_alert_while_another_keeps_trading(
    plugin_dir: Path,
) -> None:
    bus, host, actions, alerts = make_host()
    host.add(instantiate(0, {"name": "bad", "class": "te_test_plugin:Counting", "symbol": "X",
                             "explode_at": 3}))
    host.add(instantiate(1, {"name": "good", "class": "te_test_plugin:Counting", "symbol": "X"}))
    host.start()
    for i in range(10):
        bus.publish(bar(i))
    by_strategy = [sid for sid, _ in actions.submitted]
    assert by_strategy.count("bad") == 2  # bars 1 and 2, then it raised on bar 3
    assert by_strategy.count("good") == 10
    assert host.is_halted(StrategyId("bad")) and not host.is_halted(StrategyId("good"))
    assert actions.cancel_all_calls == ["bad"]
    assert len(alerts) == 1
    assert alerts[0].severity is AlertSeverity.CRITICAL
    assert "kaboom" in alerts[0].message and alerts[0].strategy_id == "bad"
    status = {s["id"]: s for s in host.status()}
    assert status["bad"]["state"] == "halted" and status["good"]["state"] == "running"


def test_hook_over_budget_halts(plugin_dir: Path) -> None:
    bus, host, actions, alerts = make_host()
    host.add(instantiate(0, {"name": "slow", "class": "te_test_plugin:Counting", "symbol": "X",
                             "sleep_ms": 30, "budget_ms": 5}))
    host.start()
    bus.publish(bar(1))
    bus.publish(bar(2))
    assert host.is_halted(StrategyId("slow"))
    assert "budget 5 ms" in alerts[0].message
    assert len(actions.submitted) == 1


def test_backtest_host_counts_hooks_over_budget_without_halting(plugin_dir: Path) -> None:
    # A simulated run must not depend on the machine's load: wall time never halts it.
    bus = MessageBus()
    actions = RecordingActions()
    host = StrategyHost(bus=bus, clock=SimClock(), indicators=IndicatorHub(lambda b: None),
                        actions=actions, bars=lambda s, t: None, enforce_budget=False)
    host.add(instantiate(0, {"name": "slow", "class": "te_test_plugin:Counting", "symbol": "X",
                             "sleep_ms": 30, "budget_ms": 5}))
    host.start()
    bus.publish(bar(1))
    bus.publish(bar(2))
    assert not host.is_halted(StrategyId("slow"))
    assert len(actions.submitted) == 2
    assert host.status()[0]["hooks_over_budget"] == 2
    ((count, slowest, budget),) = host.over_budget().values()
    assert (count, budget) == (2, 5.0) and slowest >= 30


def test_reload_swaps_code_and_hands_state_over(plugin_dir: Path) -> None:
    bus, host, _actions, alerts = make_host()
    host.add(instantiate(0, {"name": "s", "class": "te_test_plugin:Counting", "symbol": "X"}))
    host.start()
    for i in range(3):
        bus.publish(bar(i))
    (plugin_dir / "te_test_plugin.py").write_text(PLUGIN_V1.replace("VERSION = 1", "VERSION = 2"))
    time.sleep(0.01)
    host.reload(StrategyId("s"))
    bus.publish(bar(3))
    strategy = host._slots[StrategyId("s")].loaded.strategy
    assert type(strategy).VERSION == 2  # type: ignore[attr-defined]
    assert strategy.bars == 4  # type: ignore[attr-defined]  # 3 before + 1 after, carried over
    assert alerts == []


def test_failed_reload_keeps_the_running_version_and_alerts(plugin_dir: Path) -> None:
    bus, host, actions, alerts = make_host()
    host.add(instantiate(0, {"name": "s", "class": "te_test_plugin:Counting", "symbol": "X"}))
    host.start()
    bus.publish(bar(0))
    (plugin_dir / "te_test_plugin.py").write_text("this is not python (")
    host.reload(StrategyId("s"))
    bus.publish(bar(1))
    assert len(actions.submitted) == 2  # still trading on the old code
    assert alerts and alerts[0].title == "reload failed"
    sys.modules.pop("te_test_plugin", None)


def test_ema_cross_uses_hub_indicators_that_include_the_bar() -> None:
    bus = MessageBus()
    actions = RecordingActions()
    host_box: list[StrategyHost] = []
    hub = IndicatorHub(lambda b: host_box[0].on_bar(b))
    host = StrategyHost(bus=bus, clock=SimClock(), indicators=hub, actions=actions,
                        bars=lambda s, t: None, subscribe_bars=False)
    host_box.append(host)
    host.add(instantiate(0, {"name": "e", "class": "ema_cross", "symbol": "X", "fast": 2,
                             "slow": 3, "qty": "1"}))
    host.start()
    bus.subscribe(Bar, hub.on_bar)
    closes = [1.0, 2.0, 3.0, 2.0, 1.0, 0.5]
    for i, close in enumerate(closes):
        bus.publish(Bar("v", "X", "1m", i, close, close, close, close, 1.0))  # type: ignore[arg-type]
    # slow EMA(3) ready at the 3rd bar: fast > slow on a rising series -> buy 1;
    # the fall flips fast below slow -> sell 1 (to flat; shorting is off by default).
    sides = [(intent.side.value, intent.qty) for _, intent in actions.submitted]
    assert sides == [("buy", Decimal(1)), ("sell", Decimal(1))]


def test_reload_all_applies_a_new_strategies_list(plugin_dir: Path) -> None:
    bus, host, actions, _alerts = make_host()
    host.add(instantiate(0, {"name": "a", "class": "te_test_plugin:Counting", "symbol": "X"}))
    host.add(instantiate(1, {"name": "b", "class": "te_test_plugin:Counting", "symbol": "X"}))
    host.start()
    bus.publish(bar(0))
    outcome = host.reload_all([
        {"name": "a", "class": "te_test_plugin:Counting", "symbol": "Y"},  # changed config
        {"name": "c", "class": "te_test_plugin:Counting", "symbol": "X"},  # new
    ])
    assert outcome == {"a": "reloaded", "c": "added", "b": "halted"}
    bus.publish(bar(1, "Y"))
    bus.publish(bar(2, "X"))
    by = [sid for sid, _ in actions.submitted]
    assert by == ["a", "b", "a", "c"]  # a follows Y now, b is gone, c trades X


def test_reloading_new_indicator_periods_while_bars_flow_keeps_the_strategy_trading(
        keep_builtin_strategies: None) -> None:
    """The usual reload: new EMA periods for a running EMA cross. Its new indicators are
    seeded with the closes the hub has seen, as if asked for at the start."""
    import numpy as np

    from engine.indicators import ema
    from engine.marketdata.recorded import read_file

    data = Path(__file__).resolve().parent.parent / "data"
    closes = read_file(data / "coinbase_btcusd_1m_2018-04-04_2018-04-06.csv.gz"
                       ).columns["close"][:400].tolist()
    bus, actions = MessageBus(), RecordingActions()
    host_box: list[StrategyHost] = []
    hub = IndicatorHub(lambda b: host_box[0].on_bar(b))
    host = StrategyHost(bus=bus, clock=SimClock(), indicators=hub, actions=actions,
                        bars=lambda s, t: None, subscribe_bars=False)
    host_box.append(host)
    table = {"name": "e", "class": "ema_cross", "symbol": "X", "fast": 3, "slow": 8,
             "qty": "1", "allow_short": True}
    host.add(instantiate(0, table))
    host.start()
    bus.subscribe(Bar, hub.on_bar)

    def publish(i: int) -> None:
        c = closes[i]
        bus.publish(Bar("v", "X", "1m", i * 60_000_000_000, c, c, c, c, 1.0))  # type: ignore[arg-type]

    for i in range(200):
        publish(i)
    before = len(actions.submitted)
    assert host.reload_all([{**table, "fast": 5, "slow": 12}]) == {"e": "reloaded"}
    assert not host.is_halted(StrategyId("e"))
    strategy: Any = host._slots[StrategyId("e")].loaded.strategy
    assert strategy.slow.ready  # warm at once: seeded, not waiting 12 bars
    for i in range(200, 400):
        publish(i)
    assert strategy.fast.value == ema(np.array(closes), 5)[-1]
    assert strategy.slow.value == ema(np.array(closes), 12)[-1]
    assert len(actions.submitted) > before + 5  # it trades on


SLOW_START = '''
import time
from engine.strategy import Strategy, StrategyConfig

class Cfg(StrategyConfig, frozen=True):
    symbol: str

class SlowStart(Strategy[Cfg]):
    def on_start(self, ctx):
        time.sleep(0.05)  # loads a model, say
    def on_bar(self, ctx, bar):
        time.sleep(0.05)
'''


def test_on_start_is_not_held_to_the_budget_but_event_hooks_are(plugin_dir: Path) -> None:
    (plugin_dir / "te_slow_start_plugin.py").write_text(SLOW_START)
    bus, host, _actions, alerts = make_host()
    host.add(instantiate(0, {"name": "s", "class": "te_slow_start_plugin:SlowStart",
                             "symbol": "X", "budget_ms": 10}))
    host.start()
    assert not host.is_halted(StrategyId("s"))
    host.reload(StrategyId("s"))  # on_start again, as after a reload
    assert not host.is_halted(StrategyId("s")) and alerts == []
    bus.publish(bar(0))
    assert host.is_halted(StrategyId("s"))
    assert "on_bar took" in alerts[0].message
    sys.modules.pop("te_slow_start_plugin", None)


def test_reload_all_keeps_disabled_strategies_halted_and_enabling_resumes(
        plugin_dir: Path) -> None:
    bus, host, actions, _alerts = make_host()
    table = {"name": "a", "class": "te_test_plugin:Counting", "symbol": "X"}
    host.add(instantiate(0, {**table, "enabled": False}))
    host.start()
    assert host.reload_all([{**table, "enabled": False}]) == {"a": "disabled"}
    bus.publish(bar(0))
    assert host.is_halted(StrategyId("a")) and actions.submitted == []
    assert host.reload_all([table]) == {"a": "reloaded"}  # enabled again
    bus.publish(bar(1))
    assert len(actions.submitted) == 1
    assert host.reload_all([{**table, "enabled": False}]) == {"a": "disabled"}  # disabled live
    bus.publish(bar(2))
    assert host.is_halted(StrategyId("a")) and len(actions.submitted) == 1
    assert host.status()[0]["halt_reason"] == "disabled in config"


def test_reload_all_replaces_a_strategy_whose_class_changed_and_applies_a_new_budget(
        plugin_dir: Path) -> None:
    (plugin_dir / "te_slow_start_plugin.py").write_text(SLOW_START)
    _bus, host, _actions, _alerts = make_host()
    host.add(instantiate(0, {"name": "a", "class": "te_test_plugin:Counting", "symbol": "X"}))
    host.add(instantiate(1, {"name": "b", "class": "te_test_plugin:Counting", "symbol": "X"}))
    host.start()
    outcome = host.reload_all([
        {"name": "a", "class": "te_slow_start_plugin:SlowStart", "symbol": "X"},
        {"name": "b", "class": "te_test_plugin:Counting", "symbol": "X", "budget_ms": 1}])
    assert outcome == {"a": "replaced", "b": "reloaded"}
    status = {s["id"]: s for s in host.status()}
    assert status["a"]["class"] == "te_slow_start_plugin:SlowStart"  # not the old class
    assert host._slots[StrategyId("b")].budget_ns == 1_000_000
    assert host.reload_all([{"name": "a", "class": "te_nowhere:Gone", "symbol": "X"},
                            {"name": "b", "class": "te_test_plugin:Counting", "symbol": "X"}]
                           )["a"].startswith("not replaced: ")
    assert host._slots[StrategyId("b")].budget_ns == 250_000_000  # back to the default
    assert type(host._slots[StrategyId("a")].loaded.strategy).__name__ == "SlowStart"
    sys.modules.pop("te_slow_start_plugin", None)
