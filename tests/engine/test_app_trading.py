"""The running engine trades on paper over replayed data and records it in PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import asyncpg

from engine.app import Engine, build_app
from engine.config import load_config
from engine.model import Alert, Bar
from engine.runner import load_factory
from tests.replay_configs import PAPER_REPLAY

CONFIG = PAPER_REPLAY + """
[[strategies]]
name = "ema"
class = "ema_cross"
symbol = "BTC/USD"
fast = 3
slow = 8
qty = "0.1"
"""


async def test_paper_trading_is_recorded(database_url: str, tmp_path: Path,
                                        paper_engine: Callable[[str, str], Engine]) -> None:
    engine = paper_engine(CONFIG, database_url)
    task = asyncio.create_task(engine.run())
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "tradeengine"})
    try:
        for _ in range(600):
            await asyncio.sleep(0.1)
            if task.done():
                break
            trades = await conn.fetchval("SELECT count(*) FROM trades") if await conn.fetchval(
                "SELECT to_regclass('tradeengine.trades') IS NOT NULL") else 0
            if trades >= 20:
                break
        assert not task.done(), task.result()
        status = engine.status()
        assert status["strategies"]["strategies"][0]["state"] == "running"
        assert status["trading"]["orders"]["fills"] >= 20
    finally:
        engine.request_stop()
        assert await asyncio.wait_for(task, 60) == 0
    try:
        trades = await conn.fetchval("SELECT count(*) FROM trades")
        events = await conn.fetchval("SELECT count(*) FROM order_events")
        bars = await conn.fetchval("SELECT count(*) FROM price_data")
        positions = await conn.fetchval("SELECT count(*) FROM positions")
        filled = await conn.fetchval("SELECT count(*) FROM orders WHERE status = 'filled'")
        # the row a dashboard reads: the replay's rows carry its (2017) market time
        portfolio = await conn.fetchrow("SELECT * FROM v_portfolio_summary "
                                        "WHERE account_id = $1", engine.database.account_id)
    finally:
        await conn.close()
    assert trades >= 20 and events >= 3 * filled and filled >= 10
    assert bars > 100 and positions >= 1
    assert portfolio["num_trades"] >= 20 and portfolio["high_water_mark"] is not None
    assert portfolio["updated_at"].year < 2020


def test_restart_rebuilds_positions_and_cash_from_the_ledger(
    make_database: object, tmp_path: Path
) -> None:
    dsn = make_database()  # type: ignore[operator]
    asyncio.run(_restart_scenario(dsn, tmp_path))


async def _restart_scenario(dsn: str, tmp_path: Path) -> None:
    path = tmp_path / "paper.toml"
    path.write_text(CONFIG)
    env = {"TRADEENGINE_DATABASE__DSN": dsn,
           "TRADEENGINE_ENGINE__STATE_DIR": str(tmp_path / "state")}

    async def run_until(fills: int) -> tuple[dict[str, str], str]:
        engine = build_app(load_config(path, env=env), config_path=path,
                           market_data_gateway=load_factory("market_data"),
                           execution=load_factory("execution"))
        task = asyncio.create_task(engine.run())
        await engine.wait_ready()
        for _ in range(600):
            if engine.trading.oms.counts["fills"] >= fills or task.done():
                break
            await asyncio.sleep(0.05)
        engine.request_stop()
        assert await asyncio.wait_for(task, 60) == 0
        portfolio = engine.trading.portfolio
        return ({p.symbol: str(p.qty) for p in portfolio.positions()}, str(portfolio.cash))

    positions, cash = await run_until(fills=15)
    # The second engine starts, restores from the ledger, and is stopped at once: what it
    # holds before trading anything must equal what the first one ended with.
    engine = build_app(load_config(path, env=env), config_path=path,
                       market_data_gateway=None, execution=load_factory("execution"))
    task = asyncio.create_task(engine.run())
    await engine.wait_ready()
    restored = ({p.symbol: str(p.qty) for p in engine.trading.portfolio.positions()},
                str(engine.trading.portfolio.cash))
    engine.request_stop()
    assert await asyncio.wait_for(task, 60) == 0
    assert restored == (positions, cash)
    assert cash != "100000"  # it did trade


async def test_a_strategy_timeframe_beyond_marketdata_timeframes_is_built(
        database_url: str, tmp_path: Path, paper_engine: Callable[[str, str], Engine],
        keep_builtin_strategies: None) -> None:
    """[marketdata] timeframes is 1m..1h by default: a strategy on 4h still gets its bars.
    A reload that adds a timeframe once data flows cannot: it alerts instead."""
    config = CONFIG.replace('qty = "0.1"', 'qty = "0.1"\ntimeframe = "4h"')
    engine = paper_engine(config, database_url)
    four_hour: list[Bar] = []
    alerts: list[Alert] = []
    engine.bus.subscribe(Bar, lambda b: four_hour.append(b) if b.timeframe == "4h" else None)
    engine.bus.subscribe(Alert, alerts.append)
    task = asyncio.create_task(engine.run())
    try:
        await engine.wait_ready()
        for _ in range(600):
            if len(four_hour) >= 6 or task.done():
                break
            await asyncio.sleep(0.05)
        assert not task.done(), task.result()
        assert len(four_hour) >= 6 and {b.symbol for b in four_hour} == {"BTC/USD"}
        # new EMA periods for the running strategy, and a strategy on a new timeframe
        (tmp_path / "paper.toml").write_text(config.replace("fast = 3", "fast = 4") + """
[[strategies]]
name = "slow"
class = "ema_cross"
symbol = "BTC/USD"
timeframe = "2h"
""")
        result = engine.commands.execute("reload-strategies", {}, "test")
        assert result.ok and result.result == {"ema": "reloaded", "slow": "added"}, result
        assert engine.strategies.is_halted("ema") is False
        assert engine.strategies._slots["ema"].loaded.strategy.config.fast == 4
        built = [a for a in alerts if a.title == "timeframe not built"]
        assert len(built) == 1 and built[0].message == (
            "timeframe 2h can only be added before the first bar: add it to [marketdata] "
            "timeframes and restart")
    finally:
        engine.request_stop()
        assert await asyncio.wait_for(task, 60) == 0


def test_operators_halt_and_resume_one_strategy(tmp_path: Path,
                                                keep_builtin_strategies: None) -> None:
    path = tmp_path / "paper.toml"
    path.write_text(CONFIG + """
[[strategies]]
name = "off"
class = "ema_cross"
symbol = "BTC/USD"
enabled = false
""")
    engine = build_app(load_config(path, env={"TRADEENGINE_ENGINE__STATE_DIR": str(tmp_path)}),
                       config_path=path, market_data_gateway=load_factory("market_data"),
                       execution=load_factory("execution"))
    run = engine.commands.execute
    halted = run("halt-strategy", {"strategy": "ema", "reason": "odd fills"}, "mqtt:ops")
    assert halted.ok and halted.result["state"] == "halted"
    assert halted.result["halt_reason"] == "halted by mqtt:ops: odd fills"
    assert engine.strategies.is_halted("ema")
    resumed = run("resume-strategy", {"strategy": "ema"}, "mqtt:ops")
    assert resumed.ok and resumed.result["state"] == "running"
    assert run("resume-strategy", {"strategy": "ema"}, "ops").error == "strategy ema is running"
    assert run("resume-strategy", {"strategy": "off"}, "ops").error == (
        "strategy off is disabled in the config (enabled = false)")
    unknown = run("halt-strategy", {"strategy": "nope"}, "ops")
    assert not unknown.ok and "strategy: one of ['ema', 'off']" in str(unknown.error)
