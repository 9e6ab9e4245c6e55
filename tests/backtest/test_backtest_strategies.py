"""Several strategies in one backtest: a failing one is halted while the others trade on,
strategies sharing a symbol each keep their own position and their own figures in the
report, a bad indicator request halts only its strategy, and hooks over their time budget
are reported without changing the results."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest

from engine.backtest.runner import run_backtest
from engine.config import load_config
from tests.backtest.backtest_configs import REPO, ema_config

FAILING = '''
from engine.strategy import Strategy, StrategyConfig

class Cfg(StrategyConfig, frozen=True):
    symbol: str

class Failing(Strategy[Cfg]):
    def on_bar(self, ctx, bar):
        if bar.ts_ns > 1522800000000000000 + 60 * 60 * 10**9:
            raise ZeroDivisionError("deliberately broken")
'''


def test_raising_strategy_is_halted_while_another_keeps_trading(
    tmp_path: Path, strategy_module: Callable[[str, str], ModuleType],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    strategy_module("te_failing_strategy", FAILING)
    extra = """
[[strategies]]
name = "broken"
class = "te_failing_strategy:Failing"
symbol = "BTC/USD"
"""
    alerts: list[object] = []
    from engine import app as app_module

    original = app_module.build_app

    def spy(*args: object, **kwargs: object) -> object:
        from engine.model import Alert

        engine = original(*args, **kwargs)  # type: ignore[arg-type]
        engine.bus.subscribe(Alert, alerts.append)
        return engine

    monkeypatch.setattr(app_module, "build_app", spy)
    result = run_backtest(load_config(ema_config(tmp_path, extra), env={}))
    halted = [a for a in alerts if getattr(a, "title", "") == "strategy halted"]
    assert len(halted) == 1 and "deliberately broken" in halted[0].message  # type: ignore[attr-defined]
    assert len(result.fills) > 20  # the EMA strategy traded on to the end
    assert max(f.ts_ns for f in result.fills) > 1522800000000000000 + 24 * 3600 * 10**9
    # the report says which strategy stopped when (simulated time: the bar's close) and why
    assert result.metrics["halted"] == {"broken": {
        "at": "2018-04-04T01:02:00+00:00",
        "reason": "on_bar raised ZeroDivisionError: deliberately broken"}}


def test_strategies_sharing_a_symbol_each_see_their_own_position(tmp_path: Path) -> None:
    """ctx.position is the strategy's own: two EMA crosses on one symbol each hold 0 or
    their own size, whatever the other holds."""
    extra = """
[[strategies]]
name = "slow_ema"
class = "ema_cross"
symbol = "BTC/USD"
fast = 8
slow = 30
qty = "0.3"
"""
    result = run_backtest(load_config(ema_config(tmp_path, extra), env={}))
    held = {"ema": Decimal(0), "slow_ema": Decimal(0)}
    sizes = {"ema": Decimal("0.5"), "slow_ema": Decimal("0.3")}
    seen = set()
    for fill in result.fills:
        sid = str(fill.strategy_id)
        held[sid] += fill.qty if fill.side.value == "buy" else -fill.qty
        assert Decimal(0) <= held[sid] <= sizes[sid], (sid, held[sid])
        seen.add(sid)
    assert seen == {"ema", "slow_ema"}

    # each one's own figures in the report: long or flat, so a round trip's result is its
    # cash flow (sells less buys less fees) from flat to flat
    per = result.metrics["by_strategy"]
    assert set(per) == {"ema", "slow_ema"}
    for sid in per:
        own = [f for f in result.fills if f.strategy_id == sid]
        results, flow, qty = [], Decimal(0), Decimal(0)
        for f in own:
            sign = 1 if f.side.value == "buy" else -1
            qty += sign * f.qty
            flow += -sign * f.qty * f.price - f.fee
            if not qty:
                results.append(flow)
                flow = Decimal(0)
        assert (per[sid]["fills"], per[sid]["trades"]) == (len(own), len(results))
        assert Decimal(per[sid]["fees"]) == sum((f.fee for f in own), Decimal(0))
        assert Decimal(per[sid]["pnl"]) == sum(results, Decimal(0))
        assert per[sid]["win_rate"] == round(sum(r > 0 for r in results) / len(results), 10)
    assert sum(m["fills"] for m in per.values()) == result.metrics["fills"]

    from engine.backtest.report import write_report

    page = write_report(tmp_path / "r", metrics=result.metrics, ts_ns=result.ts_ns,
                        equity=result.equity, fills=result.fills, title="two")["html"]
    text = page.read_text()
    assert "By strategy" in text and "slow_ema" in text


BAD_INDICATOR = '''
from engine.strategy import Strategy, StrategyConfig

class Cfg(StrategyConfig, frozen=True):
    symbol: str

class BadIndicator(Strategy[Cfg]):
    def on_start(self, ctx):
        self.ema = ctx.indicators.ema(self.config.symbol, "1m", 0)
'''


def test_a_bad_indicator_request_halts_its_strategy_at_start_and_the_others_trade(
        tmp_path: Path, strategy_module: Callable[[str, str], ModuleType]) -> None:
    strategy_module("te_bad_indicator", BAD_INDICATOR)
    result = run_backtest(load_config(ema_config(tmp_path, """
[[strategies]]
name = "bad"
class = "te_bad_indicator:BadIndicator"
symbol = "BTC/USD"
"""), env={}))
    assert result.metrics["halted"] == {"bad": {
        "at": None, "reason": "on_start raised ValueError: period must be >= 1, got 0"}}
    assert len(result.fills) > 20


SLOW_START = '''
import time
from engine.strategy import Strategy, StrategyConfig

class Cfg(StrategyConfig, frozen=True):
    symbol: str

class SlowStart(Strategy[Cfg]):
    def on_start(self, ctx):
        self.n = 0
    def on_bar(self, ctx, bar):
        self.n += 1
        if self.n <= 3:
            time.sleep(0.02)
'''


def test_hooks_over_budget_are_reported_on_stderr_not_in_the_metrics(tmp_path: Path) -> None:
    (tmp_path / "te_slow_start.py").write_text(SLOW_START)
    path = ema_config(tmp_path, """
[[strategies]]
name = "slow"
class = "te_slow_start:SlowStart"
symbol = "BTC/USD"
budget_ms = 5
""")
    report = tmp_path / "report"
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", "backtest", "--config", str(path), "--report",
         str(report)], cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**__import__("os").environ, "PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"tradeengine: strategy slow: 3 hook calls over its budget of 5 ms "
                     r"\(slowest \d+\.\d ms\); live it would have been halted", result.stderr)
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["halted"] == {} and "budget" not in json.dumps(metrics)
