"""A live engine's warm start from its real sources: the local exchange server (ccxt over
HTTP) and a real PostgreSQL's price_data. The bars before the stream come from price_data,
then from the exchange after the last recorded one; the strategies start with their
indicators ready; nothing of the history is traded on or written back."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import aiohttp
import asyncpg
import numpy as np
import pytest
from _exchange_helpers import ExchangeProcess, RecordingSink, start_server

from engine import indicators as ind
from engine.app import Engine, build_app
from engine.clock import LiveClock
from engine.config import MarketDataConfig, load_config
from engine.datacli import add_data_commands
from engine.ids import Symbol
from engine.marketdata.recorded import read_file
from engine.model import TradeTick
from engine.runner import load_factory
from gateways.ccxt_gateway import CcxtMarketDataGateway

DATA = Path(__file__).resolve().parent.parent / "data"
XRP_1M = DATA / "binance_xrpeth_1m_2019-10-11_2019-10-13.csv.gz"
XRP = Symbol("XRP/ETH")
MIN = 60_000_000_000
HISTORY_BARS = 500  # the server starts this many minutes into its data


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[ExchangeProcess]:
    """One bar a wall second, starting HISTORY_BARS minutes into the data; more arguments
    by indirect parametrization. Stopped whatever the test did."""
    process = start_server("--speed", "60", "--history-s", str(HISTORY_BARS * 60),
                           *getattr(request, "param", ()))
    try:
        yield process
    finally:
        process.stop()


def _file_bars() -> dict[int, tuple[float, ...]]:
    cols = read_file(XRP_1M).columns
    keys = ("open", "high", "low", "close", "volume")
    return {int(t): tuple(float(cols[k][i]) for k in keys)
            for i, t in enumerate(cols["ts"].tolist())}


async def test_history_is_read_in_pages_up_to_the_open_candle(server: ExchangeProcess) -> None:
    gateway = CcxtMarketDataGateway(server.exchange_config(backfill_limit=100),
                                    MarketDataConfig(symbols=[XRP]), LiveClock())
    try:
        await gateway.connect()
        now = await gateway.exchange_now_ns()
        assert now is not None
        start = (now // MIN - 450) * MIN
        bars = await gateway.history(XRP, start)
        after = await gateway.exchange_now_ns()
        assert after is not None
    finally:
        await gateway.close()
    recorded = _file_bars()
    ts = [b.ts_ns for b in bars]
    assert ts == list(range(start, ts[-1] + MIN, MIN))  # every minute once, in order
    # up to the last candle closed by the time of the last page, never the open one
    assert now // MIN * MIN - MIN <= ts[-1] < after // MIN * MIN
    assert all((b.open, b.high, b.low, b.close, b.volume) == recorded[b.ts_ns] for b in bars)
    assert {b.timeframe for b in bars} == {"1m"} and all(b.closed for b in bars)


async def test_resuming_from_a_history_bar_backfills_the_trades_after_it(
        server: ExchangeProcess, sink: RecordingSink) -> None:
    """Bars built from trades continue a warm start's history: the trades after its last
    bar are fetched, not only those of the first live trade's minute (a minute boundary
    passing between the history read and the stream's start would lose a bar)."""
    gateway = CcxtMarketDataGateway(server.exchange_config(), MarketDataConfig(symbols=[XRP]),
                                    LiveClock())
    task: asyncio.Task[None] | None = None
    try:
        await gateway.subscribe_trades(XRP)
        await gateway.connect()
        now = await gateway.exchange_now_ns()
        assert now is not None
        last_bar = (now // MIN - 30) * MIN
        gateway.resume_from(XRP, bar_ts_ns=last_bar)
        task = asyncio.create_task(gateway.run(sink))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while len(sink.of(TradeTick)) < 60 and loop.time() < deadline:
            await asyncio.sleep(0.05)
    finally:
        await gateway.close()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 5)
    trades = read_file(DATA / "binance_xrpeth_trades_2019-10-11_2019-10-13.csv.gz").columns
    after = trades["ts"] >= last_bar + MIN
    first_id = int(trades["trade_id"][after][0])
    ids = [int(t.trade_id) for t in sink.of(TradeTick)]
    assert len(ids) >= 60 and ids == list(range(first_id, first_id + len(ids)))


