"""The config sections: one frozen msgspec Struct per ``[section]`` of the TOML file.

Every key has a default (``config/default.toml`` lists them with comments). Unknown keys
are rejected; :mod:`engine.config` turns validation errors into key-path messages.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from engine.secrets import Secret

PositiveInt = Annotated[int, Meta(gt=0)]
PositiveFloat = Annotated[float, Meta(gt=0)]
NonNegativeFloat = Annotated[float, Meta(ge=0)]
Port = Annotated[int, Meta(ge=0, le=65535)]


class _Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of config sections: frozen, keyword-only, unknown keys rejected."""


class EngineConfig(_Section, frozen=True):
    """``[engine]``: identity of this process and where it keeps its state."""

    name: str = "tradeengine"
    account: str = "paper"
    mode: Literal["paper", "live"] = "paper"
    state_dir: str = "./var"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    shutdown_timeout_s: PositiveFloat = 10.0
    on_shutdown: Literal["cancel_orders", "keep_orders"] = "cancel_orders"


class DatabaseConfig(_Section, frozen=True):
    """``[database]``: the system of record. Empty ``dsn`` starts the private cluster."""

    dsn: Secret = msgspec.field(default_factory=lambda: Secret(""))
    pg_bin: str = ""
    schema: Annotated[str, Meta(pattern=r"^[a-z_][a-z0-9_]*$")] = "tradeengine"
    migrate: bool = True
    pool_min_size: Annotated[int, Meta(ge=1)] = 1
    pool_max_size: PositiveInt = 4
    connect_timeout_s: PositiveFloat = 10.0
    command_timeout_s: PositiveFloat = 30.0


class StoreConfig(_Section, frozen=True):
    """``[store]``: the batched writer."""

    batch_size: PositiveInt = 5000
    flush_interval_ms: PositiveInt = 50
    queue_size: PositiveInt = 100_000


class HealthConfig(_Section, frozen=True):
    """``[health]``: the local HTTP endpoint."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: Port = 8787
    loop_lag_unhealthy_ms: PositiveFloat = 1000.0
    db_check_interval_s: PositiveFloat = 2.0


class MqttConfig(_Section, frozen=True):
    """``[mqtt]``: events out, commands in. Off unless enabled."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: Port = 1883
    username: str = ""
    password: Secret = msgspec.field(default_factory=lambda: Secret(""))
    client_id: str = ""
    topic_prefix: str = "tradeengine"
    tls: bool = False
    queue_size: PositiveInt = 10_000
    keepalive_s: PositiveInt = 30


class ReplayConfig(_Section, frozen=True):
    """``[replay]``: recorded market data as a feed (bundled real data by default).

    ``files``: recorded files (gzip CSV or Parquet in the format of the bundled data, named
    ``<venue>_<instrument>_<timeframe|trades|quotes>_...``); relative paths are looked up in
    the working directory, then in the bundled ``gateways/data``. Default: the bundled set.
    ``speed``: data seconds per wall second (0 = as fast as possible). ``loop``: start over
    at the end, shifted by whole days so time keeps increasing. ``align_start``: shift each
    file by whole days so all files start on the first file's day (recordings of different
    dates then play side by side).

    ``source``: ``files`` (the default) or ``price_data``: bars read from the database's
    price_data table (``[database]``), one series per ``tables`` entry
    ``"exchange:symbol:timeframe"`` (``binance:BTC/USDT:1m``; the symbol may hold colons,
    ``bybit:BTC/USDT:USDT:1m``); ``files`` is then ignored. ``start``/``end``: ISO date or
    datetime (UTC unless an offset is given) bounding the bars' open times, start
    inclusive, end exclusive; empty = unbounded.
    """

    files: list[str] = msgspec.field(default_factory=lambda: [
        "binance_xrpeth_trades_2019-10-11_2019-10-13.csv.gz",
        "coinbase_btcusd_1m_2017-09-03_2017-09-04.csv.gz",
        "coinbase_ethusd_1m_2017-09-03_2017-09-04.csv.gz",
        "bybit_btcusdt_1m_2022-12-13_2022-12-13.csv.gz",
    ])
    speed: NonNegativeFloat = 600.0
    loop: bool = True
    align_start: bool = True
    source: Literal["files", "price_data"] = "files"
    tables: list[str] = msgspec.field(default_factory=list)
    start: str = ""
    end: str = ""

    def __post_init__(self) -> None:
        """Check ``tables``, ``start``/``end`` and their agreement with ``source``."""
        for index, text in enumerate(self.tables):
            _split_table(text, index)
        if self.source == "price_data" and not self.tables:
            raise ValueError("tables: required (a list of \"exchange:symbol:timeframe\") when "
                             "source = 'price_data', got []")
        if self.source == "files" and self.tables:
            raise ValueError("tables: only read when source = 'price_data' (source is "
                             f"'files'), got {self.tables!r}")
        start, end = self.range_ns()
        if start is not None and end is not None and start >= end:
            raise ValueError(f"start: must be before end ({self.end!r}), got {self.start!r}")

    def table_series(self) -> list[tuple[str, str, str]]:
        """``tables`` as (exchange, symbol, timeframe) triples."""
        return [_split_table(text, index) for index, text in enumerate(self.tables)]

    def range_ns(self) -> tuple[int | None, int | None]:
        """``start`` and ``end`` as UTC epoch nanoseconds (None when empty)."""
        return utc_ns(self.start, "start"), utc_ns(self.end, "end")


