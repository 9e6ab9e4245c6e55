"""Backtests: the contract config, determinism, the EMA rule against pandas, sweeps, date
ranges, persistence (several strategies in one run: test_backtest_strategies.py)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.backtest.runner import run_backtest
from engine.config import ConfigError, load_config
from tests.backtest.backtest_configs import BTC_1M, REPO, config_file, ema_config

SHARED = REPO.parent / "shared" / "data"
CONTRACT_DATA = "ftx_btc-perp_1m_2021-12-31_2022-02-01.csv.gz"

CONTRACT = """
[backtest]
data = ["../shared/data/ftx_btc-perp_1m_2021-12-31_2022-02-01.csv.gz"]
symbol = "BTC/USD"
exchange = "ftx"
timeframe = "1m"
starting_cash = "100000"

[[strategies]]
name = "ema"
class = "ema_cross"     # a name in strategies/, a module:Class path, or an entry point
symbol = "BTC/USD"
fast = 10
slow = 20
qty = "0.01"
"""


def contract_workdir(tmp_path: Path) -> Path:
    """A working directory from which the contract's ``../shared/data/...`` path reaches
    the recorded file: the repository when ``../shared/data`` is beside it (the project's
    own checkout), else a directory beside a ``shared/data`` holding the copy in
    ``tests/data`` (any other clone, CI's included), so the test never skips."""
    if (SHARED / CONTRACT_DATA).exists():
        return REPO
    work, data = tmp_path / "work", tmp_path / "shared" / "data"
    work.mkdir()
    data.mkdir(parents=True)
    (data / CONTRACT_DATA).symlink_to(REPO / "tests" / "data" / CONTRACT_DATA)
    return work


def test_contract_config_runs_as_it_stands_and_is_deterministic(tmp_path: Path) -> None:
    path = config_file(tmp_path, CONTRACT)
    workdir = contract_workdir(tmp_path)
    reports = []
    for n in (1, 2):
        report = tmp_path / f"report{n}"
        result = subprocess.run(
            [sys.executable, "-m", "engine.cli", "backtest", "--config", str(path),
             "--report", str(report)],
            cwd=workdir, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        reports.append(report)
    first = (reports[0] / "metrics.json").read_bytes()
    assert first == (reports[1] / "metrics.json").read_bytes()
    metrics = json.loads(first)
    for key in ("total_return", "cagr", "sharpe", "sortino", "max_drawdown",
                "max_drawdown_duration_s", "win_rate", "profit_factor", "exposure", "trades",
                "fills", "fees"):
        assert key in metrics, key
    assert metrics["bars"] == 45_031 and metrics["fills"] > 100
    # one strategy: its own figures are the account's
    assert {k: metrics[k] for k in ("fills", "trades", "win_rate", "profit_factor", "fees")} \
        == {k: v for k, v in metrics["by_strategy"]["ema"].items() if k != "pnl"}
    assert str(tmp_path) not in first.decode() and "/shared/" not in first.decode()
    html = (reports[0] / "report.html").read_text()
    assert "data:image/png;base64," in html and "<table>" in html
    # read as people read it: percentages, grouped counts, money to the cent, a duration
    assert f"<th>Total return</th><td>{metrics['total_return'] * 100:,.2f}%</td>" in html
    assert f"<th>Round trips</th><td>{metrics['trades']:,}</td>" in html
    assert f"<th>Fees</th><td>{Decimal(metrics['fees']):,.2f}</td>" in html
    assert "<th>Longest drawdown</th><td>" in html and " d " in html
    assert "Period (UTC)</th><td>2021-12-31 23:01 to 2022-02-01 05:31, 45,031 bars" in html
    assert (reports[0] / "equity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _ta_ema(close: pd.Series, period: int) -> pd.Series:
    """EMA as TA-Lib defines it, written independently with pandas: seeded with the SMA
    of the first ``period`` closes, then ``ewm(alpha=2/(p+1), adjust=False)``."""
    seeded = close.iloc[period - 1:].copy()
    seeded.iloc[0] = close.iloc[:period].mean()
    out = seeded.ewm(alpha=2 / (period + 1), adjust=False).mean()
    return out.reindex(close.index)


def test_ema_cross_trades_what_its_rule_implies(tmp_path: Path) -> None:
    config = load_config(ema_config(tmp_path), env={})
    result = run_backtest(config)
    bars = pd.read_csv(BTC_1M)
    close = bars["close"].astype(float)
    fast, slow = _ta_ema(close, 5), _ta_ema(close, 15)
    target = np.where(slow.notna(), np.where(fast > slow, 0.5, 0.0), 0.0)
    changes = np.flatnonzero(np.diff(np.concatenate([[0.0], target])) != 0)
    # An order decided on bar i's close fills on the next bar (at its open).
    expected = [(int(bars["ts_ms"].iloc[i + 1]) * 1_000_000, "buy" if target[i] > 0 else "sell")
                for i in changes if i + 1 < len(bars)]
    # The paper model caps a fill at the bar's volume, so an order may fill over several
    # bars: compare orders (first fill time, side, total quantity).
    orders: dict[object, list[object]] = {}
    for fill in result.fills:
        orders.setdefault(fill.order_id, []).append(fill)
    got = [(fs[0].ts_ns, fs[0].side.value) for fs in orders.values()]  # type: ignore[attr-defined]
    assert len(expected) > 20
    assert got == expected
    assert all(sum(f.qty for f in fs) == Decimal("0.5") for fs in orders.values())  # type: ignore[attr-defined]
    opens = dict(zip(bars["ts_ms"] * 1_000_000, bars["open"], strict=True))
    assert all(float(f.price) == opens[f.ts_ns] for f in result.fills)  # zero slippage


def test_sweep_runs_the_grid_in_parallel(tmp_path: Path) -> None:
    path = ema_config(tmp_path)
    report = tmp_path / "sweep"
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", "backtest", "--config", str(path), "--report",
         str(report), "--sweep", "fast=3,20", "--sweep", "slow=15,30", "--jobs", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads((report / "sweep.json").read_text())
    assert [r["params"] for r in rows] == [{"fast": 3, "slow": 15}, {"fast": 3, "slow": 30},
                                          {"fast": 20, "slow": 15}, {"fast": 20, "slow": 30}]
    # an invalid set in the grid is skipped with its reason; the others run
    invalid = "strategies[0]: fast (20) must be < slow (15) (strategy 'ema')"
    assert rows[2] == {"params": {"fast": 20, "slow": 15}, "error": invalid}
    assert f"--sweep run-2 {{'fast': 20, 'slow': 15}} not run: {invalid}" in result.stderr
    assert len({r["trades"] for r in rows if "error" not in r}) > 1
    assert (report / "run-3" / "metrics.json").exists() and not (report / "run-2").exists()
    page = (report / "sweep.html").read_text()
    assert page.count('<a href="run-') == 3 and (report / "run-3" / "report.html").exists()
    assert "<th>fast</th><th>slow</th>" in page
    assert f"<td>{rows[3]['trades']:,}</td>" in page
    assert "<td>run-2</td><td>20</td><td>15</td><td colspan=\"8\" class=\"error\">not run: " \
           "strategies[0]: fast (20) must be &lt; slow (15) (strategy &#x27;ema&#x27;)</td>" in page


def test_a_sweep_with_no_valid_set_is_a_config_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", "backtest", "--config", str(ema_config(tmp_path)),
         "--sweep", "fast=20,30", "--jobs", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 78, result.stderr[-3000:]
    assert "--sweep: no parameter set is valid; run-0 {'fast': 20}: strategies[0]: fast (20) " \
           "must be < slow (15)" in result.stderr


def test_persisted_backtest_writes_its_record(tmp_path: Path, make_database: object) -> None:
    import asyncio

    import asyncpg

    dsn = make_database()  # type: ignore[operator]
    result = run_backtest(load_config(ema_config(tmp_path), env={}), persist_dsn=dsn)

    async def counts() -> tuple[int, int, int, str]:
        conn = await asyncpg.connect(dsn, server_settings={"search_path": "tradeengine"})
        try:
            trades = await conn.fetchval(  # each with what it realized
                "SELECT count(*) FROM trades WHERE realized_pnl IS NOT NULL")
            prices = await conn.fetchval(
                "SELECT count(*) FROM price_data WHERE timeframe = '1m'")
            orders = await conn.fetchval("SELECT count(*) FROM orders")
            status = await conn.fetchval("SELECT status FROM backtests")
            return trades, prices, orders, status
        finally:
            await conn.close()

    trades, prices, orders, status = asyncio.run(counts())
    assert trades == len(result.fills)
    assert prices == 0  # the bars are the files' (persist_bars is off by default)
    assert orders == len({f.order_id for f in result.fills})
    assert status == "finished"

    dsn = make_database()  # type: ignore[operator]
    path = ema_config(tmp_path)
    path.write_text(path.read_text().replace("[backtest]", "[backtest]\npersist_bars = true"))
    result = run_backtest(load_config(path, env={}), persist_dsn=dsn)
    trades, prices, orders, status = asyncio.run(counts())
    assert (trades, prices, status) == (len(result.fills), result.bars, "finished")
    assert result.persisted["rows_rejected"] == 0

    # The same backtest again on the same database: new orders and fills, nothing refused
    # (ids are unique per run, bars already there are left alone).
    again = run_backtest(load_config(path, env={}), persist_dsn=dsn)
    assert again.persisted["rows_rejected"] == 0
    assert again.persisted["rows_written"]["trades"] == len(again.fills)


def test_date_range_limits_the_bars_and_a_bad_date_names_its_key(tmp_path: Path) -> None:
    path = ema_config(tmp_path)
    text = path.read_text().replace('starting_cash = "100000"',
                                    'starting_cash = "100000"\nstart = "2018-04-05"\n'
                                    'end = "2018-04-05T12:00:00Z"')
    path.write_text(text)
    result = run_backtest(load_config(path, env={}))
    assert result.bars == 12 * 60
    assert result.metrics["first_bar"] == "2018-04-05T00:00:00+00:00"  # open times
    assert result.metrics["last_bar"] == "2018-04-05T11:59:00+00:00"
    path.write_text(text.replace('start = "2018-04-05"', 'start = "5 April"'))
    with pytest.raises(ConfigError, match=r"^backtest\.start: expected an ISO date"):
        run_backtest(load_config(path, env={}))


def test_equity_curve_ends_at_the_portfolios_exact_equity(tmp_path: Path) -> None:
    """The float curve (computed from bars and fills after the run) and the portfolio's
    Decimal accounting agree; the curve has a point per bar time."""
    result = run_backtest(load_config(ema_config(tmp_path), env={}))
    bars = pd.read_csv(BTC_1M)
    assert len(result.equity) == len(bars) == result.metrics["bars"]
    assert result.ts_ns[0] == bars["ts_ms"].iloc[0] * 1_000_000 + 60 * 10**9  # at its close
    end = float(Decimal(result.metrics["end_equity"]))
    assert result.equity[-1] == pytest.approx(end, rel=1e-12)
    assert result.equity[0] == pytest.approx(100_000, rel=1e-9)
    assert 0 < result.metrics["exposure"] < 1


def test_replay_lanes_change_no_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every bar through the feed's full on_bar path gives the same fills and metrics as
    the replay lanes' steady-state path."""
    from engine.marketdata.feed import MarketDataFeed

    class OnBarLane:
        """A lane that sends every bar through ``on_bar`` (the runner's lane interface)."""

        def __init__(self, feed: MarketDataFeed) -> None:
            self.bars = 0
            self._on_bar = feed.on_bar

        def push(self, bar: object, checked: bool = True) -> None:
            self.bars += 1
            self._on_bar(bar)  # type: ignore[arg-type]

        def finish(self) -> None:
            pass

    config = load_config(ema_config(tmp_path), env={})
    fast = run_backtest(config)
    lanes: list[OnBarLane] = []
    monkeypatch.setattr(MarketDataFeed, "replay_lane",
                        lambda feed, timeframe: lanes.append(OnBarLane(feed)) or lanes[-1])
    slow = run_backtest(config)
    assert lanes and lanes[0].bars == slow.bars > 0
    assert [(f.ts_ns, f.side, f.qty, f.price) for f in fast.fills] == [
        (f.ts_ns, f.side, f.qty, f.price) for f in slow.fills]
    assert fast.metrics == slow.metrics
    assert np.array_equal(fast.equity, slow.equity)


def test_a_range_without_bars_is_a_config_error_saying_what_the_files_hold(
        tmp_path: Path) -> None:
    path = ema_config(tmp_path)
    text = path.read_text()

    def run_with(extra: str) -> None:
        path.write_text(text.replace('starting_cash = "100000"',
                                     f'starting_cash = "100000"\n{extra}'))
        run_backtest(load_config(path, env={}))

    held = r"the files hold bars opening from 2018-04-04 00:00 to 2018-04-06 23:59 UTC$"
    with pytest.raises(ConfigError, match=r"^backtest\.start: no bars from 2019-01-01 to "
                                          r"the end; " + held):
        run_with('start = "2019-01-01"')
    with pytest.raises(ConfigError, match=r"^backtest\.start/backtest\.end: no bars from "
                                          r"2017-01-01 to 2017-02-01; " + held):
        run_with('start = "2017-01-01"\nend = "2017-02-01"')
    with pytest.raises(ConfigError, match=r"^backtest\.start: must be before backtest\.end"):
        run_with('start = "2018-04-06"\nend = "2018-04-05"')
    empty = tmp_path / "empty_1m.csv.gz"
    with gzip.open(empty, "wt") as out:
        out.write("ts_ms,open,high,low,close,volume\n")
    path.write_text(text.replace(str(BTC_1M), str(empty)))
    with pytest.raises(ConfigError, match=r"^backtest\.data: the files hold no bars$"):
        run_backtest(load_config(path, env={}))


def test_a_timeframe_whose_file_the_range_leaves_empty_still_runs(tmp_path: Path) -> None:
    """Two files of different timeframes, the range inside one: the other's indicators
    have nothing to preload and the run goes on over the bars there are."""
    five = tmp_path / "coinbase_btcusd_5m_2017-01-01_2017-01-01.csv.gz"
    with gzip.open(five, "wt") as out:
        out.write("ts_ms,open,high,low,close,volume\n")
        for i in range(100):
            out.write(f"{1483228800000 + i * 300_000},1000,1001,999,1000.5,1\n")
    path = ema_config(tmp_path, 'timeframe = "5m"')
    text = path.read_text().replace(f'data = ["{BTC_1M}"]', f'data = ["{BTC_1M}", "{five}"]')
    path.write_text(text.replace('starting_cash = "100000"',
                                 'starting_cash = "100000"\nstart = "2018-04-05"'))
    result = run_backtest(load_config(path, env={}))
    assert result.bars > 0 and result.fills


def test_a_backtest_with_every_strategy_disabled_is_a_config_error(tmp_path: Path) -> None:
    """It ran and reported nothing traded, with no word of why."""
    with pytest.raises(ConfigError, match=r"^strategies: every \[\[strategies\]\] table has "
                                          r"enabled = false"):
        run_backtest(load_config(ema_config(tmp_path, "enabled = false"), env={}))


def test_a_strategy_symbol_no_file_holds_is_a_config_error(tmp_path: Path) -> None:
    path = ema_config(tmp_path)
    path.write_text(path.read_text().replace('symbol = "BTC/USD"', 'symbol = "BTC/USDT"'))
    with pytest.raises(ConfigError, match=r"^strategies\[0\]\.symbol: BTC/USDT in no file of "
                                          r"backtest\.data \(they hold BTC/USD; "):
        run_backtest(load_config(path, env={}))


def test_risk_state_changes_are_in_the_metrics_and_on_the_page(tmp_path: Path) -> None:
    """A tight daily-loss guard trips during the run: when, from what to what, and why."""
    path = ema_config(tmp_path)
    path.write_text(path.read_text().replace(
        "[[strategies]]", '[risk]\nmax_daily_loss_pct = "0.01"\n\n[[strategies]]', 1))
    result = run_backtest(load_config(path, env={}))
    changes = result.metrics["risk_state_changes"]
    assert changes and changes[0]["from"] == "active" and changes[0]["to"] == "reducing"
    assert changes[0]["source"] == "guard:daily_loss"
    assert changes[0]["reason"].startswith("daily loss ")
    assert changes[0]["at"].startswith("2018-04-0")
    # ema_cross trades through order_target, which while reducing only moves towards flat:
    # nothing for the risk engine to refuse
    assert result.metrics["risk_rejections"] == {}
    from engine.backtest.report import write_report

    page = write_report(tmp_path / "r", metrics=result.metrics, ts_ns=result.ts_ns,
                        equity=result.equity, fills=result.fills, title="t")["html"].read_text()
    assert "<h2>Risk state changes (the guards, the daily reset)</h2>" in page
    assert "active -&gt; reducing (guard:daily_loss): daily loss " in page


def test_sweep_specs_that_cannot_mean_a_grid_are_config_errors() -> None:
    from engine.backtest.cli import _grid

    assert _grid(["fast=3,5", "ema.slow=20"]) == [{"fast": 3, "ema.slow": 20},
                                                  {"fast": 5, "ema.slow": 20}]
    with pytest.raises(ConfigError, match=r"^--sweep 'fast=': expected KEY=V1,V2,\.\.\.$"):
        _grid(["fast="])
    with pytest.raises(ConfigError, match=r"^--sweep fast: given twice"):
        _grid(["fast=3", "fast=5"])


def test_a_sweep_key_reaches_parameters_left_at_their_defaults(tmp_path: Path) -> None:
    """``--sweep allow_short=...`` on a table that does not set it: the strategy's config
    class has it, so it is swept, on that strategy alone (RSI has no ``allow_short``)."""
    from engine.backtest.cli import _apply

    path = ema_config(tmp_path, '[[strategies]]\nname = "rsi"\nclass = "rsi_momentum"\n'
                                'symbol = "BTC/USD"\n')
    config = _apply(load_config(path, env={}), {"allow_short": True, "rsi.period": 7})
    ema, rsi = config.strategies
    assert ema["allow_short"] is True and "allow_short" not in rsi
    assert rsi["period"] == 7 and "period" not in ema
    with pytest.raises(ConfigError, match=r"^--sweep nope: no strategy has that parameter"):
        _apply(config, {"nope": 1})


def test_a_report_directory_that_cannot_be_made_fails_before_the_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli import main

    (tmp_path / "a_file").write_text("")
    assert main(["backtest", "--config", str(ema_config(tmp_path)),
                 "--report", str(tmp_path / "a_file" / "report")]) == 78
    err = capsys.readouterr().err
    assert err.startswith(f"tradeengine: config error: --report {tmp_path}/a_file/report: "
                          "cannot create it: Not a directory")
