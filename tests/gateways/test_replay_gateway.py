"""The replay gateway over real recorded files: merged order, pacing, fast drive, loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine.bus import MessageBus
from engine.clock import LiveClock, SimClock
from engine.config import Config, MarketDataConfig
from engine.gateway import InboundItem, MarketDataGateway
from engine.marketdata import MarketDataFeed
from engine.model import Bar, Quote, TradeTick
from gateways.factory import build_market_data_gateway
from gateways.replay import BUNDLED_DATA as BUNDLED
from gateways.replay import ReplayGateway

DATA = Path(__file__).resolve().parent.parent / "data"
XRP_TRADES = DATA / "binance_xrpeth_trades_2019-10-11_2019-10-13.csv.gz"
BTC_TRADES = DATA / "binance_btcusdt_trades_2021-01-08_2021-01-08.csv.gz"
BTC_QUOTES = DATA / "binance_btcusdt_quotes_2021-01-08_2021-01-08.csv.gz"


def test_default_config_builds_a_replay_of_bundled_real_data() -> None:
    gateway = build_market_data_gateway(Config(), SimClock())
    assert isinstance(gateway, ReplayGateway)
    assert isinstance(gateway, MarketDataGateway)
    gateway.load()
    assert gateway.symbols == ["BTC/USD", "BTC/USDT", "ETH/USD", "XRP/ETH"]


def test_drive_on_simclock_publishes_bars_for_every_bundled_symbol() -> None:
    config = Config()
    clock = SimClock()
    gateway = build_market_data_gateway(config, clock)
    assert isinstance(gateway, ReplayGateway)
    gateway.load()
    bus = MessageBus()
    bars: list[Bar] = []
    bus.subscribe(Bar, bars.append)
    feed = MarketDataFeed(bus, clock, config.marketdata)
    feed.start_timers()
    delivered = gateway.drive(feed.handle, clock)
    assert delivered > 19_000
    assert feed.bad.total == 0
    by_symbol = {b.symbol for b in bars if b.timeframe == "1h"}
    assert by_symbol == {"BTC/USD", "BTC/USDT", "ETH/USD", "XRP/ETH"}
    # Bars of each symbol and timeframe come out in time order, aligned to the timeframe.
    seen: dict[tuple[str, str], int] = {}
    for b in bars:
        key = (b.symbol, b.timeframe)
        assert b.ts_ns > seen.get(key, -1)
        seen[key] = b.ts_ns
        assert b.ts_ns % {"1m": 60, "5m": 300, "15m": 900, "1h": 3600}[b.timeframe] == 0 * 10**9
    # align_start: every file starts on the first file's day.
    first = {s: min(b.ts_ns for b in bars if b.symbol == s) // 86_400_000_000_000
             for s in by_symbol}
    assert len(set(first.values())) == 1


def test_merged_in_time_order_across_files() -> None:
    clock = SimClock()
    gateway = ReplayGateway([BTC_TRADES, BTC_QUOTES], clock, align_start=False)
    items: list[InboundItem] = []
    gateway.drive(items.append, clock)
    times: list[int] = []
    for item in items:
        if isinstance(item, Quote):
            times.append(item.ts_ns)
        else:
            times.extend(item.ts.tolist())  # type: ignore[union-attr]
    assert times == sorted(times)
    assert len(times) == 2001 + 451


async def test_paced_run_into_feed_with_live_clock() -> None:
    clock = LiveClock()
    gateway = ReplayGateway([BTC_TRADES, BTC_QUOTES], clock, speed=100.0)  # 46 s -> 0.46 s
    bus = MessageBus()
    ticks: list[TradeTick] = []
    quotes: list[Quote] = []
    bus.subscribe(TradeTick, ticks.append)
    bus.subscribe(Quote, quotes.append)
    feed = MarketDataFeed(bus, clock, MarketDataConfig(queue_size=64), gateway=gateway)
    await feed.start()
    loop = asyncio.get_running_loop()
    started = loop.time()
    task = asyncio.create_task(feed.run())
    for _ in range(100):
        await asyncio.sleep(0.05)
        if gateway.delivered == 2001 + 451 and not len(feed.inbox):
            break
    elapsed = loop.time() - started
    await feed.close()
    await asyncio.wait_for(task, 5)
    assert len(ticks) == 2001  # trades are never dropped, even through a 64-slot queue
    assert 0 < len(quotes) <= 451  # quotes may coalesce
    assert len(quotes) + feed.inbox.coalesced == 451
    assert elapsed >= 0.3  # paced, not instant
    assert feed.bad.total == 0


async def test_loop_shifts_time_and_ids() -> None:
    clock = SimClock()
    gateway = ReplayGateway([BTC_TRADES], clock, speed=0.0, loop=True)
    bus = MessageBus()
    ticks: list[TradeTick] = []
    bus.subscribe(TradeTick, ticks.append)
    feed = MarketDataFeed(bus, clock, MarketDataConfig(), gateway=gateway)
    await feed.start()
    task = asyncio.create_task(feed.run())
    for _ in range(1000):
        if gateway.loops >= 2:
            break
        await asyncio.sleep(0.01)
    await feed.close()
    await asyncio.wait_for(task, 5)
    assert len(ticks) >= 2 * 2001
    assert feed.bad.total == 0  # no duplicate ids, nothing behind a closed bar
    assert [t.ts_ns for t in ticks] == sorted(t.ts_ns for t in ticks)
    assert ticks[2001].ts_ns - ticks[0].ts_ns == 86_400_000_000_000
    # The first pass is the venue's history; a later pass, shifted in time, is not.
    assert ticks[0].venue == "binance" and ticks[2001].venue == "replay:binance"


def test_records_moved_by_align_start_are_labelled_replay() -> None:
    # XRP/ETH is from 2019, BTC/USDT from 2021: aligned, BTC/USDT's times are not its own.
    clock = SimClock()
    gateway = ReplayGateway([XRP_TRADES, BTC_TRADES], clock, speed=0.0)
    items: list[InboundItem] = []
    gateway.drive(items.append, clock)
    venues = {(getattr(i, "symbol", None), getattr(i, "venue", None)) for i in items}
    assert venues == {("XRP/ETH", "binance"), ("BTC/USDT", "replay:binance")}
    unaligned: list[InboundItem] = []
    ReplayGateway([XRP_TRADES, BTC_TRADES], SimClock(), speed=0.0,
                  align_start=False).drive(unaligned.append)
    assert {getattr(i, "venue", None) for i in unaligned} == {"binance"}


@pytest.mark.parametrize("bad", ["nope.csv.gz", "binance_xrpeth_1mo_2019.csv.gz"])
def test_bad_file_names_fail_clearly(bad: str) -> None:
    from engine.gateway import GatewayError

    with pytest.raises(GatewayError):
        ReplayGateway([bad], SimClock()).load()


async def test_each_file_loops_on_its_own_span() -> None:
    clock = SimClock()
    one_day = BUNDLED / "bybit_btcusdt_1m_2022-12-13_2022-12-13.csv.gz"
    gateway = ReplayGateway([BTC_TRADES, one_day], clock, speed=0.0, loop=True)
    from _exchange_helpers import RecordingSink

    sink = RecordingSink()
    task = asyncio.create_task(gateway.run(sink))
    for _ in range(1000):
        if gateway.loops >= 2:
            break
        await asyncio.sleep(0.01)
    await gateway.close()
    await asyncio.wait_for(task, 5)
    bars = [i for i in sink.items if isinstance(i, Bar)]
    ticks = [i for i in sink.items if isinstance(i, TradeTick)]
    # Both recordings are one UTC day long: they restart together, day after day.
    assert bars[1440].ts_ns - bars[0].ts_ns == 86_400_000_000_000
    assert ticks[2001].ts_ns - ticks[0].ts_ns == 86_400_000_000_000
    stamps = [i.ts_ns + (60_000_000_000 if isinstance(i, Bar) else 0) for i in sink.items]
    assert stamps == sorted(stamps)  # merged in time order across loops


def test_preloaded_columns_replay_like_files() -> None:
    from engine.marketdata.recorded import FileInfo, RecordedData, read_file

    base = read_file(BTC_TRADES)
    bars = read_file(DATA / "binance_xrpeth_1m_2019-10-11_2019-10-13.csv.gz")
    extra = RecordedData(FileInfo(bars.info.venue, bars.info.symbol, "bars", "1m"),
                         bars.columns, bars.path)
    clock = SimClock()
    gateway = ReplayGateway([], clock, data=[extra, base])
    items: list[InboundItem] = []
    assert gateway.drive(items.append, clock) == 3560 + 2001


def test_start_ns_is_the_first_record() -> None:
    gateway = ReplayGateway([BTC_TRADES, BTC_QUOTES], SimClock(), align_start=False)
    assert gateway.start_ns == 1610064000278 * 1_000_000


async def test_the_clock_is_the_time_of_the_record_being_handled() -> None:
    # As fast as the engine takes them, the reader runs ahead of the feed by what the inbox
    # holds: the clock must still read each record's own time when it is handled (an
    # order placed on a bar carries that bar's close, and a paper fill comes from the
    # next bar, not from one the reader had already queued).
    clock = SimClock()
    one_day = BUNDLED / "bybit_btcusdt_1m_2022-12-13_2022-12-13.csv.gz"
    gateway = ReplayGateway([XRP_TRADES, one_day], clock, speed=0.0)
    bus = MessageBus()
    seen: list[tuple[int, int]] = []  # (clock, the record's time) at each publication
    bus.subscribe(TradeTick, lambda t: seen.append((clock.now_ns(), t.ts_ns)))
    bus.subscribe(Bar, lambda b: seen.append((clock.now_ns(), b.ts_ns + 60_000_000_000))
                  if b.venue.endswith("bybit") and b.timeframe == "1m" else None)
    feed = MarketDataFeed(bus, clock, MarketDataConfig(queue_size=64), gateway=gateway)
    await feed.start()
    task = asyncio.create_task(feed.run())
    for _ in range(1000):
        if gateway.delivered == 12_477 + 1440 and not len(feed.inbox):
            break
        await asyncio.sleep(0.01)
    await feed.close()
    await asyncio.wait_for(task, 5)
    assert len(seen) == 12_477 + 1440
    assert feed.inbox.high_water >= 64  # the reader did run ahead
    assert [c for c, _ in seen] == [t for _, t in seen]
