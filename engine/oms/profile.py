"""What the OMS does with each bar and trade, compiled (:mod:`engine.native`): learn the
volume profile VWAP parents slice by, and wake the stop emulation only for a symbol with an
armed stop. Every closed bar and every public trade passes through here, so each costs a few
list and dict operations, not an interpreted call.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from decimal import Decimal
from typing import Final

from engine.model import NS_PER_S, Bar, TradeTick

__all__ = ["OmsMarketTap", "VolumeProfile"]

_UNSEEN: Final = -1.0  # volumes are >= 0


class VolumeProfile:
    """Recent traded volume per time-of-day bucket and symbol: per bucket, an EMA over the
    days (``old + alpha * (volume - old)``; a bucket's first bar sets it)."""

    def __init__(self, bucket_s: int = 60, alpha: float = 0.3) -> None:
        self._bucket_ns: int = bucket_s * NS_PER_S
        self._per_day: int = max(1, 86_400 // bucket_s)
        self._alpha: float = alpha
        # per symbol, one slot per bucket of the day; _UNSEEN until the bucket's first bar
        self._volume: dict[str, list[float]] = {}

    def on_bar(self, bar: Bar) -> None:
        """Learn from a bar (closed bars only)."""
        if not bar.closed:
            return
        symbol: str = bar.symbol
        buckets = self._volume.get(symbol)
        if buckets is None:
            buckets = self._volume[symbol] = [_UNSEEN] * self._per_day
        key: int = bar.ts_ns // self._bucket_ns % self._per_day
        volume: float = bar.volume
        old = buckets[key]
        buckets[key] = volume if old == _UNSEEN else old + self._alpha * (volume - old)

    def weights(self, symbol: str, times_ns: list[int]) -> list[Decimal]:
        """Relative weights (summing to 1) for slices sent at ``times_ns``; a bucket with
        no volume seen yet weighs the mean of those seen."""
        n = len(times_ns)
        seen = [v for v in self._volume.get(symbol, []) if v != _UNSEEN]
        if not seen:
            return [Decimal(1) / n] * n
        mean = sum(seen) / len(seen)
        buckets = self._volume[symbol]
        raw: list[float] = []
        for t in times_ns:
            v = buckets[t // self._bucket_ns % self._per_day]
            raw.append(mean if v == _UNSEEN else v)
        total = sum(raw)
        if total <= 0:
            return [Decimal(1) / n] * n
        return [Decimal(repr(v / total)) for v in raw]


class OmsMarketTap:
    """The OMS's bar and trade handlers: the profile learns every bar (when ``profile`` is
    set); the stop emulation (``on_stop_bar``, ``on_stop_trade``) sees a bar or a trade only
    while ``stop_symbols`` (a live view) holds its symbol."""

    def __init__(self, profile: VolumeProfile | None, stop_symbols: Collection[str],
                 on_stop_bar: Callable[[Bar], None],
                 on_stop_trade: Callable[[TradeTick], None]) -> None:
        self._profile = profile
        self._stop_symbols = stop_symbols
        self._on_stop_bar = on_stop_bar
        self._on_stop_trade = on_stop_trade

    def on_trade(self, tick: TradeTick) -> None:
        """One public trade: trigger the symbol's emulated stops."""
        stops = self._stop_symbols
        if stops and tick.symbol in stops:  # usually no stop is armed at all
            self._on_stop_trade(tick)

    def on_bar(self, bar: Bar) -> None:
        """One bar: learn it; trigger the symbol's emulated stops."""
        profile = self._profile
        if profile is not None:
            profile.on_bar(bar)
        stops = self._stop_symbols
        if stops and bar.symbol in stops:  # usually no stop is armed at all
            self._on_stop_bar(bar)
