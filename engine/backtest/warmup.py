"""A backtest's warm start: the bars its files hold before ``backtest.start`` warm the
indicators and bar rings, as a live engine started at that moment warms them from the
exchange (:mod:`engine.marketdata.warmup`), so that a backtest from a date and a live
engine started on it trade alike from their first bar.

The span is the live one (``[marketdata] warmup_periods`` times the longest indicator
period on each timeframe, and what strategies declare with ``history_bars``), without
the live cap: files cost no requests. The history goes through the feed (rings, the higher
timeframes) and the streaming indicators; the preloaded indicators of the files' own
timeframes take it in their preload (:meth:`IndicatorHub.preload`, ``start_ns``). Nothing
of it is traded on, marked or counted in the metrics but ``warmup_bars``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from engine.marketdata.recorded import bar_objects
from engine.marketdata.warmup import BASE_NS, plan_spans
from engine.model import Bar

if TYPE_CHECKING:
    from engine.backtest.bars import BarSeries

__all__ = ["warm_backtest"]

_UNCAPPED = 1 << 40


def warm_backtest(engine: Any, series: list[BarSeries], start_ns: int | None) -> int:
    """Cut each file's history (``BarSeries.before``) to the span its symbol needs, run it
    through the feed and the streaming indicators, and leave it in ``series`` for the
    preload. Returns how many history bars there were (0: off, or nothing before)."""
    md = engine.config.marketdata
    host = engine.strategies
    spans: dict[str, int] = {}
    if start_ns is not None and md.warmup_periods:
        hub = host.indicators
        spans = plan_spans(hub.longest_periods(), hub.symbols, periods=md.warmup_periods,
                           max_bars=_UNCAPPED, rings=host.history_wanted())
    bars: list[Bar] = []
    for index, s in enumerate(series):
        span = spans.get(str(s.info.symbol), 0)
        if s.before is None or not span or start_ns is None:
            series[index] = dataclasses.replace(s, before=None)
            continue
        b = s.before
        kept = b.select((b.ts >= start_ns - span * BASE_NS) & b.good)  # the feed drops the rest
        series[index] = dataclasses.replace(s, before=kept)
        bars += bar_objects(s.info.venue, s.info.symbol, s.info.timeframe or "1m",
                            kept.columns())
    if not bars:
        return 0
    bars.sort(key=lambda bar: bar.ts_ns)  # stable: files in order at equal times
    # the simulated clock to the start, where a live engine's would stand: history bars
    # after the clock are refused as from the future
    engine.clock.advance_to(max(engine.clock.now_ns(), start_ns))
    closed = engine.marketdata.warm(bars)
    preloaded = {s.info.timeframe or "1m" for s in series}
    host.indicators.warm(sorted((b for b in closed if b.timeframe not in preloaded),
                                key=lambda bar: bar.ts_ns))
    return len(bars)