async def _get(engine: Engine, path: str) -> str:
    url = f"http://127.0.0.1:{engine.health.port}{path}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        async with session.get(url) as response:
            return await response.text()


def _import_first(url: str, state: Path, rows: int) -> None:
    """The first ``rows`` bars of the XRP/ETH file into price_data, as this engine would
    have recorded them in an earlier run (``tradeengine data import``)."""
    state.mkdir(parents=True, exist_ok=True)
    part = state / "binance_xrpeth_1m_2019-10-11_2019-10-13.csv.gz"
    with gzip.open(XRP_1M, "rt") as src, gzip.open(part, "wt") as out:
        for i, line in enumerate(src):
            if i > rows:
                break
            out.write(line)
    config = state / "import.toml"
    config.write_text(f'[engine]\nstate_dir = "{state}"\n[database]\ndsn = "{url}"\n')
    parser = argparse.ArgumentParser()
    add_data_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["data", "import", str(part), "--config", str(config)])
    assert args.func(args) == 0


EMA_150 = """
[[strategies]]
name = "slow_ema"
class = "ema_cross"
symbol = "XRP/ETH"
fast = 50
slow = 150
qty = "1"
"""


def _engine(url: str, state: Path, server: ExchangeProcess, stream: str,
            strategy: str = EMA_150) -> Engine:
    state.mkdir(parents=True, exist_ok=True)
    path = state / "live.toml"
    path.write_text(f"""
[engine]
state_dir = "{state}"
[database]
dsn = "{url}"
[health]
port = 0
[marketdata]
source = "ccxt"
symbols = ["XRP/ETH"]
streams = ["{stream}"]
timeframes = ["1m", "5m"]
[exchange]
name = "binance"
timeout_s = 5.0
[exchange.urls.api]
public = "{server.base}/api/v3"
[exchange.urls.api.ws]
spot = "ws://127.0.0.1:{server.port}/ws"
[exchange.options.fetchMarkets]
types = ["spot"]
{strategy}
""")
    return build_app(load_config(path, env={}), config_path=path,
                     market_data_gateway=load_factory("market_data"),
                     execution=load_factory("execution"))


@pytest.mark.parametrize("server", [("--kline-history", "200")], indirect=True)
@pytest.mark.parametrize("stream", ["trades", "bars"])
async def test_a_live_engine_starts_with_its_indicators_warm(
        make_database: Callable[[], str], tmp_path: Path, stream: str,
        server: ExchangeProcess) -> None:
    """The exchange here keeps its latest 200 candles: price_data has the older ones."""
    url = await asyncio.to_thread(make_database)
    recorded_rows = 480
    await asyncio.to_thread(_import_first, url, tmp_path / "import", recorded_rows)
    engine = _engine(url, tmp_path / "state", server, stream)
    task = asyncio.create_task(engine.run())
    try:
        await asyncio.wait_for(engine.wait_ready(), 60)
        # read everything at one instant: no await in between, no bar can land meanwhile
        hub = engine.strategies.indicators
        slow = hub.ema(XRP, "1m", 150)
        ring = engine.marketdata.bars(XRP, "1m")
        ready_at_start, slow_value = slow.ready, slow.value
        ring_ts, ring_close = ring.ts().tolist(), ring.close()
        five = engine.marketdata.bars(XRP, "5m").close().tolist()
        calls = engine.strategies.status()[0]["calls"]
        warmup = engine.services[[s.name for s in engine.services].index("marketdata")].warmup
        metrics = await _get(engine, "/metrics")
        # live bars continue the history: none missing, none twice
        history = sum(warmup["bars"][XRP].values())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while len(ring.ts()) < history + 3 and loop.time() < deadline:
            await asyncio.sleep(0.1)
        joined = ring.ts().tolist()
        feed = engine.marketdata
        duplicates, bad = feed.duplicate_bars, feed.bad.total
    finally:
        engine.request_stop()
        code = await asyncio.wait_for(task, 60)
    assert code == 0
    recorded = _file_bars()
    first = min(recorded)
    # 3 x 150 minutes of history: the exchange's latest 200 candles, then price_data for
    # the older part (what an earlier run recorded)
    assert warmup["failures"] == [] and warmup["resumed"] == [XRP]
    by_source = warmup["bars"][XRP]
    assert list(by_source) == ["exchange", "price_data"]
    for source, bars in by_source.items():
        assert (f'tradeengine_warmup_bars{{source="{source}",symbol="XRP/ETH"}} {float(bars)}'
                in metrics)
    assert "tradeengine_warmup_failures 0.0" in metrics
    assert by_source["exchange"] in (199, 200) and sum(by_source.values()) == 450
    start = ring_ts[0]
    assert ring_ts[:sum(by_source.values())] == list(
        range(start, start + sum(by_source.values()) * MIN, MIN))
    assert [recorded[t][3] for t in ring_ts[:450]] == ring_close[:450].tolist()
    # the strategy's slow EMA was ready when the engine was: bit for bit the batch EMA of
    # every close the feed holds (history, and any live bar already in)
    assert ready_at_start
    assert slow_value == ind.ema(np.asarray(ring_close, dtype=np.float64), 150)[-1]
    assert len(five) >= 89  # 5m bars built from the 1m history
    assert len(joined) >= history + 3
    # every minute after the history, but those without a trade when bars are built from
    # trades (the venue's klines print them flat)
    assert joined[history:] == [t for t in sorted(recorded) if joined[history - 1] < t <=
                                joined[-1] and (stream == "bars" or recorded[t][4] > 0)]
    assert duplicates == 0 and bad == 0
    # the history was not handed to the strategy (on_start, then on_bar of live bars
    # only, 1m and 5m) nor written back to price_data
    assert calls <= 1 + 2 * (len(ring_ts) - history)
    conn = await asyncpg.connect(url)
    try:
        copies = await conn.fetchval(
            "SELECT count(*) FROM tradeengine.price_data WHERE exchange = 'binance' "
            "AND symbol = $1 "
            "AND ts >= to_timestamp($2 / 1e9) AND ts <= to_timestamp($3 / 1e9)",
            XRP, first + recorded_rows * MIN, ring_ts[history - 1])
    finally:
        await conn.close()
    assert copies == 0


