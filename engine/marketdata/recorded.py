"""Reader and writer of recorded market data files (gzip CSV, Parquet) as numpy columns.

(Lives in the engine, not in ``gateways``, because ``tradeengine data`` uses it too.)

File format (see ``/work/shared/data/README.md``): gzip CSV, one header row, UTC epoch
milliseconds, ascending.

- bars: ``ts_ms,open,high,low,close,volume`` (``ts_ms`` = bar open time)
- trades: ``ts_ms,trade_id,price,qty,side`` (``side`` buy/sell/empty, ``trade_id`` may be
  empty)
- quotes: ``ts_ms,bid,bid_qty,ask,ask_qty``

File names ``<venue>_<instrument>_<timeframe|trades|quotes>_<first>_<last>.csv.gz`` give the
venue, the symbol and the kind; :func:`parse_name` turns ``xrpeth`` into ``XRP/ETH`` and
``btcusdt-perp`` into ``BTC/USDT:USDT``. Columns come back as ``ts`` (int64 ns) and float64
or int64 arrays; trade ids are int64 (-1 when absent), sides int8 (+1 buy, -1 sell, 0 none).
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from engine.ids import Symbol, Venue
from engine.marketdata.csvnum import parse_numeric_csv, warm_parser
from engine.marketdata.timeframes import timeframe_ns
from engine.model import Bar

try:  # ISA-L's inflate is about twice zlib's speed; the same bytes out
    from isal.igzip import decompress as _isal_gunzip
except ImportError:  # pragma: no cover - a platform without an isal wheel
    _isal_gunzip = None  # type: ignore[assignment]

__all__ = ["DataFileError", "FileInfo", "RecordedData", "UnnamedFileError", "bar_objects",
           "parse_name", "read_file", "write_bars"]

Kind = Literal["bars", "trades", "quotes"]
Columns = dict[str, npt.NDArray[np.generic]]

NS_PER_MS: Final = 1_000_000
_QUOTES: Final = ("USDT", "BUSD", "USDC", "TUSD", "USD", "EUR", "GBP", "JPY", "BTC", "ETH",
                  "BNB")
_NAME: Final = re.compile(
    r"^(?P<venue>[a-z0-9-]+)_(?P<inst>[a-z0-9-]+)_(?P<kind>trades|quotes|[0-9]+[smhd]|1mo)_"
)
_HEADERS: Final[dict[Kind, tuple[str, ...]]] = {
    "bars": ("ts_ms", "open", "high", "low", "close", "volume"),
    "trades": ("ts_ms", "trade_id", "price", "qty", "side"),
    "quotes": ("ts_ms", "bid", "bid_qty", "ask", "ask_qty"),
}


class DataFileError(ValueError):
    """A recorded data file cannot be read; the message names the file and the problem."""


class UnnamedFileError(DataFileError):
    """A file's name does not follow ``<venue>_<instrument>_<kind>_...``: what it holds must
    be given explicitly (unlike a name that follows it and says something unsupported)."""


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What a file holds, from its name (or given explicitly)."""

    venue: Venue
    symbol: Symbol
    kind: Kind
    timeframe: str | None = None


@dataclass(frozen=True, slots=True)
class RecordedData:
    """A whole file as columns, with its description."""

    info: FileInfo
    columns: Columns
    path: Path

    def __len__(self) -> int:
        return int(self.columns["ts"].shape[0])


def unify_symbol(instrument: str) -> Symbol:
    """``xrpeth`` -> ``XRP/ETH``; ``btcusdt-perp`` -> ``BTC/USDT:USDT``; ``btcusd-perp`` ->
    ``BTC/USD:BTC`` (inverse); unknown shapes come back upper-cased."""
    perp = instrument.endswith("-perp")
    raw = instrument.removesuffix("-perp").replace("-", "").upper()
    for quote in _QUOTES:
        if raw.endswith(quote) and len(raw) > len(quote):
            base = raw[: -len(quote)]
            if not perp:
                return Symbol(f"{base}/{quote}")
            settle = base if quote == "USD" else quote
            return Symbol(f"{base}/{quote}:{settle}")
    return Symbol(instrument.upper())


def parse_name(path: Path | str) -> FileInfo:
    """Describe a file by its name (``<venue>_<instrument>_<kind>_...``)."""
    name = Path(path).name
    match = _NAME.match(name)
    if match is None:
        raise UnnamedFileError(f"{name}: name is not <venue>_<instrument>_<kind>_..., so the "
                               "symbol and kind must be given explicitly")
    kind_text = match.group("kind")
    venue, symbol = Venue(match.group("venue")), unify_symbol(match.group("inst"))
    if kind_text == "trades":
        return FileInfo(venue, symbol, "trades")
    if kind_text == "quotes":
        return FileInfo(venue, symbol, "quotes")
    if kind_text == "1mo":
        raise DataFileError(f"{name}: monthly bars are not supported (not epoch-aligned)")
    timeframe_ns(kind_text)
    return FileInfo(venue, symbol, "bars", kind_text)


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def read_file(path: Path | str, info: FileInfo | None = None) -> RecordedData:
    """Read a recorded file (``.csv``, ``.csv.gz`` or ``.parquet``) into columns."""
    path = Path(path)
    info = info or parse_name(path)
    try:
        if path.suffix == ".parquet":
            columns = _read_parquet(path, info.kind)
        else:
            columns = _read_csv(path, info.kind)
    except (OSError, EOFError) as exc:
        raise DataFileError(f"{path}: cannot read: {exc}") from None
    return RecordedData(info, columns, path)


