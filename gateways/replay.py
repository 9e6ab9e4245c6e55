"""Recorded market data as a feed: many files, many symbols, merged in time order.

Two ways to play:

- :meth:`ReplayGateway.run` (the :class:`~engine.gateway.MarketDataGateway` way): paced at
  ``speed`` data seconds per wall second (0 = as fast as the engine takes them), into the
  engine's inbox, looping if asked. With a :class:`~engine.clock.SimClock` a
  :class:`~engine.gateway.ClockAdvance` goes before each record time's first record: the
  feed moves the clock there when it handles it (this reader runs ahead by what the inbox
  holds); with a ``LiveClock`` it only paces.
- :meth:`ReplayGateway.drive` (backtests): synchronous, as fast as possible, no ``await``:
  advances the SimClock and calls the feed's ``handle`` directly; trades go as
  :class:`~engine.gateway.TradeBatch` arrays cut at minute boundaries.

Sources: gzip CSV or Parquet files (:mod:`engine.marketdata.recorded`), columns loaded
elsewhere passed as ``data`` (:class:`~engine.marketdata.recorded.RecordedData`), and a
``load_data`` callable for sources that need I/O, called once by :meth:`ReplayGateway.load`
(so in :meth:`ReplayGateway.connect`'s worker thread, off the event loop): that is how bars
of the ``price_data`` table are replayed (``engine.store.price_reader.PriceDataSource``,
wired by ``gateways.factory``). Bars carrying ``vwap``/``num_trades`` columns keep them.

A record is delivered at the moment it became known: a trade or quote at its time, a bar
at its *close* (open time + timeframe). Looping restarts each file on its own, shifting its
timestamps by its span in whole days (and its trade ids by the id span), so time and ids
keep increasing and UTC bar boundaries stay aligned.

A record whose time was shifted (``align_start`` moved its file, or a later loop) is no
longer the venue's history: its venue reads ``replay:<venue>``, so bars persisted from it
can never pass for the venue's own in ``price_data``.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from engine.clock import Clock, SimClock
from engine.gateway import (
    ClockAdvance,
    GatewayError,
    GatewayHealth,
    InboundItem,
    MarketDataSink,
    TradeBatch,
)
from engine.ids import Symbol, Venue
from engine.marketdata.recorded import DataFileError, RecordedData, read_file
from engine.marketdata.timeframes import NS_PER_MINUTE, timeframe_ns
from engine.model import Bar, OrderSide, Quote, TradeTick

__all__ = ["BUNDLED_DATA", "ReplayGateway", "resolve_data_path", "shifted_venue"]

_log = logging.getLogger(__name__)

BUNDLED_DATA: Final = Path(__file__).resolve().parent / "data"
"""Where the bundled recorded files live (package data)."""

_DAY: Final = 86_400_000_000_000
_NAN: Final = float("nan")
_SIDES: Final = {1: OrderSide.BUY, -1: OrderSide.SELL, 0: None}
_KIND_CODE: Final = {"trades": 0, "bars": 1, "quotes": 2}


def resolve_data_path(name: str | Path) -> Path:
    """An absolute path as is; a relative one from the working directory, else bundled."""
    path = Path(name).expanduser()
    if path.is_absolute() or path.exists():
        return path
    bundled = BUNDLED_DATA / path
    return bundled if bundled.exists() else path


def shifted_venue(venue: Venue) -> Venue:
    """The venue of records replayed at times other than their own."""
    return Venue(f"replay:{venue}")


class _Source:
    """One loaded file with its per-loop shifts and its rows as Python lists."""

    def __init__(self, data: RecordedData, shift_ns: int) -> None:
        self.data = data
        self.info = data.info
        self.shift_ns = shift_ns
        self.looped_venue = shifted_venue(data.info.venue)
        self.venue = data.info.venue if shift_ns == 0 else self.looped_venue
        cols = data.columns
        self.ts = np.asarray(cols["ts"], dtype=np.int64) + shift_ns
        self.bar_len = timeframe_ns(data.info.timeframe) if data.info.timeframe else 0
        self.event_ts = self.ts + self.bar_len  # a bar is known when it closes
        first_day = int(self.ts[0]) // _DAY * _DAY
        self.span_ns = max(1, -(-(int(self.event_ts[-1]) - first_day) // _DAY)) * _DAY
        # Whole days covering the file: the shift of each loop.
        ids = cols.get("trade_id")
        self.id_span = int(ids.max() - ids.min() + 1) if ids is not None and len(ids) else 0
        self.rows = {k: v.tolist() for k, v in cols.items() if k != "ts"}
        self.vwap = self.rows.get("vwap")  # bars read from price_data carry these
        self.num_trades = self.rows.get("num_trades")


class ReplayGateway:
    """Replays recorded files; see the module docstring."""

    def __init__(self, files: Sequence[str | Path], clock: Clock, *, speed: float = 600.0,
                 loop: bool = False, align_start: bool = True,
                 venue: str = "replay", data: Sequence[RecordedData] = (),
                 load_data: Callable[[], Sequence[RecordedData]] | None = None) -> None:
        if speed < 0:
            raise ValueError(f"replay speed must be >= 0, got {speed}")
        self._paths = [resolve_data_path(f) for f in files]
        self._data = list(data)  # already loaded
        self._load_data = load_data  # blocking I/O, e.g. bars read from price_data
        self._clock = clock
        self._speed = speed
        self._loop = loop
        self._align = align_start
        self._venue = Venue(venue)
        self._symbols: set[Symbol] = set()
        self._sources: list[_Source] = []
        self._order: npt.NDArray[np.int64] | None = None  # merged: (file << 40) | row
        self._times: npt.NDArray[np.int64] | None = None
        self._closed = False
        self._running = False
        self.delivered = 0
        self.loops = 0

    @property
    def venue(self) -> Venue:
        """``replay`` (each record keeps its file's venue)."""
        return self._venue

    @property
    def symbols(self) -> list[Symbol]:
        """Symbols in the loaded files (after :meth:`connect`)."""
        return sorted({s.info.symbol for s in self._sources})

    @property
    def start_ns(self) -> int:
        """Time of the first record (loads the files if needed): where a SimClock for this
        replay should start, so that no timer fires for every second before the data."""
        self.load()
        return min(int(src.event_ts[0]) for src in self._sources)

    async def connect(self) -> None:
        """Load and merge the files and ``load_data`` (in a worker thread)."""
        await asyncio.to_thread(self.load)

    def load(self) -> None:
        """Load and merge the files now (synchronous; :meth:`connect` does it off-loop)."""
        if self._order is not None:
            return
        if not self._paths and not self._data and self._load_data is None:
            raise GatewayError("replay: no files configured")
        try:
            loaded = [read_file(p) for p in self._paths] + self._data
        except (DataFileError, OSError) as exc:
            raise GatewayError(f"replay: {exc}") from exc
        if self._load_data is not None:
            loaded += self._load_data()
        if self._symbols:
            loaded = [d for d in loaded if d.info.symbol in self._symbols]
            if not loaded:
                raise GatewayError(f"replay: no file holds {sorted(self._symbols)}")
        loaded = [d for d in loaded if len(d)]
        if not loaded:
            raise GatewayError("replay: every configured source is empty")
        first_day = min(int(d.columns["ts"][0]) // _DAY for d in loaded)
        self._sources = [
            _Source(d, (first_day - int(d.columns["ts"][0]) // _DAY) * _DAY if self._align else 0)
            for d in loaded
        ]
        times = np.concatenate([s.event_ts for s in self._sources])
        keys = np.concatenate([(np.int64(i) << 40) | np.arange(len(s.ts), dtype=np.int64)
                               for i, s in enumerate(self._sources)])
        order = np.argsort(times, kind="stable")
        self._times, self._order = times[order], keys[order]
        _log.info("replay loaded", extra={"files": len(self._sources), "records": len(order),
                                          "symbols": self.symbols})

    async def subscribe_trades(self, symbol: Symbol) -> None:
        """Limit the replay to the given symbols (all files when never called)."""
        self._symbols.add(symbol)

    async def subscribe_bars(self, symbol: Symbol, timeframe: str) -> None:
        """See :meth:`subscribe_trades`."""
        self._symbols.add(symbol)

    async def subscribe_quotes(self, symbol: Symbol) -> None:
        """See :meth:`subscribe_trades`."""
        self._symbols.add(symbol)

    def _item(self, file_index: int, row: int, cycle: int) -> InboundItem:
        src = self._sources[file_index]
        ts = int(src.ts[row]) + cycle * src.span_ns
        loop_index = cycle
        info, rows = src.info, src.rows
        venue = src.venue if cycle == 0 else src.looped_venue
        if info.kind == "trades":
            tid = rows["trade_id"][row]
            return TradeTick(venue, info.symbol, ts, rows["price"][row], rows["qty"][row],
                             _SIDES[rows["side"][row]],
                             str(tid + loop_index * src.id_span) if tid >= 0 else "")
        if info.kind == "bars":
            return Bar(venue, info.symbol, info.timeframe or "1m", ts, rows["open"][row],
                       rows["high"][row], rows["low"][row], rows["close"][row],
                       rows["volume"][row],
                       src.vwap[row] if src.vwap is not None else _NAN,
                       src.num_trades[row] if src.num_trades is not None else 0)
        return Quote(venue, info.symbol, ts, rows["bid"][row], rows["bid_qty"][row],
                     rows["ask"][row], rows["ask_qty"][row])

    async def run(self, sink: MarketDataSink) -> None:
        """Deliver everything (looping if configured), paced by ``speed``.

        Files are merged in time order with a heap of per-file cursors; when looping, each
        file starts over on its own (shifted by its own span in whole days), so a shorter
        recording does not fall silent while a longer one finishes.
        """
        self.load()
        aloop = asyncio.get_running_loop()
        sim = self._clock if isinstance(self._clock, SimClock) else None
        self._running = True
        sources = self._sources
        events = [src.event_ts.tolist() for src in sources]
        heap = [(ev[0], f, 0, 0) for f, ev in enumerate(events)]  # (time, file, row, cycle)
        heapq.heapify(heap)
        cycles = [0] * len(sources)
        t0, wall0 = heap[0][0], aloop.time()
        per_ns = 1e-9 / self._speed if self._speed else 0.0
        count = 0
        advanced = sim.now_ns() if sim is not None else 0
        try:
            while heap and not self._closed:
                event_ns, f, row, cycle = heapq.heappop(heap)
                if per_ns:
                    delay = wall0 + (event_ns - t0) * per_ns - aloop.time()
                    if delay > 0.002:
                        await asyncio.sleep(delay)
                elif count % 1000 == 999:
                    await asyncio.sleep(0)
                count += 1
                if sim is not None and event_ns > advanced:
                    # the feed moves the clock when it gets here, not this reader, which
                    # runs ahead of it by what the inbox holds
                    advanced = event_ns
                    if not sink.put_nowait(ClockAdvance(event_ns)):
                        await sink.put(ClockAdvance(event_ns))
                item = self._item(f, row, cycle)
                if isinstance(item, Quote):
                    sink.offer(item)
                elif not sink.put_nowait(item):
                    await sink.put(item)
                self.delivered += 1
                row += 1
                if row == len(events[f]):
                    cycles[f] += 1
                    self.loops = min(cycles)
                    if not self._loop:
                        continue
                    row, cycle = 0, cycle + 1
                heapq.heappush(heap, (events[f][row] + cycle * sources[f].span_ns, f, row,
                                      cycle))
        finally:
            self._running = False

    def drive(self, handle: Callable[[InboundItem], None], clock: SimClock | None = None,
              *, until_ns: int | None = None) -> int:
        """Deliver every record synchronously, as fast as possible; returns records delivered.

        ``clock`` (a SimClock) is moved to each record's time first, so timers fire in order.
        Consecutive trades of one file within one minute go as one :class:`TradeBatch`.
        """
        self.load()
        assert self._times is not None and self._order is not None
        times, keys = self._times, self._order
        n = len(keys)
        files = keys >> 40
        minute = times // NS_PER_MINUTE
        # A run ends where the file or the minute changes.
        cut = np.flatnonzero((files[1:] != files[:-1]) | (minute[1:] != minute[:-1])) + 1
        starts = np.concatenate(([0], cut)).tolist()
        ends = np.concatenate((cut, [n])).tolist()
        delivered = 0
        for lo, hi in zip(starts, ends, strict=True):
            last_ns = int(times[hi - 1])
            if until_ns is not None and int(times[lo]) > until_ns:
                break
            if clock is not None and last_ns > clock.now_ns():
                clock.advance_to(last_ns)
            src = self._sources[int(files[lo])]
            if src.info.kind == "trades":
                rows = keys[lo:hi] & 0xFF_FFFF_FFFF
                cols = src.data.columns
                handle(TradeBatch(src.venue, src.info.symbol, src.ts[rows],
                                  cols["price"][rows], cols["qty"][rows], cols["side"][rows],
                                  cols["trade_id"][rows]))
            else:
                for key in keys[lo:hi].tolist():
                    handle(self._item(key >> 40, key & 0xFF_FFFF_FFFF, 0))
            delivered += hi - lo
        self.delivered += delivered
        return delivered

    async def close(self) -> None:
        """Stop delivering; idempotent."""
        self._closed = True

    def health(self) -> GatewayHealth:
        """Loaded and not closed counts as connected."""
        loaded = self._order is not None
        return GatewayHealth(
            venue=self._venue, connected=loaded and not self._closed,
            detail="" if loaded else "not loaded",
            counters={"delivered": self.delivered, "loops": self.loops},
        )
