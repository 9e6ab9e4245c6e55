"""A backtest's bars: the ``[backtest] data`` files read as columns (:class:`BarSeries`),
checked against what the engine can replay, cut to ``backtest.start``/``end``."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import Config, ConfigError
from engine.config_sections import utc_ns
from engine.ids import Symbol, Venue
from engine.marketdata.recorded import (
    DataFileError,
    FileInfo,
    UnnamedFileError,
    parse_name,
    read_file,
)
from engine.marketdata.replay_lane import good_bars
from engine.marketdata.timeframes import TimeframeError, validate_timeframe

__all__ = ["BarSeries", "load_bars", "parse_day", "resolve_path"]

_log = logging.getLogger(__name__)


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
    good: Any
    """Per bar, whether it passes the feed's value checks (:func:`good_bars`)."""
    before: BarSeries | None = None
    """The file's bars before ``backtest.start``: history for a warm start."""
    in_order: bool = True
    """False when some bar opens at or before an earlier one (not ``good``: dropped)."""

    def select(self, rows: Any, before: BarSeries | None = None) -> BarSeries:
        """The bars at ``rows`` (a mask or a slice), with ``before`` as their history."""
        return BarSeries(self.info, self.ts[rows], self.open[rows], self.high[rows],
                         self.low[rows], self.close[rows], self.volume[rows], self.good[rows],
                         before, self.in_order)

    def columns(self) -> dict[str, Any]:
        """The bar columns by name (``ts``, ``open`` ... ``volume``)."""
        return {"ts": self.ts, "open": self.open, "high": self.high, "low": self.low,
                "close": self.close, "volume": self.volume}


def parse_day(text: str, key: str) -> int | None:
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
    start, end = parse_day(bt.start, "start"), parse_day(bt.end, "end")
    if start is not None and end is not None and start >= end:
        raise ConfigError(f"backtest.start: must be before backtest.end ({bt.end!r}), "
                          f"got {bt.start!r}")
    series: list[BarSeries] = []
    covered: list[tuple[int, int]] = []  # each file's first and last bar, unfiltered
    for index, name in enumerate(bt.data):
        path = resolve_path(name, base)
        try:
            info = parse_name(path)
        except UnnamedFileError:  # the config says what it holds
            info = FileInfo(Venue(bt.exchange or "backtest"), Symbol(bt.symbol or path.stem),
                            "bars", bt.timeframe)
        except ValueError as exc:  # named by the convention, and what it names is unusable
            raise ConfigError(f"backtest.data[{index}]: {exc}") from None
        if info.kind != "bars":
            hint = ("; tradeengine data resample FILE --timeframe 1m --out OUT builds bars "
                    "from them" if info.kind == "trades" else "")
            raise ConfigError(f"backtest.data[{index}]: {path.name} holds {info.kind}; "
                              f"backtests take bar files{hint}")
        info = dataclasses.replace(
            info,
            venue=Venue(bt.exchange) if bt.exchange else info.venue,
            symbol=Symbol(bt.symbol) if bt.symbol else info.symbol,
            timeframe=bt.timeframe or info.timeframe,
        )
        _check_timeframe(info.timeframe or "1m",
                         "backtest.timeframe" if bt.timeframe else f"backtest.data[{index}]",
                         path.name)
        try:
            data = read_file(path, info)
        except (DataFileError, OSError) as exc:
            raise ConfigError(f"backtest.data[{index}]: {exc}") from None
        cols: Any = data.columns
        ts: Any = cols["ts"]
        keep = slice(None)
        if start is not None or end is not None:
            mask = np.ones(len(ts), dtype=bool)
            if start is not None:
                mask &= ts >= start
            if end is not None:
                mask &= ts < end
            keep = mask  # type: ignore[assignment]
        o, h, lo, c, v = (cols[k] for k in ("open", "high", "low", "close", "volume"))
        good = good_bars(o, h, lo, c, v)
        behind = _behind(ts, good)
        if behind.any():
            _log.warning("backtest.data[%d]: %s is not in time order: %d bars open at or "
                         "before an earlier one (the first on line %d); dropped, as the live "
                         "feed drops them", index, path.name, int(behind.sum()),
                         int(np.argmax(behind)) + 2)  # line 1 is the header
            good &= ~behind
        whole = BarSeries(info, ts, o, h, lo, c, v, good, in_order=not behind.any())
        series.append(whole.select(keep, None if start is None else whole.select(ts < start)))
        if len(ts):
            covered.append((int(ts.min()), int(ts.max())))
    if not any(len(s.ts) for s in series):
        raise ConfigError(_no_bars(bt.start, bt.end, covered))
    return series


def _check_timeframe(timeframe: str, key: str, name: str) -> None:
    """A ConfigError naming ``key`` unless the engine builds bars of ``timeframe``."""
    try:
        validate_timeframe(timeframe)
    except TimeframeError as exc:
        raise ConfigError(f"{key}: {name}: {exc}; shorter bars can be resampled first: "
                          "tradeengine data resample --timeframe 1m FILE --out OUT") from None


def _behind(ts: Any, good: Any) -> Any:
    """Per bar, whether it opens at or before an earlier good bar: what the feed drops as
    behind the last closed one. (A bar it drops for that never moves the last closed bar
    on, so the running maximum over the good bars is the feed's last closed bar.)"""
    if len(ts) < 2 or bool(np.all(ts[1:] > ts[:-1])):
        return np.zeros(len(ts), dtype=bool)
    newest = np.maximum.accumulate(np.where(good, ts, np.iinfo(np.int64).min))
    return np.concatenate([[False], ts[1:] <= newest[:-1]])


def _no_bars(start: str, end: str, covered: list[tuple[int, int]]) -> str:
    """Why a backtest has nothing to run over: the range and what the files hold."""
    if not covered:
        return "backtest.data: the files hold no bars"
    first = datetime.fromtimestamp(min(lo for lo, _ in covered) / 1e9, UTC)
    last = datetime.fromtimestamp(max(hi for _, hi in covered) / 1e9, UTC)
    keys = "/".join(f"backtest.{k}" for k, v in (("start", start), ("end", end)) if v)
    asked = f"from {start or 'the start'} to {end or 'the end'}"
    return (f"{keys}: no bars {asked}; the files hold bars opening "
            f"from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC")