def _read_csv(path: Path, kind: Kind) -> Columns:
    header = _HEADERS[kind]
    table = None if kind == "trades" else _read_numeric(path, header)
    if table is None:
        with _open_text(path) as handle:
            reader = csv.reader(handle)
            found = tuple(next(reader, ()))
            if found != header:
                raise DataFileError(f"{path}: header {found} is not {header} ({kind})")
            rows = list(reader)
        try:
            if kind == "trades":
                return _trade_columns(rows)
            table = np.array(rows, dtype=np.float64).reshape(len(rows), len(header))
        except ValueError as exc:
            raise DataFileError(f"{path}: bad number: {exc}") from None
    cols: Columns = {"ts": table[:, 0].astype(np.int64) * NS_PER_MS}
    for index, name in enumerate(header[1:], start=1):
        cols[name] = np.ascontiguousarray(table[:, index])
    return cols


def _gunzip(data: bytes) -> bytes:
    if _isal_gunzip is None:
        return gzip.decompress(data)
    return bytes(_isal_gunzip(data))  # type: ignore[no-untyped-call]


def _read_raw(path: Path) -> bytes:
    raw = path.read_bytes()
    return _gunzip(raw) if path.suffix == ".gz" else raw


def _read_numeric(path: Path, header: tuple[str, ...]) -> npt.NDArray[np.float64] | None:
    """The all-numeric body through the compiled parser; None when the csv module must
    read it (quoted text), which also produces the error message for a bad file."""
    # Reading and unzipping release the GIL: they run beside the parser's loading, which
    # in a fresh process is numba's start-up (about 0.2 s, once per process).
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(_read_raw, path)
        warm_parser()
        raw = pending.result()
    first, _, body = raw.partition(b"\n")
    if tuple(first.decode("utf-8", "replace").strip("\r").split(",")) != header:
        return None
    table, _bad_row = parse_numeric_csv(body, len(header))
    return table


def _trade_columns(rows: list[list[str]]) -> Columns:
    size = len(rows)
    ts = np.empty(size, dtype=np.int64)
    ids = np.empty(size, dtype=np.int64)
    price = np.empty(size)
    qty = np.empty(size)
    side = np.zeros(size, dtype=np.int8)
    for i, (t, tid, p, q, s) in enumerate(rows):
        ts[i] = int(t) * NS_PER_MS
        ids[i] = int(tid) if tid else -1
        price[i] = float(p)
        qty[i] = float(q)
        side[i] = 1 if s == "buy" else -1 if s == "sell" else 0
    return {"ts": ts, "trade_id": ids, "price": price, "qty": qty, "side": side}


def _read_parquet(path: Path, kind: Kind) -> Columns:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataFileError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)"
                            ) from None
    table = pq.read_table(path)
    names = _HEADERS[kind]
    missing = [n for n in names if n not in table.column_names]
    if missing:
        raise DataFileError(f"{path}: Parquet file lacks columns {missing} ({kind})")
    cols: Columns = {"ts": table.column("ts_ms").to_numpy().astype(np.int64) * NS_PER_MS}
    for name in names[1:]:
        col = table.column(name)
        if name == "side":
            text = col.to_pylist()
            cols[name] = np.array([1 if s == "buy" else -1 if s == "sell" else 0 for s in text],
                                  dtype=np.int8)
        elif name == "trade_id":
            cols[name] = np.array([int(x) if x not in (None, "") else -1
                                   for x in col.to_pylist()], dtype=np.int64)
        else:
            cols[name] = col.to_numpy().astype(np.float64)
    return cols


def bar_objects(venue: Venue, symbol: Symbol, timeframe: str, cols: Columns) -> list[Bar]:
    """Bar columns (``ts`` in ns, ``open high low close volume``, and ``vwap`` and
    ``num_trades`` where there are) as closed :class:`~engine.model.Bar` objects."""
    n = len(cols["ts"])
    vwap = cols["vwap"].tolist() if "vwap" in cols else [float("nan")] * n
    trades = cols["num_trades"].tolist() if "num_trades" in cols else [0] * n
    return [Bar(venue, symbol, timeframe, t, o, h, lo, c, v, w, k)
            for t, o, h, lo, c, v, w, k in zip(
                cols["ts"].tolist(), cols["open"].tolist(), cols["high"].tolist(),
                cols["low"].tolist(), cols["close"].tolist(), cols["volume"].tolist(), vwap,
                trades, strict=True)]


def write_bars(path: Path | str, bars: Columns) -> int:
    """Write bar columns as gzip CSV (``.gz``) or CSV in the recorded format; rows written.

    Numbers are written in shortest round-trip form; the gzip header has mtime 0 so the
    output is reproducible.
    """
    path = Path(path)
    ts_ms = np.asarray(bars["ts"], dtype=np.int64) // NS_PER_MS
    cols = [np.asarray(bars[name], dtype=np.float64).tolist() for name in _HEADERS["bars"][1:]]
    out = io.StringIO()
    out.write(",".join(_HEADERS["bars"]) + "\n")
    for i, t in enumerate(ts_ms.tolist()):
        out.write(f"{t}," + ",".join(_num(col[i]) for col in cols) + "\n")
    data = out.getvalue().encode()
    if path.suffix == ".gz":
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                    filename="") as gz:
            gz.write(data)
    else:
        path.write_bytes(data)
    return int(ts_ms.shape[0])


def _num(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    if "e" in text or "E" in text:
        text = np.format_float_positional(value, unique=True, trim="-")
    return text
