"""Bars from the ``price_data`` table as market-data columns (what the replay gateway plays).

A series is (exchange, symbol, timeframe). Its bars come back as a
:class:`~engine.marketdata.recorded.RecordedData` of kind ``bars`` with the columns of a
recorded bar file (``ts``: int64 ns, open time; ``open high low close volume``: float64)
plus ``vwap`` (float64, NaN where NULL) and ``num_trades`` (int64, 0 where NULL).

- This is the market-data boundary: ``numeric`` becomes float64 here and nowhere else in
  the store. The server does the cast (``::float8``: correctly rounded, the same double as
  ``float(Decimal)``); the writer stores market-data floats by their shortest repr, so a bar
  written and read back is the same float.
- Memory stays bounded by the result's numpy arrays: the range is read in chunks of
  ``chunk_rows`` by keyset pagination on the primary key (exchange, symbol, timeframe, ts),
  each chunk turned into arrays at once, so at most one chunk is ever held as Python rows.
  Every query has its own timeout and no transaction stays open between chunks.
- An empty selection is an error (:class:`PriceDataEmpty`) saying what the table holds for
  the series.

:class:`PriceDataSource` is the configured read as a plain callable for the replay gateway,
which calls it in a worker thread: it runs the read on an event loop of its own there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import asyncpg
import numpy as np

from engine.ids import Symbol, Venue
from engine.marketdata.recorded import FileInfo, RecordedData
from engine.secrets import Secret, redact_url
from engine.store.errors import StoreError
from engine.store.pool import connect

__all__ = ["PriceDataEmpty", "PriceDataSource", "PriceReadError", "PriceSeries", "read_bars",
           "read_series"]

_log = logging.getLogger(__name__)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_US: Final = timedelta(microseconds=1)
_FAR_PAST: Final = datetime(1, 1, 1, tzinfo=UTC)
_FAR_FUTURE: Final = datetime(9999, 12, 31, tzinfo=UTC)
_COLUMNS: Final = (("ts", np.int64), ("open", np.float64), ("high", np.float64),
                   ("low", np.float64), ("close", np.float64), ("volume", np.float64),
                   ("vwap", np.float64), ("num_trades", np.int64))
_SELECT: Final = """
SELECT (extract(epoch FROM ts) * 1000000)::int8,
       open::float8, high::float8, low::float8, close::float8, volume::float8,
       coalesce(vwap::float8, 'NaN'::float8), coalesce(num_trades, 0)::int8
