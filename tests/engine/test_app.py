"""The engine's life cycle against a real PostgreSQL: endpoints, readiness, redaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest

from engine.app import Engine, EngineState, build_app
from engine.config import load_config
from engine.store.cluster import PostgresCluster

SECRET_PASSWORD = "hunter22-never-shown"


def with_password(url: str) -> str:
    """Trust auth ignores the password, so it can be set to anything: a leak shows."""
    parts = urlsplit(url)
    user = parts.username or "postgres"
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}:{SECRET_PASSWORD}@{host}"))


def engine_for(dsn: str, state_dir: Path, **env: str) -> Engine:
    config = load_config(env={
        "TRADEENGINE_DATABASE__DSN": dsn,
        "TRADEENGINE_ENGINE__STATE_DIR": str(state_dir),
        "TRADEENGINE_HEALTH__PORT": "0",
        "TRADEENGINE_HEALTH__DB_CHECK_INTERVAL_S": "0.2",
        "TRADEENGINE_MARKETDATA__SOURCE": "none",
        **env,
    })
    return build_app(config)


async def started(engine: Engine) -> asyncio.Task[Any]:
    task = asyncio.create_task(engine.run())
    ready = asyncio.create_task(engine.wait_ready())
    done, _ = await asyncio.wait({task, ready}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        raise AssertionError(f"engine exited during start-up with {task.result()}")
    assert ready in done, "engine not ready within 60 s"
    return task


async def get(engine: Engine, path: str) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{engine.health.port}{path}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        async with session.get(url) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()


@pytest.fixture
async def running(database_url: str, tmp_path: Path) -> AsyncIterator[Engine]:
    engine = engine_for(with_password(database_url), tmp_path / "state")
    task = await started(engine)
    yield engine
    engine.request_stop()
    assert await asyncio.wait_for(task, 30) == 0
    assert engine.state is EngineState.STOPPED


def test_build_app_does_no_io_and_two_engines_coexist(tmp_path: Path) -> None:
    a = engine_for("postgresql://x@127.0.0.1:1/a", tmp_path / "a")
    b = engine_for("postgresql://x@127.0.0.1:1/b", tmp_path / "b")
    assert a.bus is not b.bus and a.registry is not b.registry
    assert not (tmp_path / "a").exists()  # nothing created before run()


async def test_endpoints(running: Engine) -> None:
    status, body = await get(running, "/healthz")
    assert status == 200 and body["status"] == "ok"
    assert body["uptime_s"] > 0 and "loop_lag_ms" in body
    status, body = await get(running, "/readyz")
    assert status == 200, body
    assert body["checks"]["database"]["ok"] is True
    status, text = await get(running, "/metrics")
    assert status == 200
    for name in ("tradeengine_loop_lag_seconds", "tradeengine_queue_depth",
                 "tradeengine_db_write_latency_seconds", "tradeengine_db_backlog_records",
                 "tradeengine_orders_submitted_total", "tradeengine_fills_total"):
        assert name in text, name
    status, body = await get(running, "/status")
    assert status == 200
    assert body["state"] == "running" and body["database"]["embedded"] is False
    from engine import native

    assert body["build"] == native.status()  # which build runs: compiled or pure Python
    assert body["build"]["active"] or body["build"]["reason"]


async def test_secret_never_appears_in_status_or_metrics(running: Engine) -> None:
    for path in ("/status", "/metrics", "/readyz", "/healthz"):
        _, body = await get(running, path)
        assert SECRET_PASSWORD not in str(body), path
    _, body = await get(running, "/status")
    assert "***" in body["database"]["dsn"]


async def test_readiness_follows_the_database(
    private_cluster: PostgresCluster, tmp_path: Path
) -> None:
    engine = engine_for(private_cluster.dsn(), tmp_path / "state")
    task = await started(engine)
    try:
        assert (await get(engine, "/readyz"))[0] == 200
        await private_cluster.stop()
        body = await _wait_for_readyz(engine, 503)
        assert body["failing"] == ["database"]
        assert body["checks"]["database"]["detail"].startswith("degraded")
        assert (await get(engine, "/healthz"))[0] == 200  # alive, just not ready
        await private_cluster.start()
        await _wait_for_readyz(engine, 200)
    finally:
        engine.request_stop()
        assert await asyncio.wait_for(task, 30) == 0


async def _wait_for_readyz(engine: Engine, want: int, timeout: float = 30) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status, body = await get(engine, "/readyz")
        if status == want:
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"/readyz stayed {status}: {body}")
        await asyncio.sleep(0.1)


async def test_unreachable_database_at_start_exits_69(tmp_path: Path) -> None:
    engine = engine_for("postgresql://postgres@127.0.0.1:1/none", tmp_path / "state",
                        TRADEENGINE_DATABASE__CONNECT_TIMEOUT_S="2")
    assert await asyncio.wait_for(engine.run(), 60) == 69


async def test_missing_market_data_source_exits_69(database_url: str, tmp_path: Path) -> None:
    from engine.runner import load_factory

    config = load_config(env={
        "TRADEENGINE_DATABASE__DSN": database_url,
        "TRADEENGINE_ENGINE__STATE_DIR": str(tmp_path / "state"),
        "TRADEENGINE_HEALTH__PORT": "0",
        "TRADEENGINE_MARKETDATA__SOURCE": "replay",
        "TRADEENGINE_REPLAY__FILES": f'["{tmp_path / "no_such_1m_file.csv.gz"}"]',
    })
    engine = build_app(config, market_data_gateway=load_factory("market_data"))
    assert await asyncio.wait_for(engine.run(), 60) == 69


async def test_port_in_use_exits_69(running: Engine, database_url: str, tmp_path: Path) -> None:
    second = engine_for(database_url, tmp_path / "other",
                        TRADEENGINE_HEALTH__PORT=str(running.health.port),
                        TRADEENGINE_ENGINE__ACCOUNT="another-account")  # so the port fails
    assert await asyncio.wait_for(second.run(), 60) == 69



async def test_operator_commands_over_http(running: Engine) -> None:
    base = f"http://127.0.0.1:{running.health.port}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        async with session.get(f"{base}/commands") as response:
            assert "log-level" in (await response.json())["commands"]
        async with session.post(f"{base}/commands/log-level", json={"level": "debug"}) as resp:
            assert resp.status == 200 and (await resp.json())["result"] == {"level": "debug"}
        async with session.post(f"{base}/commands/log-level", json={"level": "loud"}) as resp:
            body = await resp.json()
            assert resp.status == 400 and "level: one of" in body["error"]
        async with session.post(f"{base}/commands/nope", data=b"{}") as resp:
            assert resp.status == 400 and "unknown command" in (await resp.json())["error"]


async def test_cli_status_and_command_against_the_running_engine(running: Engine) -> None:
    import sys

    base = f"http://127.0.0.1:{running.health.port}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "engine.cli", "status", "--url", f"{base}/status",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err
    assert '"state": "running"' in out.decode()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "engine.cli", "command", "log-level", '{"level": "info"}',
        "--url", base, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err


async def test_a_second_engine_on_the_same_account_is_refused(
    running: Engine, database_url: str, tmp_path: Path
) -> None:
    second = engine_for(database_url, tmp_path / "second")
    assert await asyncio.wait_for(second.run(), 60) == 69
    assert (await get(running, "/readyz"))[0] == 200  # the first one trades on


def _ccxt_engine(tmp_path: Path, name: str, symbol: str) -> Engine:
    """An engine (not started) on a ccxt feed streaming BTC/USDT, with one EMA cross."""
    from engine.runner import load_factory

    path = tmp_path / "live.toml"
    path.write_text(f"""
