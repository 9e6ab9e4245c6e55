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
import gc
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import msgspec
import numpy as np

from engine.backtest.bars import BarSeries, load_bars, parse_day
from engine.backtest.curve import MarkSeries, equity_curve
from engine.backtest.metrics import compute_metrics
from engine.backtest.warmup import warm_backtest
from engine.config import Config, ConfigError
from engine.events import OrderFilled
from engine.ids import Symbol, Venue
from engine.marketdata.timeframes import timeframe_ns
from engine.model import Bar, Fill
from engine.oms.children import is_rollup
from engine.plugins import check_symbols
from engine.risk import RiskStateChanged
from engine.services import prepare_strategy_data

__all__ = ["BacktestResult", "load_bars", "run_backtest"]

_log: Final = logging.getLogger(__name__)


@dataclass(slots=True)
class BacktestResult:
    """What a run produced."""

    metrics: dict[str, Any]
    ts_ns: Any = None
    """The equity curve's bar times (close, ns; int64 array) and its values (float64)."""
    equity: Any = None
    fills: list[Fill] = field(default_factory=list)
    bars: int = 0
    persisted: dict[str, Any] = field(default_factory=dict)
    """With a database: the writer's ``rows_written`` per table and ``rows_rejected``."""
    over_budget: dict[str, tuple[int, float, float]] = field(default_factory=dict)
    """Strategies whose hooks ran over their time budget: how often, the slowest (ms) and
    the budget (ms). Live they would have been halted; wall time, so not in the metrics."""


def run_backtest(config: Config, *, base: Path | None = None,
                 execution: Callable[..., Any] | None = None,
                 persist_dsn: str | None = None, report: Path | None = None) -> BacktestResult:
    """Run the configured strategies over the configured bars; return equity and fills.

    With ``persist_dsn`` (``tradeengine backtest`` passes ``[database] dsn`` when one is
    configured) bars, orders, fills, positions and a ``backtests`` row are written through
    the store writer while the backtest runs; the row gets the metrics when it finishes
    (``failed`` if it raises), and ``report``, where the caller writes the report, as its
    ``report_path``. Without, no database is needed.
    """
    from engine.app import build_app  # avoid an import cycle
    from engine.runner import load_factory

    series = load_bars(config, base)
    config = _backtest_config(config, series, persist=persist_dsn is not None)
    engine = build_app(config, execution=execution or load_factory("execution"), backtest=True)
    if engine.trading is None or engine.strategies is None:
        raise ConfigError("strategies: a backtest needs at least one [[strategies]] table")
    if not any(t.get("enabled", True) for t in config.strategies):
        raise ConfigError("strategies: every [[strategies]] table has enabled = false; the "
                          "backtest would trade nothing")
    held = sorted({str(s.info.symbol) for s in series})
    check_symbols(config.strategies, engine.strategies.symbols_missing(held),
                  f"in no file of backtest.data (they hold {', '.join(held)}; "
                  "backtest.symbol renames the files' symbol)")
    result = BacktestResult(metrics={})
    fills, fill_times, now = result.fills, [], engine.clock.now_ns

    def on_fill(event: OrderFilled) -> None:
        if not is_rollup(event.order, event.fill):
            fills.append(event.fill)
            fill_times.append(now())

    engine.bus.subscribe(OrderFilled, on_fill)
    risk_changes: list[dict[str, Any]] = []
    engine.bus.subscribe(RiskStateChanged, lambda e: risk_changes.append({
        "at": _iso(e.ts_ns), "from": e.previous.value, "to": e.state.value,
        "source": e.source, "reason": e.reason}))
    engine.strategies.start()
    # A backtest builds only the bars something reads (live, the feed builds every
    # [marketdata] timeframe for whoever subscribes): the data's own and the strategies'.
    prepare_strategy_data(engine, engine.strategies)
    start_ns = parse_day(config.backtest.start, "start")
    warmup_bars = warm_backtest(engine, series, start_ns)  # before --from, as live
    _preload_indicators(engine.strategies.indicators, series, start_ns)
    # What setup built lives on: the run's collections need not walk it. The run's own
    # objects die young (the per-bar and per-order ones) or live to the end (fills, the
    # curve): collections every 50,000 net allocations instead of 700 skip nearly all
    # the older-generation walks over them.
    opens = [int(s.ts.min()) for s in series if len(s.ts)]
    lasts = [int(s.ts.max()) for s in series if len(s.ts)]

    def analyse() -> dict[str, Any]:
        """The run's figures, after its last bar: curve, metrics, what happened."""
        engine.strategies.stop()
        result.over_budget = engine.strategies.over_budget()
        portfolio = engine.trading.portfolio
        curve = equity_curve(_marks(series), fills, fill_times, portfolio.config.starting_cash)
        metrics = compute_metrics(curve, fills, start_equity=portfolio.config.starting_cash,
                                  end_equity=portfolio.equity())
        result.ts_ns, result.equity = curve.ts_ns, curve.equity
        result.metrics = {
            **metrics,
            "data": [Path(name).name for name in config.backtest.data],
            "symbols": sorted({str(s.info.symbol) for s in series}),
            "strategies": [str(t.get("name")) for t in config.strategies],
            "first_bar": _iso(min(opens)) if opens else None,
            "last_bar": _iso(max(lasts)) if lasts else None,
            "risk_rejections": engine.trading.risk.status().get("rejections", {}),
            # bars the feed's checks dropped, by reason (the log names each first one)
            "bad_bars": engine.marketdata.bad.by_reason(),
            "risk_state_changes": risk_changes,  # the guards (daily loss, drawdown) at work
            "warmup_bars": warmup_bars,  # history before backtest.start, not traded on
            # a strategy halted mid-run (it raised) traded only until then: say so
            "halted": {sid: {"at": _iso(ts) if ts else None, "reason": reason}
                       for sid, (ts, reason) in engine.strategies.halts().items()},
        }
        return result.metrics

    # What setup built lives on: the run's collections need not walk it. The run's own
    # objects die young (the per-bar and per-order ones) or live to the end (fills, the
    # curve): collections every 50,000 net allocations instead of 700 skip nearly all
    # the older-generation walks over them. The analysis allocates an object or two per
    # fill too (round trips, cash flows): with the default thresholds its collections
    # would walk the run's live objects again and again, doubling its time.
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 1000)
    try:
        if persist_dsn is None:
            for _ in _drive(engine, series, result):
                pass
            analyse()
        else:
            from engine.backtest.persist import RunSpan, drive_persisted  # noqa: PLC0415

            result.persisted = asyncio.run(drive_persisted(
                engine, _drive(engine, series, result, chunk=100), persist_dsn, analyse,
                RunSpan.of(series, report)))
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
    return result


