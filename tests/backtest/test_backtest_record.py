"""The ``backtests`` row of a persisted backtest: what ran (data, range, the strategy
tables) on what, its metrics and report; ``failed`` when the run does not finish."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from engine.backtest.runner import run_backtest
from engine.config import load_config
from engine.model import Bar
from engine.strategy import Context, Strategy, StrategyConfig
from tests.backtest.backtest_configs import ema_config


class InterruptConfig(StrategyConfig, frozen=True):
    """Parameters of :class:`Interrupting`."""

    symbol: str
    after: int = 100


class Interrupting(Strategy[InterruptConfig]):
    """Ctrl-C in the middle of a run: a KeyboardInterrupt out of its ``after``-th bar (no
    strategy guard catches it, as none should)."""

    def on_start(self, ctx: Context) -> None:
        self.seen = 0

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        self.seen += 1
        if self.seen == self.config.after:
            raise KeyboardInterrupt


def _rows(dsn: str) -> list[dict[str, Any]]:
    async def fetch() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(dsn, server_settings={"search_path": "tradeengine"},
                                     timeout=30)
        try:
            return [dict(r) for r in await conn.fetch("SELECT * FROM backtests")]
        finally:
            await conn.close()

    return asyncio.run(fetch())


def test_the_row_holds_the_run_and_its_metrics(tmp_path: Path, make_database: Any) -> None:
    dsn = make_database()
    path = ema_config(tmp_path)
    path.write_text(path.read_text().replace(
        "[backtest]", '[backtest]\nstart = "2018-04-05"\nend = "2018-04-06"'))
    report = tmp_path / "report"
    result = run_backtest(load_config(path, env={}), persist_dsn=dsn, report=report)
    (row,) = _rows(dsn)
    assert row["status"] == "finished" and row["name"] == "ema"
    assert json.loads(row["metrics"]) == json.loads(json.dumps(result.metrics))
    config = json.loads(row["config"])
    assert (config["start"], config["end"]) == ("2018-04-05", "2018-04-06")
    assert config["strategies"] == [{"name": "ema", "class": "ema_cross", "symbol": "BTC/USD",
                                     "fast": 5, "slow": 15, "qty": "0.5"}]
    assert row["symbols"] == ["BTC/USD"] and row["timeframe"] == "1m"
    assert row["data_from"].isoformat() == result.metrics["first_bar"] == (
        "2018-04-05T00:00:00+00:00")
    assert row["data_to"].isoformat() == "2018-04-06T00:00:00+00:00"  # the last bar's close
    assert row["report_path"] == str(report.resolve())
    assert row["finished_at"] >= row["started_at"]


def test_an_interrupted_run_leaves_a_failed_row(tmp_path: Path, make_database: Any) -> None:
    dsn = make_database()
    path = ema_config(tmp_path)
    path.write_text(path.read_text() + f"""
[[strategies]]
name = "ctrl-c"
class = "{__name__}:Interrupting"
symbol = "BTC/USD"
after = 500
""")
    with pytest.raises(KeyboardInterrupt):
        run_backtest(load_config(path, env={}), persist_dsn=dsn)
    (row,) = _rows(dsn)
    assert row["status"] == "failed"
    assert row["finished_at"] is not None and json.loads(row["metrics"]) == {}


def test_each_run_has_an_account_of_its_own(tmp_path: Path, make_database: Any) -> None:
    """Two runs over the same days into one database: each row names its own account, whose
    orders, trades and daily performance are that run's alone (one shared account mixed
    them, and the second run's days overwrote the first's)."""
    dsn = make_database()
    path = ema_config(tmp_path)
    text = path.read_text()
    first = run_backtest(load_config(path, env={}), persist_dsn=dsn)
    path.write_text(text.replace('starting_cash = "100000"', 'starting_cash = "50000"')
                    .replace("fast = 5", "fast = 3"))
    second = run_backtest(load_config(path, env={}), persist_dsn=dsn)

    async def per_run() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(dsn, server_settings={"search_path": "tradeengine"},
                                     timeout=30)
        try:
            return [tuple(r) for r in await conn.fetch("""
                SELECT b.account_id, a.starting_cash,
                       (SELECT count(*) FROM trades t WHERE t.account_id = b.account_id),
                       (SELECT count(*) FROM orders o WHERE o.account_id = b.account_id),
                       (SELECT count(*) FROM performance_daily p
                        WHERE p.account_id = b.account_id AND p.strategy_id = '')
                FROM backtests b JOIN accounts a ON a.id = b.account_id
                ORDER BY b.started_at""")]
        finally:
            await conn.close()

    rows = asyncio.run(per_run())
    assert len({r[0] for r in rows}) == 2
    assert [r[1:4] for r in rows] == [
        (Decimal(100000), len(first.fills), len({f.order_id for f in first.fills})),
        (Decimal(50000), len(second.fills), len({f.order_id for f in second.fills}))]
    assert len(first.fills) != len(second.fills)
    assert rows[0][4] == rows[1][4] > 0  # each run's own days, the same days


def test_an_unreachable_database_exits_69(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """As ``run`` does at start-up (it was an internal error, 70, with a traceback)."""
    import socket

    from engine.cli import main

    with socket.socket() as sock:  # a port nothing listens on once it is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = ema_config(tmp_path)
    path.write_text(path.read_text() + "[database]\n"
                    f'dsn = "postgresql://engine:s3cret@127.0.0.1:{port}/nowhere"\n')
    assert main(["backtest", "--config", str(path)]) == 69
    err = capsys.readouterr().err
    assert err.startswith(f"tradeengine: database postgresql://engine:***@127.0.0.1:{port}/"
                          "nowhere unavailable: ")
    assert "s3cret" not in err and "Traceback" not in err