[marketdata]
source = "ccxt"
symbols = ["BTC/USDT"]

[[strategies]]
name = "{name}"
class = "ema_cross"
symbol = "{symbol}"
""")
    return build_app(load_config(path, env={"TRADEENGINE_ENGINE__STATE_DIR": str(tmp_path)}),
                     execution=load_factory("execution"))


def test_a_strategy_on_a_symbol_the_exchange_feed_does_not_stream_is_a_config_error(
        tmp_path: Path) -> None:
    """It would wait for bars that never come; the operator learns it at start (exit 78)."""
    from engine.config import ConfigError

    with pytest.raises(ConfigError, match=r"^strategies\[0\]\.symbol: SOL/USDT not in "
                                          r"marketdata\.symbols \['BTC/USDT'\] "
                                          r"\(strategy 'sol'\)$"):
        _ccxt_engine(tmp_path, "sol", "SOL/USDT")
    _ccxt_engine(tmp_path, "btc", "BTC/USDT")


def test_a_reload_adding_a_strategy_on_an_unstreamed_symbol_alerts(
        tmp_path: Path, keep_builtin_strategies: None) -> None:
    from engine.model import Alert
    from engine.services import prepare_strategy_data

    engine = _ccxt_engine(tmp_path, "btc", "BTC/USDT")
    alerts: list[Alert] = []
    engine.bus.subscribe(Alert, alerts.append)
    assert engine.strategies is not None
    engine.strategies.reload_all([
        {"name": "btc", "class": "ema_cross", "symbol": "BTC/USDT"},
        {"name": "sol", "class": "ema_cross", "symbol": "SOL/USDT"}])
    prepare_strategy_data(engine, engine.strategies)
    assert [(a.title, a.message) for a in alerts] == [(
        "symbol not streamed",
        "strategy sol: SOL/USDT not in marketdata.symbols: add it and restart")]


def test_a_strategy_that_sells_short_without_risk_allowing_it_is_warned_of(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from engine.runner import load_factory

    def build(risk: str, extra: str = "") -> list[str]:
        path = tmp_path / "paper.toml"
        path.write_text(f"""