def _drive(engine: Any, series: list[BarSeries], result: BacktestResult,
           chunk: int = 1000) -> Iterator[int]:
    """Push the files' bars through the feed in time order (by close; files in the given
    order at equal times), the clock moved to each bar's close first; yields the bar count
    every ``chunk`` bars (so a persisting run can let its writer flush)."""
    clock, feed = engine.clock, engine.marketdata
    advance = clock.advance_to
    if not all(s.in_order for s in series):
        advance = _forward_only(clock)  # a file out of time order (bars.py drops the late)
    lanes = [feed.replay_lane(s.info.timeframe or "1m") for s in series]
    count = 0
    if len(series) == 1:
        # one chunk of the columns at a time as Python lists: what the per-bar loop reads
        # fastest, without a million-row list per column for the whole run (that costs
        # hundreds of MB of fresh pages, zeroed by the kernel)
        s = series[0]
        push, (venue, symbol, timeframe, tf_ns) = lanes[0].push, _stream(s)
        arrays = (s.ts, s.open, s.high, s.low, s.close, s.volume, s.good)
        for begin in range(0, len(s.ts), chunk):
            stop = begin + chunk
            ts, o, h, lo, c, v, ok = (a[begin:stop].tolist() for a in arrays)
            for t, op, hi, low, cl, vol, good in zip(ts, o, h, lo, c, v, ok, strict=True):
                advance(t + tf_ns)
                push(Bar(venue, symbol, timeframe, t, op, hi, low, cl, vol), good)
            count = min(stop, len(s.ts))
            yield count
    else:
        columns = [_columns(s) for s in series]
        pushes = [lane.push for lane in lanes]
        for index, row in _merged(series):
            venue, symbol, timeframe, tf_ns, ts, o, h, lo, c, v, ok = columns[index]
            t = ts[row]
            advance(t + tf_ns)
            pushes[index](Bar(venue, symbol, timeframe, t, o[row], h[row], lo[row], c[row],
                              v[row]), ok[row])
            count += 1
            if not count % chunk:
                yield count
    for lane in lanes:
        lane.finish()
    result.bars = count