_TIMEFRAME = re.compile(r"^[1-9][0-9]*[smhd]$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _split_table(text: str, index: int) -> tuple[str, str, str]:
    """``"binance:BTC/USDT:1m"`` -> (exchange, symbol, timeframe); ValueError naming
    ``tables[index]`` otherwise."""
    exchange, _, rest = text.partition(":")
    symbol, _, timeframe = rest.rpartition(":")
    if not (exchange and symbol and timeframe):
        raise ValueError(f"tables[{index}]: expected \"exchange:symbol:timeframe\" (e.g. "
                         f"\"binance:BTC/USDT:1m\"), got {text!r}")
    if not _TIMEFRAME.match(timeframe):
        raise ValueError(f"tables[{index}]: timeframe {timeframe!r} is not <n><s|m|h|d> "
                         f"(e.g. 1m, 5m, 1h, 1d), got {text!r}")
    return exchange, symbol, timeframe


def utc_ns(text: str, key: str) -> int | None:
    """An ISO date or datetime (UTC unless it has an offset) as epoch nanoseconds; None for
    ``""``; ValueError naming ``key`` otherwise."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{key}: expected an ISO date or datetime (e.g. 2019-10-11 or "
                         f"2019-10-11T12:00:00Z), got {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


class ExchangeConfig(_Section, frozen=True):
    """``[exchange]``: a live venue through ccxt (ccxt.pro websockets, REST fallback)."""

    name: str = "binance"
    sandbox: bool = False
    api_key: Secret = msgspec.field(default_factory=lambda: Secret(""))
    secret: Secret = msgspec.field(default_factory=lambda: Secret(""))
    password: Secret = msgspec.field(default_factory=lambda: Secret(""))
    urls: dict[str, Any] = msgspec.field(default_factory=dict)
    timeout_s: PositiveFloat = 10.0
    websocket: bool = True
    poll_interval_s: PositiveFloat = 2.0
    reconnect_initial_s: PositiveFloat = 0.5
    reconnect_max_s: PositiveFloat = 30.0
    backfill_limit: Annotated[int, Meta(ge=1, le=1000)] = 1000
    options: dict[str, Any] = msgspec.field(default_factory=dict)


class MarketDataConfig(_Section, frozen=True):
    """``[marketdata]``: where prices come from and how bars are built."""

    source: Literal["replay", "ccxt", "none"] = "replay"
    symbols: list[str] = msgspec.field(default_factory=list)
    streams: list[Literal["trades", "bars", "quotes"]] = msgspec.field(
        default_factory=lambda: ["trades", "quotes"])
    timeframes: list[str] = msgspec.field(default_factory=lambda: ["1m", "5m", "15m", "1h"])
    stale_after_bars: PositiveFloat = 10.0
    queue_size: PositiveInt = 10_000
    ring_size: PositiveInt = 1000
    partial_bars_ms: Annotated[int, Meta(ge=0)] = 0
    bar_close_grace_ms: Annotated[int, Meta(ge=0)] = 2000
    max_future_ms: Annotated[int, Meta(ge=0)] = 5000
    bad_flood_threshold: PositiveInt = 100
    bad_flood_window_s: PositiveFloat = 60.0
    persist_bars: bool = True
    warmup_periods: Annotated[int, Meta(ge=0)] = 3
    warmup_max_bars: PositiveInt = 20_000
    warmup_timeout_s: PositiveFloat = 60.0

    def __post_init__(self) -> None:
        """Check that the feed can build each of ``timeframes``."""
        # not at the top: the package engine.marketdata imports the config
        from engine.marketdata.timeframes import (  # noqa: PLC0415
            TimeframeError,
            validate_timeframe,
        )

        for index, timeframe in enumerate(self.timeframes):
            try:
                validate_timeframe(timeframe)
            except TimeframeError as exc:
                raise ValueError(f"timeframes[{index}]: {exc}") from None


class BacktestConfig(_Section, frozen=True):
    """``[backtest]``: recorded bars to run the strategies over (``tradeengine backtest``).

    ``data``: bar files in the recorded format; relative paths from the working directory,
    else from the config file's directory. ``symbol``/``exchange``/``timeframe`` override
    what the file names say. ``start``/``end``: ISO dates (UTC) bounding the bars.
    ``starting_cash`` overrides ``portfolio.starting_cash``. ``persist_bars``: with a
    database configured, also write the bars to ``price_data`` (off: the bars come from
    files, ``tradeengine data import`` loads those, and the overrides above would file
    them under names that are not the venue's).
    """

    data: list[str] = msgspec.field(default_factory=list)
    symbol: str = ""
    exchange: str = ""
    timeframe: str = ""
    start: str = ""
    end: str = ""
    starting_cash: Decimal | None = None
    persist_bars: bool = False
