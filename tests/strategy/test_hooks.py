"""Every hook a strategy may define reaches it, through the real engine: ``on_fill`` and
``on_order_update`` for its own orders only, ``on_signal`` for the others' signals,
``on_trade`` for public trades of its symbols, ``on_stop`` at the end."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from engine.app import Engine
from engine.backtest.runner import run_backtest
from engine.config import load_config
from engine.model import OrderStatus

BTC_1M = Path(__file__).resolve().parent.parent / "data" / \
    "coinbase_btcusd_1m_2018-04-04_2018-04-06.csv.gz"

HOOKS = '''
from decimal import Decimal
from engine.intents import MarketOrder
from engine.model import SignalDirection
from engine.strategy import Strategy, StrategyConfig

class Cfg(StrategyConfig, frozen=True):
    symbol: str
    every: int = 0

RECORDS = {}

class Recorder(Strategy[Cfg]):
    def on_start(self, ctx):
        self.log = RECORDS.setdefault(str(self.id), {"fills": [], "updates": [], "signals": [],
                                                     "trades": [], "stopped": False})
        self.n = 0
    def on_bar(self, ctx, bar):
        self.n += 1
        if self.config.every and self.n % self.config.every == 0:
            side = Decimal("0.1") if ctx.position(self.config.symbol) <= 0 else Decimal("-0.1")
            ctx.submit(MarketOrder(self.config.symbol, side))
            ctx.emit_signal(self.config.symbol, SignalDirection.LONG if side > 0
                            else SignalDirection.SHORT, 1.0, {"bar": self.n})
    def on_fill(self, ctx, fill):
        self.log["fills"].append(fill)
    def on_order_update(self, ctx, order):
        self.log["updates"].append(order)
    def on_signal(self, ctx, signal):
        self.log["signals"].append(signal)
    def on_trade(self, ctx, trade):
        self.log["trades"].append(trade)
    def on_stop(self, ctx):
        self.log["stopped"] = True
'''


@pytest.fixture
def records(strategy_module: Callable[[str, str], ModuleType]) -> dict[str, Any]:
    found: dict[str, Any] = strategy_module("te_hook_recorder", HOOKS).RECORDS
    return found


def test_fills_updates_signals_and_stop_reach_the_right_strategy(
        tmp_path: Path, records: dict[str, Any]) -> None:
    path = tmp_path / "bt.toml"
    path.write_text(f"""
[backtest]
data = ["{BTC_1M}"]
[[strategies]]
name = "trader"
class = "te_hook_recorder:Recorder"
symbol = "BTC/USD"
every = 50
[[strategies]]
name = "listener"
class = "te_hook_recorder:Recorder"
symbol = "BTC/USD"
""")
    result = run_backtest(load_config(path, env={}))
    trader, listener = records["trader"], records["listener"]
    assert len(result.fills) > 50
    assert [f.id for f in trader["fills"]] == [f.id for f in result.fills]  # all its own
    assert listener["fills"] == [] and listener["updates"] == []
    # per order: accepted, then filled (pending is the state it was submitted in)
    by_order: dict[object, list[OrderStatus]] = {}
    for order in trader["updates"]:
        by_order.setdefault(order.id, []).append(order.status)
    assert len(by_order) == len(result.fills)
    assert all(s == [OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.FILLED]
               for s in by_order.values()), next(iter(by_order.values()))
    # signals go to the other strategies, never back to the one that emitted them
    assert trader["signals"] == [] and len(listener["signals"]) == len(result.fills)
    assert {s.strategy_id for s in listener["signals"]} == {"trader"}
    assert trader["stopped"] and listener["stopped"]
    assert trader["fills"][0].qty == Decimal("0.1")


async def test_public_trades_reach_the_strategies_of_their_symbol(
        records: dict[str, Any], database_url: str,
        paper_engine: Callable[[str, str], Engine]) -> None:
    """Live, replaying recorded Binance XRP/ETH trades through the paper engine."""
    engine = paper_engine("""
[replay]
files = ["binance_xrpeth_trades_2019-10-11_2019-10-13.csv.gz"]
speed = 0.0
loop = false

[health]
port = 0

[[strategies]]
name = "xrp"
class = "te_hook_recorder:Recorder"
symbol = "XRP/ETH"

[[strategies]]
name = "btc"
class = "te_hook_recorder:Recorder"
symbol = "BTC/USD"
""", database_url)
    task = asyncio.create_task(engine.run())
    try:
        await engine.wait_ready()
        for _ in range(600):
            if len(records.get("xrp", {}).get("trades", [])) >= 500 or task.done():
                break
            await asyncio.sleep(0.05)
        assert not task.done(), task.result()
    finally:
        engine.request_stop()
        assert await asyncio.wait_for(task, 60) == 0
    trades = records["xrp"]["trades"]
    assert len(trades) >= 500 and {t.symbol for t in trades} == {"XRP/ETH"}
    assert all(a.ts_ns <= b.ts_ns for a, b in itertools.pairwise(trades))
    assert records["btc"]["trades"] == []
    assert records["xrp"]["stopped"] and records["btc"]["stopped"]