FROM price_data
WHERE exchange = $1 AND symbol = $2 AND timeframe = $3 AND ts >= $4 AND ts < $5
ORDER BY ts
LIMIT $6
"""
_EXTENT: Final = """
SELECT min(ts), max(ts) FROM price_data WHERE exchange = $1 AND symbol = $2 AND timeframe = $3
"""


class PriceReadError(StoreError):
    """price_data cannot be read (server unreachable, table missing, query failed)."""


class PriceDataEmpty(PriceReadError):
    """The selected series and time range hold no bars."""


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """One series of bars in price_data."""

    exchange: str
    symbol: str
    timeframe: str

    def __str__(self) -> str:
        return f"{self.exchange}:{self.symbol}:{self.timeframe}"


def _to_datetime(ns: int | None, default: datetime) -> datetime:
    return default if ns is None else _EPOCH + timedelta(microseconds=ns // 1000)


def _iso(moment: datetime | int | None) -> str:
    if moment is None:
        return "(open)"
    if isinstance(moment, int):
        moment = _EPOCH + timedelta(microseconds=moment // 1000)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def read_bars(conn: asyncpg.Connection, series: PriceSeries, *,
                    start_ns: int | None = None, end_ns: int | None = None,
                    chunk_rows: int = 50_000, timeout: float = 30.0) -> RecordedData:
    """The bars of ``series`` with open time in [``start_ns``, ``end_ns``) (None: open),
    in time order, read ``chunk_rows`` at a time with ``timeout`` per query.

    Raises :class:`PriceDataEmpty` when there are none, :class:`PriceReadError` when the
    server refuses the query (asyncpg's own errors are wrapped).
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    lower = _to_datetime(start_ns, _FAR_PAST)
    upper = _to_datetime(end_ns, _FAR_FUTURE)
    chunks: list[list[np.ndarray[Any, Any]]] = []
    try:
        while True:
            rows = await conn.fetch(_SELECT, series.exchange, series.symbol, series.timeframe,
                                    lower, upper, chunk_rows, timeout=timeout)
            if rows:
                chunks.append([np.fromiter((r[i] for r in rows), dtype=dtype, count=len(rows))
                               for i, (_, dtype) in enumerate(_COLUMNS)])
                lower = _EPOCH + (int(chunks[-1][0][-1]) + 1) * _US  # after the last row
            if len(rows) < chunk_rows:
                break
            del rows
        if not chunks:
            first, last = await conn.fetchrow(_EXTENT, series.exchange, series.symbol,
                                              series.timeframe, timeout=timeout)
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise PriceReadError(f"price_data {series}: {exc.__class__.__name__}: {exc}") from exc
    if not chunks:
        wanted = f"from {_iso(start_ns)} to {_iso(end_ns)} (end exclusive)"
        if first is None:
            held = ("it holds no bars of this series at all (load some with `tradeengine "
                    "data import FILE --exchange ... --symbol ... --timeframe ...`)")
        else:
            held = f"it holds bars of this series from {_iso(first)} to {_iso(last)}"
        raise PriceDataEmpty(f"price_data {series}: no bars {wanted}; {held}")
    columns = {name: np.concatenate([chunk[i] for chunk in chunks])
               for i, (name, _) in enumerate(_COLUMNS)}
    columns["ts"] *= 1000  # microseconds -> nanoseconds
    info = FileInfo(Venue(series.exchange), Symbol(series.symbol), "bars", series.timeframe)
    return RecordedData(info, columns, Path(f"price_data:{series}"))


async def read_series(dsn: str, series: Sequence[PriceSeries], *, schema: str,
                      start_ns: int | None = None, end_ns: int | None = None,
                      chunk_rows: int = 50_000, connect_timeout: float = 10.0,
                      command_timeout: float = 30.0) -> list[RecordedData]:
    """Open one connection to ``dsn`` (``schema`` on the search path) and read each series
    with :func:`read_bars`; the connection is closed on every path."""
    try:
        conn = await connect(dsn, timeout=connect_timeout, command_timeout=command_timeout,
                             schema=schema, application_name="tradeengine-replay")
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise PriceReadError(f"price_data: cannot connect to {redact_url(dsn)}: "
                             f"{exc.__class__.__name__}: {exc}") from exc
    try:
        return [await read_bars(conn, one, start_ns=start_ns, end_ns=end_ns,
                                chunk_rows=chunk_rows, timeout=command_timeout)
                for one in series]
    finally:
        try:
            await conn.close(timeout=connect_timeout)
        except (OSError, TimeoutError, asyncpg.InterfaceError):
            conn.terminate()


@dataclass(frozen=True, slots=True)
class PriceDataSource:
    """A configured price_data read, called without arguments (the replay gateway's
    ``load_data``); blocking: it runs the read on an event loop of its own, so call it from
    a worker thread (``ReplayGateway.connect`` does). ``timeout_s`` bounds the whole read;
    each connection attempt and query has its own timeout besides."""

    dsn: Secret
    series: tuple[PriceSeries, ...]
    schema: str
    start_ns: int | None = None
    end_ns: int | None = None
    chunk_rows: int = 50_000
    connect_timeout_s: float = 10.0
    command_timeout_s: float = 30.0
    timeout_s: float = 25.0

    def __call__(self) -> list[RecordedData]:
        """Read every series (see :func:`read_series`)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._read())
        # Called on a thread that runs a loop: read on a thread of our own.
        with ThreadPoolExecutor(1, thread_name_prefix="price-read") as pool:
            return pool.submit(lambda: asyncio.run(self._read())).result()

    async def _read(self) -> list[RecordedData]:
        try:
            async with asyncio.timeout(self.timeout_s):
                data = await read_series(
                    self.dsn.reveal(), self.series, schema=self.schema, start_ns=self.start_ns,
                    end_ns=self.end_ns, chunk_rows=self.chunk_rows,
                    connect_timeout=self.connect_timeout_s,
                    command_timeout=self.command_timeout_s)
        except TimeoutError:
            raise PriceReadError(
                f"price_data: reading {', '.join(map(str, self.series))} took longer than "
                f"{self.timeout_s:g} s (narrow replay.start/end)") from None
        _log.info("price_data read", extra={"series": [str(s) for s in self.series],
                                            "bars": sum(len(d) for d in data)})
        return data