RING_READER = """
from engine.strategy import Strategy, StrategyConfig

class Cfg(StrategyConfig, frozen=True):
    symbol: str
    timeframes: tuple[str, ...] = ("1m", "5m")

FIRST = {}

class Reader(Strategy[Cfg]):
    \"\"\"Reads the last 100 5m bars from its ring at every bar; asks no indicator.\"\"\"

    def history_bars(self):
        return {"5m": 100}

    def on_bar(self, ctx, bar):
        if not FIRST:
            ring = ctx.bars(bar.symbol, "5m")
            FIRST["ts"], FIRST["close"] = ring.ts().tolist(), ring.close().tolist()
"""


async def test_a_strategy_reading_its_rings_gets_the_history_it_declares(
        make_database: Callable[[], str], tmp_path: Path, server: ExchangeProcess,
        strategy_module: Callable[[str, str], ModuleType]) -> None:
    """No indicator asks for history here: ``Strategy.history_bars`` does, and its first
    bar finds the 5m ring full, resampled from the exchange's 1m bars exactly as the
    venue's own 5m candles are."""
    te_ring_history = strategy_module("te_ring_history", RING_READER)

    url = await asyncio.to_thread(make_database)
    engine = _engine(url, tmp_path / "state", server, "bars", strategy="""
[[strategies]]
name = "reader"
class = "te_ring_history:Reader"
symbol = "XRP/ETH"
""")
    task = asyncio.create_task(engine.run())
    try:
        await asyncio.wait_for(engine.wait_ready(), 60)
        warmup = engine.services[[s.name for s in engine.services].index("marketdata")].warmup
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while not te_ring_history.FIRST and loop.time() < deadline:
            await asyncio.sleep(0.1)
    finally:
        engine.request_stop()
        code = await asyncio.wait_for(task, 60)
    assert code == 0
    assert warmup["bars"][XRP]["exchange"] >= 495  # 100 x 5 minutes, less the open ones
    first = te_ring_history.FIRST
    assert len(first["ts"]) >= 98
    cols = read_file(DATA / "binance_xrpeth_5m_2019-10-11_2019-10-13.csv.gz").columns
    venue = dict(zip(cols["ts"].tolist(), cols["close"].tolist(), strict=True))
    assert first["close"] == [venue[t] for t in first["ts"]]
