"""Replay from the price_data table: recorded files imported with ``tradeengine data import``
into a throwaway PostgreSQL database, replayed, compared with the files."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from engine.app import Engine, build_app
from engine.clock import SimClock
from engine.config import Config, ConfigError, load_config
from engine.datacli import add_data_commands
from engine.gateway import GatewayError, InboundItem
from engine.marketdata.recorded import read_file
from engine.model import Bar
from engine.runner import load_factory
from engine.secrets import Secret
from engine.store.price_reader import PriceDataSource, PriceSeries
from gateways.factory import build_market_data_gateway
from gateways.replay import ReplayGateway

DATA = Path(__file__).resolve().parent.parent / "data"
XRP_1M = DATA / "binance_xrpeth_1m_2019-10-11_2019-10-13.csv.gz"
XRP_5M = DATA / "binance_xrpeth_5m_2019-10-11_2019-10-13.csv.gz"
BTC_1M = DATA / "coinbase_btcusd_1m_2018-04-04_2018-04-06.csv.gz"
DAY_NS = 86_400_000_000_000


def _import(url: str, state: Path, *files: Path) -> None:
    config = state / "import.toml"
    state.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[engine]\nstate_dir = "{state}"\n[database]\ndsn = "{url}"\n')
    parser = argparse.ArgumentParser()
    add_data_commands(parser.add_subparsers(dest="command", required=True))
    for path in files:
        args = parser.parse_args(["data", "import", str(path), "--config", str(config)])
        assert args.func(args) == 0


@pytest.fixture(scope="module")
def price_url(make_database: Callable[[], str],
              tmp_path_factory: pytest.TempPathFactory) -> str:
    """A throwaway database holding XRP/ETH 1m and 5m and BTC/USD 1m, imported from files."""
    url = make_database()
    _import(url, tmp_path_factory.mktemp("import"), XRP_1M, XRP_5M, BTC_1M)
    return url


def _config(url: str, tmp_path: Path, body: str) -> Config:
    path = tmp_path / "replay.toml"
    path.write_text(f'[engine]\nstate_dir = "{tmp_path / "state"}"\n'
                    f'[database]\ndsn = "{url}"\n'
                    f"[marketdata]\npersist_bars = false\n"
                    f"[replay]\nsource = \"price_data\"\nspeed = 0.0\nloop = false\n{body}\n")
    return load_config(path, env={})


def _replayed_bars(config: Config) -> list[Bar]:
    gateway = build_market_data_gateway(config, SimClock())
    assert isinstance(gateway, ReplayGateway)
    asyncio.run(gateway.connect())
    items: list[InboundItem] = []
    gateway.drive(items.append)
    assert all(isinstance(item, Bar) for item in items)
    return [item for item in items if isinstance(item, Bar)]


def _ts(path: Path) -> npt.NDArray[np.int64]:
    return np.asarray(read_file(path).columns["ts"], dtype=np.int64)


def _assert_bars_equal_file(bars: list[Bar], path: Path,
                            mask: npt.NDArray[np.bool_] | None = None) -> None:
    cols = read_file(path).columns
    keep = np.ones(len(cols["ts"]), dtype=bool) if mask is None else mask
    assert len(bars) == int(keep.sum())
    got = {
        "ts": np.array([b.ts_ns for b in bars], dtype=np.int64),
        **{name: np.array([getattr(b, name) for b in bars])
           for name in ("open", "high", "low", "close", "volume")},
    }
    for name, values in got.items():
        assert np.array_equal(values, cols[name][keep]), name


def test_replay_from_price_data_delivers_the_files_bars(price_url: str, tmp_path: Path) -> None:
    config = _config(price_url, tmp_path, 'tables = ["binance:XRP/ETH:1m"]')
    bars = _replayed_bars(config)
    _assert_bars_equal_file(bars, XRP_1M)
    assert {(b.venue, b.symbol, b.timeframe) for b in bars} == {("binance", "XRP/ETH", "1m")}
    assert all(b.closed and b.num_trades == 0 and np.isnan(b.vwap) for b in bars)


def test_several_tables_merge_in_time_order_with_a_range(price_url: str,
                                                         tmp_path: Path) -> None:
    config = _config(price_url, tmp_path, 'tables = ["binance:XRP/ETH:1m", '
                     '"binance:XRP/ETH:5m"]\nstart = "2019-10-12"\n'
                     'end = "2019-10-12T06:00:00+00:00"\nalign_start = false')
    bars = _replayed_bars(config)
    start, end = 1_570_838_400 * 10**9, (1_570_838_400 + 6 * 3600) * 10**9
    for tf, path in (("1m", XRP_1M), ("5m", XRP_5M)):
        ts = _ts(path)
        _assert_bars_equal_file([b for b in bars if b.timeframe == tf], path,
                                (ts >= start) & (ts < end))
    closes = [b.ts_ns + (60 if b.timeframe == "1m" else 300) * 10**9 for b in bars]
    assert closes == sorted(closes)  # delivered when they close, merged in time order


def test_reader_chunks_equal_one_read(price_url: str) -> None:
    series = (PriceSeries("binance", "XRP/ETH", "1m"),)
    one = PriceDataSource(Secret(price_url), series, "tradeengine")()
    chunked = PriceDataSource(Secret(price_url), series, "tradeengine", chunk_rows=97)()
    assert len(one[0]) == len(chunked[0]) == len(read_file(XRP_1M))
    for name, values in one[0].columns.items():
        assert values.dtype == chunked[0].columns[name].dtype
        assert np.array_equal(values, chunked[0].columns[name], equal_nan=True), name
    assert "postgresql" not in repr(PriceDataSource(Secret(price_url), series, "tradeengine"))


def test_empty_range_is_a_clear_error(price_url: str, tmp_path: Path) -> None:
    config = _config(price_url, tmp_path, 'tables = ["binance:XRP/ETH:1m"]\n'
                     'start = "2020-01-01"\nend = "2020-02-01"')
    gateway = build_market_data_gateway(config, SimClock())
    assert gateway is not None
    with pytest.raises(GatewayError) as caught:
        asyncio.run(gateway.connect())
    message = str(caught.value)
    assert message.startswith("replay: price_data binance:XRP/ETH:1m: no bars from "
                              "2020-01-01T00:00:00Z to 2020-02-01T00:00:00Z")
    assert "it holds bars of this series from 2019-10-11T00:00:00Z to 2019-10-13" in message

    config = _config(price_url, tmp_path, 'tables = ["kraken:XRP/ETH:1m"]')
    gateway = build_market_data_gateway(config, SimClock())
    assert gateway is not None
    with pytest.raises(GatewayError, match="holds no bars of this series at all"):
        asyncio.run(gateway.connect())


def test_unreachable_database_names_the_server(tmp_path: Path) -> None:
    url = "postgresql://postgres:hunter2@127.0.0.1:1/none"
    config = _config(url, tmp_path, 'tables = ["binance:XRP/ETH:1m"]')
    gateway = build_market_data_gateway(config, SimClock())
    assert gateway is not None
    with pytest.raises(GatewayError, match=r"cannot connect to postgresql://postgres:\*\*\*@"):
        asyncio.run(gateway.connect())


def test_database_without_price_data_says_so(make_database: Callable[[], str],
                                             tmp_path: Path) -> None:
    config = _config(make_database(), tmp_path, 'tables = ["binance:XRP/ETH:1m"]')
    gateway = build_market_data_gateway(config, SimClock())
    assert gateway is not None
    with pytest.raises(GatewayError, match=r'binance:XRP/ETH:1m: UndefinedTableError: '
                                           r'relation "price_data" does not exist'):
        asyncio.run(gateway.connect())

@pytest.mark.parametrize(("body", "message"), [
    ("", "replay.tables: required"),
    ('tables = ["binance-XRP/ETH-1m"]', "replay.tables[0]: expected \"exchange:symbol:"
     "timeframe\""),
    ('tables = ["binance:XRP/ETH:1w"]', "replay.tables[0]: timeframe '1w'"),
    ('tables = ["binance:XRP/ETH:1m"]\nstart = "yesterday"', "replay.start: expected an ISO"),
    ('tables = ["binance:XRP/ETH:1m"]\nstart = "2019-10-12"\nend = "2019-10-11"',
     "replay.start: must be before end"),
])
def test_config_errors_name_the_key(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _config("postgresql://x@/y", tmp_path, body)
    assert str(caught.value).startswith(message)


def test_tables_without_source_and_persisting_a_loop_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[replay]\ntables = ["binance:XRP/ETH:1m"]\n')
    with pytest.raises(ConfigError, match=r"^replay\.tables: only read when source = "
                                          "'price_data'"):
        load_config(path, env={})
    path.write_text('[replay]\nsource = "price_data"\ntables = ["binance:XRP/ETH:1m"]\n')
    with pytest.raises(ConfigError, match=r"^marketdata\.persist_bars: must be false"):
        load_config(path, env={})  # so check-config catches it too


async def _run_until_bars(engine: Engine, expected: int) -> None:
    """Run the engine until its feed has received ``expected`` bars, check that it got
    exactly those, all valid, then stop it cleanly. The generous deadline is for a loaded
    machine compiling numba kernels afresh; a passing run takes a few seconds."""
    task = asyncio.create_task(engine.run())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 180.0
    try:
        while loop.time() < deadline:
            await asyncio.sleep(0.05)
            if task.done() or (engine.marketdata is not None
                               and engine.marketdata.counts["bar"] >= expected):
                break
        assert not task.done(), task.result()
        assert engine.marketdata.counts["bar"] == expected, engine.status()
        assert engine.marketdata.bad.total == 0
    finally:
        engine.request_stop()
        assert await asyncio.wait_for(task, 60) == 0


async def test_engine_replays_price_data(price_url: str, tmp_path: Path) -> None:
    config = _config(price_url, tmp_path, 'tables = ["coinbase:BTC/USD:1m"]\n'
                     'end = "2018-04-05"\n[health]\nport = 0')
    engine = build_app(config, market_data_gateway=load_factory("market_data"),
                       execution=load_factory("execution"))
    expected = int((_ts(BTC_1M) < 1_522_886_400 * 10**9).sum())
    await _run_until_bars(engine, expected)


async def test_engine_replays_price_data_of_its_embedded_cluster(tmp_path: Path) -> None:
    """No DSN: `data import` fills the private cluster in the state directory, and the
    engine, which starts that cluster before it connects market data, replays from it."""
    state = tmp_path / "state"
    path = tmp_path / "embedded.toml"
    path.write_text(f'[engine]\nstate_dir = "{state}"\n[health]\nport = 0\n'
                    '[marketdata]\npersist_bars = false\n'
                    '[replay]\nsource = "price_data"\ntables = ["binance:XRP/ETH:5m"]\n'
                    'speed = 0.0\nloop = false\n')
    parser = argparse.ArgumentParser()
    add_data_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["data", "import", str(XRP_5M), "--config", str(path)])
    assert await asyncio.to_thread(args.func, args) == 0
    config = load_config(path, env={})
    assert config.database.dsn.reveal() == ""
    engine = build_app(config, market_data_gateway=load_factory("market_data"),
                       execution=load_factory("execution"))
    expected = len(read_file(XRP_5M))
    assert engine.database.embedded
    await _run_until_bars(engine, expected)
