"""``tradeengine data resample`` and ``data import`` (into a real PostgreSQL)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from pathlib import Path

import asyncpg
import numpy as np
import pytest

from engine.datacli import add_data_commands
from engine.marketdata.recorded import read_file

DATA = Path(__file__).resolve().parent.parent / "data"
XRP_1M = DATA / "binance_xrpeth_1m_2019-10-11_2019-10-13.csv.gz"
XRP_5M = DATA / "binance_xrpeth_5m_2019-10-11_2019-10-13.csv.gz"
XRP_TRADES = DATA / "binance_xrpeth_trades_2019-10-11_2019-10-13.csv.gz"


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_data_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def test_resample_1m_to_5m_equals_recorded_file(tmp_path: Path) -> None:
    out = tmp_path / "binance_xrpeth_5m_x.csv.gz"
    assert _run("data", "resample", str(XRP_1M), "--timeframe", "5m", "--out", str(out)) == 0
    ours, recorded = read_file(out).columns, read_file(XRP_5M).columns
    for name in ("ts", "open", "high", "low", "close", "volume"):
        assert np.array_equal(ours[name], recorded[name]), name
    # The same format, byte for byte in the header and number style.
    import gzip

    with gzip.open(out, "rt") as handle:
        assert handle.readline() == "ts_ms,open,high,low,close,volume\n"


def test_resample_trades_to_1m(tmp_path: Path) -> None:
    out = tmp_path / "bars.csv"
    assert _run("data", "resample", str(XRP_TRADES), "--timeframe", "1m", "--out",
                str(out)) == 0
    text = out.read_text().splitlines()
    recorded = read_file(XRP_1M).columns
    assert len(text) - 1 == int((recorded["volume"] > 0).sum())


def test_resample_errors_have_exit_codes(tmp_path: Path) -> None:
    assert _run("data", "resample", str(tmp_path / "nope.csv.gz"), "--timeframe", "5m",
                "--out", str(tmp_path / "o.csv")) == 66
    assert _run("data", "resample", str(XRP_5M), "--timeframe", "1m", "--out",
                str(tmp_path / "o.csv")) == 65


def test_import_into_price_data(tmp_path: Path, make_database: Callable[[], str]) -> None:
    url = make_database()
    config = tmp_path / "c.toml"
    config.write_text(f'[engine]\nstate_dir = "{tmp_path / "state"}"\n'
                      f'[database]\ndsn = "{url}"\n')
    args = ("data", "import", str(XRP_1M), "--symbol", "XRP/ETH", "--config", str(config))
    assert _run(*args) == 0
    assert _run(*args) == 0  # idempotent: upserts

    async def rows() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(url, timeout=30)
        try:
            return await conn.fetch(
                "SELECT exchange, symbol, timeframe, count(*) AS n, min(ts) AS first "
                "FROM tradeengine.price_data GROUP BY 1, 2, 3")
        finally:
            await conn.close()

    (row,) = asyncio.run(rows())
    assert (row["exchange"], row["symbol"], row["timeframe"], row["n"]) == (
        "binance", "XRP/ETH", "1m", 3560)
    assert int(row["first"].timestamp()) == 1570752000


def test_a_small_import_goes_straight_to_the_database(
        tmp_path: Path, make_database: Callable[[], str], caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Fewer bars than one yield of the import: the writer was closed before it had
    started, journaled every row and, on opening, reported them as left by a previous run."""
    import gzip

    small = tmp_path / XRP_1M.name
    with gzip.open(XRP_1M, "rt") as src, gzip.open(small, "wt") as out:
        out.writelines(line for _, line in zip(range(301), src, strict=False))
    config = tmp_path / "c.toml"
    config.write_text(f'[engine]\nstate_dir = "{tmp_path / "state"}"\n'
                      f'[database]\ndsn = "{make_database()}"\n')
    assert _run("data", "import", str(small), "--config", str(config)) == 0
    assert "imported 300 bars into price_data (rows written: 300, journaled: 0" in \
        capsys.readouterr().out
    assert not [r for r in caplog.records if "journal" in r.getMessage()]


@pytest.mark.parametrize("tf", ["5m", "1h"])
def test_import_trades_aggregated(tmp_path: Path, make_database: Callable[[], str],
                                  tf: str) -> None:
    url = make_database()
    config = tmp_path / "c.toml"
    config.write_text(f'[engine]\nstate_dir = "{tmp_path / "state"}"\n'
                      f'[database]\ndsn = "{url}"\n')
    assert _run("data", "import", str(XRP_TRADES), "--timeframe", tf, "--exchange",
                "binance", "--config", str(config)) == 0
