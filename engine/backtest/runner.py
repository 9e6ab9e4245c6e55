"""``tradeengine backtest``: the same engine over recorded bars on a simulated clock.

What runs is what runs live: the market data feed (validation, ring buffers, higher
timeframes), the paper matcher, portfolio, risk and OMS (the trading stack), the indicator
hub and the strategies, all on one bus. Only the source differs: recorded files read into
arrays and pushed through the feed synchronously, as fast as the CPU allows, the
:class:`~engine.clock.SimClock` moved to each bar's close before the bar is handled.

Deterministic: the same config and data give the same fills and the same ``metrics.json``
(nothing in it depends on the wall clock or on paths).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from engine.backtest.metrics import compute_metrics
from engine.config import Config, ConfigError
from engine.config_sections import utc_ns
from engine.events import OrderFilled
from engine.ids import Symbol, Venue
from engine.marketdata.recorded import DataFileError, FileInfo, parse_name, read_file
from engine.marketdata.timeframes import timeframe_ns
from engine.model import Bar, Fill
from engine.oms.children import is_rollup

__all__ = ["BacktestResult", "load_bars", "run_backtest"]

_log = logging.getLogger(__name__)


@dataclass(slots=True)
class BacktestResult:
    """What a run produced."""

    metrics: dict[str, Any]
    ts_ns: list[int] = field(default_factory=list)
    equity: list[Decimal] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    bars: int = 0
    persisted: dict[str, Any] = field(default_factory=dict)
    """With a database: the writer's ``rows_written`` per table and ``rows_rejected``."""


@dataclass(frozen=True, slots=True)
class BarSeries:
    """One file's bars as columns."""

    info: FileInfo
    ts: Any
    open: Any
    high: Any
    low: Any
    close: Any
    volume: Any


def _parse_day(text: str, key: str) -> int | None:
    try:
        return utc_ns(text, f"backtest.{key}")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def resolve_path(name: str, base: Path | None) -> Path:
    """A data path as given (absolute, or relative to the working directory), else relative
    to the config file's directory."""
    path = Path(name).expanduser()
    if path.is_absolute() or path.exists() or base is None:
        return path
    return base / path


def load_bars(config: Config, base: Path | None) -> list[BarSeries]:
    """Read the ``[backtest] data`` files as bars, with symbol/venue/timeframe overrides."""
    bt = config.backtest
    if not bt.data:
        raise ConfigError("backtest.data: required, a list of recorded bar files")
    start, end = _parse_day(bt.start, "start"), _parse_day(bt.end, "end")
    series = []
    for index, name in enumerate(bt.data):
        path = resolve_path(name, base)
        try:
            info = parse_name(path)
        except (DataFileError, ValueError):
            info = FileInfo(Venue(bt.exchange or "backtest"), Symbol(bt.symbol or path.stem),
                            "bars", bt.timeframe)
        if info.kind != "bars":
            raise ConfigError(f"backtest.data[{index}]: {path.name} holds {info.kind}; "
                              "backtests take bar files")
        info = dataclasses.replace(
            info,
            venue=Venue(bt.exchange) if bt.exchange else info.venue,
            symbol=Symbol(bt.symbol) if bt.symbol else info.symbol,
            timeframe=bt.timeframe or info.timeframe,
        )
        try:
            data = read_file(path, info)
        except (DataFileError, OSError) as exc:
            raise ConfigError(f"backtest.data[{index}]: {exc}") from None
        cols = data.columns
        ts: Any = cols["ts"]
        keep = slice(None)
        if start is not None or end is not None:
            import numpy as np

            mask = np.ones(len(ts), dtype=bool)
            if start is not None:
                mask &= ts >= start
            if end is not None:
                mask &= ts < end
            keep = mask  # type: ignore[assignment]
        series.append(BarSeries(info, ts[keep], cols["open"][keep], cols["high"][keep],
                                cols["low"][keep], cols["close"][keep], cols["volume"][keep]))
    return series


def run_backtest(config: Config, *, base: Path | None = None,
                 execution: Callable[..., Any] | None = None,
                 persist_dsn: str | None = None) -> BacktestResult:
    """Run the configured strategies over the configured bars; return equity and fills.

    With ``persist_dsn`` (``tradeengine backtest`` passes ``[database] dsn`` when one is
    configured) bars, orders, fills, positions and a ``backtests`` row are written through
    the store writer while the backtest runs; without, no database is needed.
    """
    from engine.app import build_app  # avoid an import cycle
    from engine.runner import load_factory

    series = load_bars(config, base)
    config = _backtest_config(config, series, persist=persist_dsn is not None)
    engine = build_app(config, execution=execution or load_factory("execution"), backtest=True)
    if engine.trading is None or engine.strategies is None:
        raise ConfigError("strategies: a backtest needs at least one [[strategies]] table")
    result = BacktestResult(metrics={})
    fills = result.fills

    def on_fill(event: OrderFilled) -> None:
        if not is_rollup(event.order, event.fill):
            fills.append(event.fill)

    engine.bus.subscribe(OrderFilled, on_fill)
    engine.strategies.start()
    # A backtest builds only the bars something reads (live, the feed builds every
    # [marketdata] timeframe for whoever subscribes): the data's own and the strategies'.
    engine.marketdata.ensure_timeframes(engine.strategies.timeframes_used())
    _preload_indicators(engine.strategies.indicators, series)
    if persist_dsn is None:
        for _ in _drive(engine, series, result):
            pass
    else:
        from engine.backtest.persist import drive_persisted  # noqa: PLC0415

        result.persisted = asyncio.run(
            drive_persisted(engine, _drive(engine, series, result), persist_dsn))
    engine.strategies.stop()
    positions_open = result.metrics.pop("_open_flags")
    result.metrics = {
        **compute_metrics(result.ts_ns, result.equity, fills, positions_open),
        "data": [Path(name).name for name in config.backtest.data],
        "symbols": sorted({str(s.info.symbol) for s in series}),
        "strategies": [str(t.get("name")) for t in config.strategies],
        "first_bar": _iso(result.ts_ns[0]) if result.ts_ns else None,
        "last_bar": _iso(result.ts_ns[-1]) if result.ts_ns else None,
        "risk_rejections": engine.trading.risk.status().get("rejections", {}),
    }
    return result


