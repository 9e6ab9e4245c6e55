"""Warm start: the bars before the live stream, so that strategies start with their
indicators ready instead of waiting out each lookback after every restart.

At start, once the strategies have asked for their indicators and before the first live
record, each of their symbols' 1m history is loaded from its sources in order, each filling
what those before it left (the bars before the first they gave, or all when they gave none):

1. the exchange by REST (the gateway's ``history``), up to the candle still open: the
   source of truth, complete (flat bars of minutes without trades included);
2. ``price_data``: what this engine recorded before (its database is always there; a
   private cluster when none is configured), for what the exchange no longer serves (many
   keep a few hundred or thousand candles) or when it does not answer.

The span is ``[marketdata] warmup_periods`` times the longest period asked on each
timeframe, in 1m bars, capped at ``warmup_max_bars``. The bars go through the feed as if
streamed (rings, last closed bar, the higher timeframes they complete) and through the
indicator hub; nothing reaches the strategies, the paper gateway, the portfolio or
price_data. When the history reaches the present, the gateway resumes its stream right
after the last history bar, so no bar is lost or seen twice; an older end is a gap the
indicators stream across (a gateway's backfill would replay it to the strategies as live).

Several symbols are read at once (each source says how many: the exchange's requests are
round trips that ccxt paces by the venue's rate limit, so a few in flight fill the waits;
``price_data`` one at a time, leaving the pool to the store writer); what is read goes
into the feed and the indicators in the order of the symbols, as if read one by one.

A source that fails (timeout, exchange error, database down) is logged and alerted, and
the engine starts with what the others gave: a cold indicator is a worse start, not a
reason to stay down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import asyncpg

from engine.marketdata.recorded import bar_objects
from engine.marketdata.state import BASE_TIMEFRAME
from engine.marketdata.timeframes import timeframe_ns
from engine.model import Bar
from engine.store.price_reader import PriceDataEmpty, PriceSeries, read_bars

__all__ = ["GatewayHistory", "HistorySource", "PriceDataHistory", "WarmupReport",
           "plan_spans", "warm_start"]

_log = logging.getLogger(__name__)
BASE_NS: Final = timeframe_ns(BASE_TIMEFRAME)
CHUNK_BARS: Final = 20_000
"""Bars the indicator hub is given between two turns of the event loop (about 0.1 s)."""
RESUME_WITHIN_BARS: Final = 5
"""History ending at most this many 1m bars before the present is resumed from exactly."""


class HistorySource(Protocol):
    """Where 1m bars before the stream come from."""

    @property
    def name(self) -> str:
        """What the log and /status call it."""
        ...

    @property
    def concurrency(self) -> int:
        """How many symbols it is asked for at once."""
        ...

    async def history(self, symbol: str, start_ns: int, end_ns: int) -> list[Bar]:
        """Closed 1m bars of ``symbol`` opening in [``start_ns``, ``end_ns``), in time
        order."""
        ...


@dataclass(frozen=True, slots=True)
class PriceDataHistory:
    """The 1m bars this engine recorded in ``price_data`` under ``venue``."""

    pool: asyncpg.Pool
    venue: str
    timeout_s: float
    name: str = "price_data"
    concurrency: int = 1

    async def history(self, symbol: str, start_ns: int, end_ns: int) -> list[Bar]:
        """See :class:`HistorySource`."""
        async with self.pool.acquire(timeout=self.timeout_s) as conn:
            try:
                data = await read_bars(conn, PriceSeries(self.venue, symbol, BASE_TIMEFRAME),
                                       start_ns=start_ns, end_ns=end_ns,
                                       timeout=self.timeout_s)
            except PriceDataEmpty:
                return []
        return bar_objects(data.info.venue, data.info.symbol, BASE_TIMEFRAME, data.columns)


@dataclass(frozen=True, slots=True)
class GatewayHistory:
    """The exchange's 1m bars, through the market data gateway's ``history`` (which reads
    from ``start_ns`` to the present)."""

    fetch: Callable[[str, int], Awaitable[list[Bar]]]
    name: str = "exchange"
    concurrency: int = 4

    async def history(self, symbol: str, start_ns: int, end_ns: int) -> list[Bar]:
        """See :class:`HistorySource`."""
        return [bar for bar in await self.fetch(symbol, start_ns)
                if bar.ts_ns < end_ns and bar.timeframe == BASE_TIMEFRAME and bar.closed]


@dataclass(slots=True)
class WarmupReport:
    """What a warm start loaded: 1m bars per symbol and source, and what failed."""

    bars: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able, for /status."""
        return {"bars": self.bars, "failures": self.failures, "resumed": self.resumed}


