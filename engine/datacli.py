"""``tradeengine data import | resample``: recorded market data files and price_data.

- ``tradeengine data import FILE [--exchange X] [--symbol S] [--timeframe T] [--config C]``
  loads a recorded file (bars or trades; gzip CSV or Parquet in the recorded format) into
  ``price_data`` through the store writer (idempotent: rows are upserted on
  (exchange, symbol, timeframe, ts)). Trades are aggregated into bars of ``T`` (default
  1m); bars are resampled to ``T`` when it differs from the file's own timeframe.
  Exchange and symbol default to what the file's name says. The engine replays the
  imported bars with ``[replay] source = "price_data"`` (see ``gateways.factory``).
- ``tradeengine data resample FILE --timeframe T --out FILE`` writes bars of ``T`` in the
  same CSV format (gzip when the name ends in ``.gz``). The last period is written even if
  the recording ends inside it.

Exit codes: 0 ok, 64 usage, 65 bad data file, 66 no such file, 69 database unavailable.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.ids import Symbol, Venue
from engine.marketdata.aggregate import aggregate_trades, resample_bars
from engine.marketdata.recorded import (
    DataFileError,
    FileInfo,
    RecordedData,
    bar_objects,
    parse_name,
    read_file,
    write_bars,
)
from engine.marketdata.timeframes import TimeframeError, timeframe_ns
from engine.model import Bar

__all__ = ["add_data_commands", "bars_of", "cmd_data", "import_bars"]

Columns = dict[str, npt.NDArray[np.generic]]


def add_data_commands(subparsers: Any) -> None:
    """Add the ``data`` command (``import``, ``resample``) to the CLI's subparsers."""
    data = subparsers.add_parser("data", help="recorded market data: import, resample")
    sub = data.add_subparsers(dest="data_command", required=True)
    imp = sub.add_parser("import", help="load a recorded file into price_data")
    imp.add_argument("file", type=Path)
    imp.add_argument("--exchange", help="venue (default: from the file name)")
    imp.add_argument("--symbol", help="unified symbol, e.g. BTC/USDT (default: file name)")
    imp.add_argument("--timeframe", help="bar timeframe to store (default: the file's, or 1m "
                     "for trades)")
    imp.add_argument("--config", type=Path, default=None, help="config file (database)")
    imp.set_defaults(func=cmd_data)
    res = sub.add_parser("resample", help="write bars of another timeframe")
    res.add_argument("file", type=Path)
    res.add_argument("--timeframe", required=True)
    res.add_argument("--out", type=Path, required=True)
    res.add_argument("--symbol", help="(only needed when the file name does not say)")
    res.set_defaults(func=cmd_data)


def _load(path: Path, exchange: str | None, symbol: str | None) -> RecordedData:
    try:
        info = parse_name(path)
    except DataFileError:
        if not symbol:
            raise
        info = FileInfo(Venue(exchange or "unknown"), Symbol(symbol), _guess_kind(path))
    if exchange:
        info = replace(info, venue=Venue(exchange))
    if symbol:
        info = replace(info, symbol=Symbol(symbol))
    return read_file(path, info)


def _guess_kind(path: Path) -> Any:
    return "trades" if "trades" in path.name else "bars"


def bars_of(data: RecordedData, timeframe: str | None) -> tuple[str, Columns]:
    """Bars of ``timeframe`` from a file of trades or bars: (timeframe, columns)."""
    info = data.info
    if info.kind == "quotes":
        raise DataFileError(f"{data.path}: quotes cannot become bars")
    cols = data.columns
    if info.kind == "trades":
        tf = timeframe or "1m"
        out, _ = aggregate_trades(np.asarray(cols["ts"], dtype=np.int64),
                                  np.asarray(cols["price"]), np.asarray(cols["qty"]),
                                  timeframe_ns(tf))
        return tf, out
    own = info.timeframe or "1m"
    tf = timeframe or own
    if tf == own:
        return tf, cols
    length, own_length = timeframe_ns(tf), timeframe_ns(own)
    if length < own_length or length % own_length:
        raise TimeframeError(f"cannot build {tf} bars from {own} bars")
    return tf, resample_bars(cols, length)


async def import_bars(writer: Any, bars: list[Bar], *, high_water: int = 50_000) -> int:
    """Submit ``bars`` to a running store writer, yielding while its queue is deep."""
    for i, bar in enumerate(bars):
        writer.submit(bar)
        if i % 1000 == 999:
            while writer.status().queue_depth > high_water:  # noqa: ASYNC110 (no event)
                await asyncio.sleep(0.005)
            await asyncio.sleep(0)
    return len(bars)


async def _import(args: argparse.Namespace, bars: list[Bar]) -> int:
    from engine.config import load_config
    from engine.database import Database, DatabaseUnavailable

    config = load_config(args.config)
    database = Database(config)
    try:
        await database.start()
    except DatabaseUnavailable as exc:
        print(f"tradeengine data import: {exc}", file=sys.stderr)
        return 69
    try:
        writer = database.writer
        runner = asyncio.create_task(writer.run())
        await asyncio.wait_for(writer.wait_started(), 30)
        await import_bars(writer, bars)
        await writer.close(timeout=max(30.0, config.database.command_timeout_s))
        await runner
        status = writer.status()
        print(f"imported {len(bars)} bars into price_data "
              f"(rows written: {status.rows_written.get('price_data', 0)}, "
              f"journaled: {status.journal_records}, rejected: {status.rows_rejected})")
        if bars:
            first = bars[0]
            print(f'replay them with [replay] source = "price_data", tables = '
                  f'["{first.venue}:{first.symbol}:{first.timeframe}"] (same [database])')
        return 0 if status.rows_rejected == 0 else 65
    finally:
        await database.close(timeout=30.0)


def cmd_data(args: argparse.Namespace) -> int:
    """Run ``tradeengine data import|resample``."""
    path: Path = args.file
    if not path.exists():
        print(f"tradeengine data: {path}: no such file", file=sys.stderr)
        return 66
    try:
        data = _load(path, getattr(args, "exchange", None), args.symbol)
        tf, cols = bars_of(data, args.timeframe)
    except (DataFileError, TimeframeError) as exc:
        print(f"tradeengine data: {exc}", file=sys.stderr)
        return 65
    if args.data_command == "resample":
        rows = write_bars(args.out, cols)
        print(f"wrote {rows} {tf} bars to {args.out}")
        return 0
    bars = bar_objects(data.info.venue, data.info.symbol, tf, cols)
    return asyncio.run(_import(args, bars))