def _drive(engine: Any, series: list[BarSeries], result: BacktestResult,
           chunk: int = 1000) -> Iterator[int]:
    """Merge the files' bars in time order and push them through the feed; yields the bar
    count every ``chunk`` bars (so a persisting run can let its writer flush)."""
    import heapq

    clock, feed, portfolio = engine.clock, engine.marketdata, engine.trading.portfolio
    on_bar = feed.on_bar
    ts_out, eq_out = result.ts_ns, result.equity
    open_flags: list[bool] = []
    holding = portfolio.has_open_positions

    def on_mark(ts_ns: int, equity: Decimal) -> None:
        # The portfolio marks equity as each bar arrives (its mark interval is below the
        # bar spacing): the equity curve is these marks, not a second valuation.
        ts_out.append(ts_ns)
        eq_out.append(equity)
        open_flags.append(holding())

    portfolio.add_equity_listener(on_mark)
    streams = [_stream(index, s) for index, s in enumerate(series)]
    infos = [(s.info.venue, s.info.symbol, s.info.timeframe or "1m") for s in series]
    count = 0
    merged = streams[0] if len(streams) == 1 else heapq.merge(*streams)
    for close_ns, index, ts, o, h, lo, c, v in merged:
        venue, symbol, timeframe = infos[index]
        clock.advance_to(close_ns)
        on_bar(Bar(venue, symbol, timeframe, ts, o, h, lo, c, v))
        count += 1
        if not count % chunk:
            yield count
    result.bars = count
    result.metrics["_open_flags"] = open_flags


def _preload_indicators(hub: Any, series: list[BarSeries]) -> None:
    """Let the indicator hub compute the data timeframes' indicators in batch (bit for bit
    the streaming values; it checks each bar and streams on where the feed differs)."""
    preload = getattr(hub, "preload", None)
    if preload is None:
        return
    import numpy as np

    parts: dict[str, dict[str, list[BarSeries]]] = {}
    for s in series:
        parts.setdefault(s.info.timeframe or "1m", {}).setdefault(str(s.info.symbol), []).append(s)
    for timeframe, symbols in parts.items():
        columns = {}
        for symbol, pieces in symbols.items():
            ts = np.concatenate([p.ts for p in pieces])
            order = np.argsort(ts, kind="stable")
            columns[symbol] = (ts[order], np.concatenate([p.close for p in pieces])[order])
        preload(timeframe, columns)


def _stream(index: int, s: BarSeries) -> Iterator[tuple[Any, ...]]:
    """One file's bars as (close time, file index, open time, o, h, l, c, v) tuples.

    A function of its own so each stream binds its own ``index`` and bar length (a
    generator expression in the caller's loop would see only the last file's)."""
    tf_ns = timeframe_ns(s.info.timeframe or "1m")
    rows = zip(s.ts.tolist(), s.open.tolist(), s.high.tolist(), s.low.tolist(),
               s.close.tolist(), s.volume.tolist(), strict=True)
    return ((ts + tf_ns, index, ts, o, h, lo, c, v) for ts, o, h, lo, c, v in rows)


def _backtest_config(config: Config, series: list[BarSeries], persist: bool) -> Config:
    """The run's config: replay on a SimClock, no endpoints, its cash, no alert per fill;
    bars persisted only when asked."""
    bt = config.backtest
    symbols = sorted({str(s.info.symbol) for s in series})
    marketdata = msgspec.structs.replace(config.marketdata, source="replay", symbols=symbols,
                                         persist_bars=persist and bt.persist_bars,
                                         timeframes=sorted({s.info.timeframe or "1m"
                                                            for s in series}))
    portfolio = config.portfolio
    if bt.starting_cash is not None:
        portfolio = msgspec.structs.replace(portfolio, starting_cash=bt.starting_cash)
    # Mark equity at every bar (the curve and the guards need it); portfolio-row snapshots
    # are history only: once a simulated day is plenty.
    portfolio = msgspec.structs.replace(portfolio, mark_interval_ms=1,
                                        snapshot_interval_s=86_400.0)
    health = msgspec.structs.replace(config.health, enabled=False)
    # An info alert per fill is for an operator watching a live account; a backtest's fills
    # are its result (slippage, risk and halt alerts stay).
    oms = msgspec.structs.replace(config.oms, alert_fills=False)
    return msgspec.structs.replace(config, marketdata=marketdata, portfolio=portfolio,
                                   health=health, oms=oms)


def _iso(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).isoformat()