def _forward_only(clock: Any) -> Callable[[int], None]:
    """``clock.advance_to`` that leaves the clock where it is for a time before it: a
    bar behind an earlier one, which the feed drops, as live, without time going back."""
    advance, now = clock.advance_to, clock.now_ns

    def to(ts_ns: int) -> None:
        if ts_ns >= now():
            advance(ts_ns)

    return to


def _stream(s: BarSeries) -> tuple[Venue, Symbol, str, int]:
    """A file's stream: venue, symbol, timeframe and bar length (ns)."""
    timeframe = s.info.timeframe or "1m"
    return s.info.venue, s.info.symbol, timeframe, timeframe_ns(timeframe)


def _columns(s: BarSeries) -> tuple[Any, ...]:
    """A file's bars as plain lists (what the per-bar loop indexes fastest) after its
    stream (:func:`_stream`), and which bars pass the value checks."""
    return (*_stream(s), s.ts.tolist(), s.open.tolist(), s.high.tolist(), s.low.tolist(),
            s.close.tolist(), s.volume.tolist(), s.good.tolist())


def _merged(series: list[BarSeries]) -> Iterator[tuple[int, int]]:
    """(file index, row) of every bar in close-time order, files in order at equal times,
    each file's rows in file order."""
    close = [s.ts.astype(np.int64) + timeframe_ns(s.info.timeframe or "1m") for s in series]
    if all(np.all(np.diff(c) >= 0) for c in close):
        index = np.concatenate([np.full(len(c), i, dtype=np.int64) for i, c in enumerate(close)])
        rows = np.concatenate([np.arange(len(c), dtype=np.int64) for c in close])
        order = np.lexsort((index, np.concatenate(close)))
        return zip(index[order].tolist(), rows[order].tolist(), strict=True)
    import heapq  # a file out of time order: merge as the files stand

    def stream(index: int, times: list[int]) -> Iterator[tuple[int, int, int]]:
        return ((t, index, row) for row, t in enumerate(times))

    merged = heapq.merge(*(stream(i, c.tolist()) for i, c in enumerate(close)))
    return ((i, r) for _, i, r in merged)


def _marks(series: list[BarSeries]) -> list[MarkSeries]:
    """What the portfolio marks positions at: each good bar's close, at its close time."""
    out = []
    for s in series:
        tf_ns = timeframe_ns(s.info.timeframe or "1m")
        out.append(MarkSeries(str(s.info.symbol), s.ts[s.good].astype(np.int64) + tf_ns,
                              s.close[s.good].astype(np.float64)))
    return out


def _preload_indicators(hub: Any, series: list[BarSeries], start_ns: int | None) -> None:
    """Let the indicator hub compute the data timeframes' indicators in batch (bit for bit
    the streaming values; it checks each bar and streams on where the feed differs), the
    warm start's history (bars before ``start_ns``) included."""
    preload = getattr(hub, "preload", None)
    if preload is None:
        return
    parts: dict[str, dict[str, list[BarSeries]]] = {}
    for s in series:
        pieces = parts.setdefault(s.info.timeframe or "1m", {}).setdefault(str(s.info.symbol), [])
        pieces += [s] if s.before is None else [s.before, s]
    for timeframe, symbols in parts.items():
        columns = {}
        for symbol, pieces in symbols.items():
            # the bars the feed passes: a dropped one in the grid would make the hub fall
            # back to streaming from there on
            ts = np.concatenate([p.ts[p.good] for p in pieces])
            order = np.argsort(ts, kind="stable")
            columns[symbol] = (ts[order],
                               np.concatenate([p.close[p.good] for p in pieces])[order])
        if any(len(ts) for ts, _ in columns.values()):  # else the range holds none of them
            preload(timeframe, columns, start_ns)


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
