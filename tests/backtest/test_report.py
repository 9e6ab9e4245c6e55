"""The report page as people read it: undefined metrics, durations, unknown keys,
halted strategies."""

from __future__ import annotations

from pathlib import Path

from engine.backtest.report import _duration, write_report


def test_page_shows_undefined_metrics_refusals_and_unknown_keys(tmp_path: Path) -> None:
    metrics = {
        "strategies": ["ema"], "symbols": ["BTC/USD"], "data": ["a.csv.gz"],
        "first_bar": "2022-01-01T00:01:00+00:00", "last_bar": "2022-01-01T00:03:00+00:00",
        "bars": 3, "total_return": 0.0123, "cagr": None, "sharpe": None, "sortino": None,
        "max_drawdown": 0.0, "max_drawdown_duration_s": 0.0, "exposure": 1.0, "trades": 0,
        "win_rate": None, "profit_factor": None, "fills": 1, "fees": "0.05",
        "start_equity": "1000", "end_equity": "1012.3", "risk_rejections": {"no_short": 2},
        "turnover": 1.5,
        "halted": {"broken": {"at": "2022-01-01T00:02:00+00:00",
                              "reason": "on_bar raised ZeroDivisionError: x"}},
    }
    paths = write_report(tmp_path, metrics=metrics, ts_ns=[1, 2, 3],
                         equity=[1000.0, 1005.0, 1012.3], fills=[], title="t")
    page = paths["html"].read_text()
    assert "<th>Total return</th><td>1.23%</td>" in page
    assert "<th>Profit factor</th><td>n/a</td>" in page  # no losing trade: undefined
    assert "<th>End equity</th><td>1,012.30</td>" in page
    assert "<th>no_short</th><td>2</td>" in page
    assert "<h2>Other</h2>" in page and "<th>turnover</th><td>1.5</td>" in page
    assert "Period (UTC)</th><td>2022-01-01 00:01 to 2022-01-01 00:03, 3 bars" in page
    assert ("<h2>Strategies halted during the run (they traded until then)</h2>\n<table>"
            "<tr><th>broken</th><td>2022-01-01 00:02: on_bar raised ZeroDivisionError: x"
            "</td></tr></table>") in page
    assert "<th>halted</th>" not in page  # not again under Other


def test_durations_read_in_days_hours_minutes() -> None:
    assert _duration(0.0) == "0 s"
    assert _duration(59.5) == "59.5 s"
    assert _duration(3600.0) == "1 h"
    assert _duration(2_700_660.0) == "31 d 6 h 11 min"
    assert _duration(86_400.0 + 60.0) == "1 d 1 min"


def test_the_period_says_how_much_history_warmed_the_indicators(tmp_path: Path) -> None:
    metrics = {"first_bar": "2022-01-10T00:01:00+00:00", "last_bar": "2022-01-10T00:03:00+00:00",
               "bars": 3, "warmup_bars": 1500}
    paths = write_report(tmp_path, metrics=metrics, ts_ns=[1, 2, 3],
                         equity=[1000.0, 1000.0, 1000.0], fills=[], title="t")
    page = paths["html"].read_text()
    assert ("Period (UTC)</th><td>2022-01-10 00:01 to 2022-01-10 00:03, 3 bars, after 1,500 "
            "bars of warm-up</td>") in page
    assert "<th>warmup_bars</th>" not in page  # not again under Other