def plan_spans(longest: Mapping[str, int], symbols: Callable[[str], list[str]], *,
               periods: int, max_bars: int,
               rings: Mapping[str, Mapping[str, int]] | None = None) -> dict[str, int]:
    """The 1m bars of history each symbol needs: ``periods`` times the longest period asked
    on each of its timeframes (``longest``, by timeframe), and the bars strategies read
    from its rings (``rings``: by symbol, bars by timeframe), capped at ``max_bars``."""
    spans: dict[str, int] = {}
    for timeframe, period in longest.items():
        bars = min(max_bars, periods * period * (timeframe_ns(timeframe) // BASE_NS))
        for symbol in symbols(timeframe):
            spans[symbol] = max(spans.get(symbol, 0), bars)
    for symbol, by_timeframe in (rings or {}).items():
        for timeframe, count in by_timeframe.items():
            bars = min(max_bars, count * (timeframe_ns(timeframe) // BASE_NS))
            spans[symbol] = max(spans.get(symbol, 0), bars)
    return {symbol: bars for symbol, bars in spans.items() if bars > 0}


async def warm_start(feed: Any, hub: Any, sources: list[HistorySource],
                     spans: Mapping[str, int], *, now_ns: int, timeout_s: float,
                     resume: Callable[[str, int], None] | None = None) -> WarmupReport:
    """Load each symbol's ``spans`` 1m bars before ``now_ns`` from ``sources`` in order,
    each asked only for what those before it left (the bars before the first they gave),
    record them in ``feed`` (:meth:`MarketDataFeed.warm`) and advance ``hub``
    (:meth:`IndicatorHub.warm`) over them and the higher bars they closed. ``timeout_s``
    bounds all the reads together (a service manager's start timeout is waiting): what is
    not read by then is reported as timed out. ``resume`` (symbol, last bar's open time) is
    called for histories that reach the present."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    limits = [asyncio.Semaphore(max(1, source.concurrency)) for source in sources]
    async with asyncio.TaskGroup() as group:
        reads = {symbol: group.create_task(_read(symbol, span, sources, limits, now_ns,
                                                 deadline))
                 for symbol, span in spans.items()}
    report = WarmupReport()
    closed: list[Bar] = []
    for symbol, read in reads.items():  # in the order of spans, as if read one by one
        got, counts, failures = read.result()
        if counts:
            report.bars[symbol] = counts
        report.failures += failures
        closed += feed.warm(got)
        await asyncio.sleep(0)  # the loop runs between symbols (health, signals)
        if got and resume is not None and got[-1].ts_ns >= now_ns - RESUME_WITHIN_BARS * BASE_NS:
            resume(symbol, got[-1].ts_ns)
            report.resumed.append(symbol)
    closed.sort(key=lambda bar: bar.ts_ns)  # stable: each symbol's own order stays
    for chunk in _by_time(closed, CHUNK_BARS):
        hub.warm(chunk)
        await asyncio.sleep(0)
    return report


async def _read(symbol: str, span: int, sources: list[HistorySource],
                limits: list[asyncio.Semaphore], now_ns: int, deadline: float,
                ) -> tuple[list[Bar], dict[str, int], list[str]]:
    """One symbol's history from ``sources`` in order: the bars, how many each gave, and
    what failed. Waiting for a source's turn counts against the deadline too."""
    loop = asyncio.get_running_loop()
    start = (now_ns // BASE_NS - span) * BASE_NS
    got: list[Bar] = []
    counts: dict[str, int] = {}
    failures: list[str] = []
    for source, limit in zip(sources, limits, strict=True):
        end = got[0].ts_ns if got else now_ns
        if end <= start:
            break
        try:
            bars = await asyncio.wait_for(_in_turn(limit, source, symbol, start, end),
                                          max(0.0, deadline - loop.time()))
        except Exception as exc:  # any source failing leaves a colder start, no more
            timed_out = isinstance(exc, TimeoutError)
            why = "timed out" if timed_out else f"{exc}"
            failures.append(f"{source.name} {symbol}: {why}")
            _log.info("warm start: %s %s: %s", source.name, symbol, why,
                      exc_info=None if timed_out else exc)
            continue
        fresh = _ascending([b for b in bars if start <= b.ts_ns < end])
        counts[source.name] = len(fresh)
        got = fresh + got
    return got, counts, failures


async def _in_turn(limit: asyncio.Semaphore, source: HistorySource, symbol: str,
                   start: int, end: int) -> list[Bar]:
    async with limit:
        return await source.history(symbol, start, end)


def _by_time(bars: list[Bar], size: int) -> list[list[Bar]]:
    """``bars`` (in time order) cut into chunks of about ``size``, never inside a bar
    time: the hub advances a bar time when a chunk ends."""
    chunks, lo = [], 0
    while lo < len(bars):
        hi = min(lo + size, len(bars))
        while hi < len(bars) and bars[hi].ts_ns == bars[hi - 1].ts_ns:
            hi += 1
        chunks.append(bars[lo:hi])
        lo = hi
    return chunks


def _ascending(bars: list[Bar]) -> list[Bar]:
    """``bars`` strictly increasing in open time (a source's repeats dropped)."""
    out: list[Bar] = []
    for bar in sorted(bars, key=lambda b: b.ts_ns):
        if not out or bar.ts_ns > out[-1].ts_ns:
            out.append(bar)
    return out
