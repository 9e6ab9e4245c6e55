"""Backtests over data the feed refuses in part (bad bars: counted, dropped, traded as
absent) or whole (timeframes it cannot build: config errors naming the key)."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import pytest

from engine.backtest.report import write_report
from engine.backtest.runner import run_backtest
from engine.config import ConfigError, load_config
from tests.backtest.backtest_configs import BTC_1M, REPO, ema_config


def _rows_with(path: Path, broken: dict[int, tuple[int, str]] | None, drop: bool) -> None:
    """The bundled BTC/USD minute bars, with row ``i`` (0 = first bar) either given the
    value ``broken[i] = (column, text)`` or, with ``drop``, left out."""
    with gzip.open(BTC_1M, "rt") as handle:
        lines = handle.read().splitlines()
    out = [lines[0]]
    for i, line in enumerate(lines[1:]):
        if broken and i in broken:
            if drop:
                continue
            fields = line.split(",")
            column, text = broken[i]
            fields[column] = text
            line = ",".join(fields)
        out.append(line)
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(out) + "\n")


def test_bad_bars_are_counted_by_reason_and_traded_as_absent(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Three broken rows (high below low, a negative close, a NaN volume): each reason is
    logged with the record and counted in ``bad_bars``; the fills and figures are those of
    the file without the rows, and the preloaded indicators do not fall back to streaming."""
    broken = {100: (2, "1.5"), 200: (4, "-1"), 300: (5, "nan")}
    (tmp_path / "dirty").mkdir()
    (tmp_path / "clean").mkdir()
    name = BTC_1M.name
    _rows_with(tmp_path / "dirty" / name, broken, drop=False)
    _rows_with(tmp_path / "clean" / name, broken, drop=True)
    results = {}
    for kind in ("dirty", "clean"):
        path = ema_config(tmp_path / kind)
        path.write_text(path.read_text().replace(str(BTC_1M), str(tmp_path / kind / name)))
        with caplog.at_level(logging.WARNING):
            results[kind] = run_backtest(load_config(path, env={}))
    dirty, clean = results["dirty"], results["clean"]
    assert dirty.metrics["bad_bars"] == {"high_below_low": 1, "non_positive_price": 1,
                                         "non_finite": 1}
    assert clean.metrics["bad_bars"] == {}
    logged = [r.getMessage() for r in caplog.records if "bad market data" in r.getMessage()]
    assert len(logged) == 3 and all("BTC/USD" in m and "Bar(" in m for m in logged)
    assert not [r for r in caplog.records if "differs from the preloaded" in r.getMessage()]
    assert dirty.bars == clean.bars + 3
    assert [(f.ts_ns, f.side, f.qty, f.price) for f in dirty.fills] == [
        (f.ts_ns, f.side, f.qty, f.price) for f in clean.fills]
    same = {k: v for k, v in dirty.metrics.items() if k not in ("bad_bars", "bars")}
    assert same == {k: v for k, v in clean.metrics.items() if k not in ("bad_bars", "bars")}
    page = write_report(tmp_path / "report", metrics=dirty.metrics, ts_ns=dirty.ts_ns,
                        equity=dirty.equity, fills=dirty.fills, title="dirty")["html"]
    assert ("<td>high_below_low 1, non_finite 1, non_positive_price 1</td>"
            in page.read_text())


def test_a_file_out_of_time_order_runs_and_drops_the_late_bars(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Rows 50 and 51 swapped and row 99 repeated: the run goes on (the clock went back and
    it stopped with an internal error), warns, and trades as the file without row 50 (late,
    dropped as behind the last closed bar) and the repeat (a duplicate, as live)."""
    with gzip.open(BTC_1M, "rt") as handle:
        header, *rows = handle.read().splitlines()
    shuffled = [*rows[:50], rows[51], rows[50], *rows[52:100], rows[99], *rows[100:]]
    expected = [*rows[:50], *rows[51:]]
    results = {}
    for kind, body in (("shuffled", shuffled), ("expected", expected)):
        (tmp_path / kind).mkdir()
        data = tmp_path / kind / BTC_1M.name
        with gzip.open(data, "wt") as handle:
            handle.write("\n".join([header, *body]) + "\n")
        path = ema_config(tmp_path / kind)
        path.write_text(path.read_text().replace(str(BTC_1M), str(data)))
        with caplog.at_level(logging.WARNING):
            results[kind] = run_backtest(load_config(path, env={}))
    got, want = results["shuffled"], results["expected"]
    assert got.metrics["bad_bars"] == {"behind_last_closed": 1}
    assert [(f.ts_ns, f.side, f.qty, f.price) for f in got.fills] == [
        (f.ts_ns, f.side, f.qty, f.price) for f in want.fills]
    assert got.metrics["trades"] == want.metrics["trades"] > 0
    warned = [r.getMessage() for r in caplog.records if "not in time order" in r.getMessage()]
    assert warned == [f"backtest.data[0]: {BTC_1M.name} is not in time order: 2 bars open at "
                      "or before an earlier one (the first on line 53); dropped, as the live "
                      "feed drops them"]
    assert not [r for r in caplog.records if "differs from the preloaded" in r.getMessage()]


def test_a_file_of_bars_the_engine_cannot_replay_is_a_config_error(tmp_path: Path) -> None:
    """Seconds bars (the feed builds whole minutes) and monthly bars (not epoch-aligned),
    both among the bundled recorded files: the error names the key and the file, not a
    traceback, and not a misleading symbol error."""
    seconds = REPO / "tests" / "data" / "coinbase_btcusd_1s_2016-10-07_2016-10-09.csv.gz"
    monthly = REPO / "tests" / "data" / "bitstamp_btcusd_1mo_2012-01-31_2024-12-31.csv.gz"
    path = ema_config(tmp_path)
    text = path.read_text()
    path.write_text(text.replace(str(BTC_1M), str(seconds)))
    with pytest.raises(ConfigError, match=r"^backtest\.data\[0\]: coinbase_btcusd_1s_\S+: "
                                          r"timeframe '1s': .*tradeengine data resample"):
        run_backtest(load_config(path, env={}))
    path.write_text(text.replace(str(BTC_1M), str(seconds)).replace(
        'starting_cash = "100000"', 'starting_cash = "100000"\ntimeframe = "1s"'))
    with pytest.raises(ConfigError, match=r"^backtest\.timeframe: coinbase_btcusd_1s_"):
        run_backtest(load_config(path, env={}))
    trades = REPO / "tests" / "data" / "binance_xrpeth_trades_2019-10-11_2019-10-13.csv.gz"
    path.write_text(text.replace(str(BTC_1M), str(trades)))
    with pytest.raises(ConfigError, match=r"^backtest\.data\[0\]: binance_xrpeth_trades_\S+ "
                                          r"holds trades; backtests take bar files; "
                                          r"tradeengine data resample FILE --timeframe 1m"):
        run_backtest(load_config(path, env={}))
    path.write_text(text.replace(str(BTC_1M), f"{BTC_1M}\", \"{monthly}"))
    with pytest.raises(ConfigError, match=r"^backtest\.data\[1\]: bitstamp_btcusd_1mo_\S+: "
                                          r"monthly bars are not supported"):
        run_backtest(load_config(path, env={}))