[risk]
allow_short = {risk}

[[strategies]]
name = "pair"
class = "pairs"
symbols = ["BTC/USD", "ETH/USD"]

[[strategies]]
name = "ema"
class = "ema_cross"
symbol = "BTC/USD"
{extra}
""")
        caplog.clear()
        build_app(load_config(path, env={"TRADEENGINE_ENGINE__STATE_DIR": str(tmp_path)}),
                  execution=load_factory("execution"))
        return [r.getMessage() for r in caplog.records if "sells short" in r.getMessage()]

    assert build("false") == ["strategy pair sells short but [risk] allow_short is false: the "
                              "risk engine will refuse its short orders"]
    assert len(build("false", "allow_short = true")) == 2  # ema_cross asked to short too
    assert build("true", "allow_short = true") == []


def test_a_reload_that_makes_a_strategy_sell_short_is_warned_of(
        tmp_path: Path, caplog: pytest.LogCaptureFixture,
        keep_builtin_strategies: None) -> None:
    """As at start: a strategy reloaded or added with shorting on, while [risk] does not
    allow it, would have every short order refused without a word."""
    from engine.runner import load_factory
    from engine.services import reload_strategies

    path = tmp_path / "paper.toml"
    path.write_text('[[strategies]]\nname = "ema"\nclass = "ema_cross"\nsymbol = "BTC/USD"\n')
    engine = build_app(load_config(path, env={"TRADEENGINE_ENGINE__STATE_DIR": str(tmp_path)}),
                       execution=load_factory("execution"))
    engine.strategies.start()
    caplog.clear()
    outcome = reload_strategies(engine, [
        {"name": "ema", "class": "ema_cross", "symbol": "BTC/USD", "allow_short": True},
        {"name": "pair", "class": "pairs", "symbols": ["BTC/USD", "ETH/USD"]},
        {"name": "off", "class": "pairs", "symbols": ["BTC/USD", "ETH/USD"],
         "enabled": False}])
    assert outcome == {"ema": "reloaded", "pair": "added", "off": "added"}
    warned = sorted(r.getMessage().split()[1] for r in caplog.records
                    if "sells short" in r.getMessage())
    assert warned == ["ema", "pair"]  # a disabled one does not trade at all
