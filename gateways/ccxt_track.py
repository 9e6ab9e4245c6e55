"""What the ccxt gateway has delivered per symbol: the bookkeeping behind exactly-once."""

from __future__ import annotations

__all__ = ["SymbolTrack"]


class SymbolTrack:
    """Delivery bookkeeping of one symbol: the last trade and bar delivered, the newest
    candle the stream has shown, and which streams are down."""

    __slots__ = ("down", "last_bar_ms", "last_trade_id", "last_trade_ms", "newest_open_ms",
                 "seen_at_last_ms")

    def __init__(self) -> None:
        self.last_trade_id: int | None = None
        self.last_trade_ms = 0
        self.seen_at_last_ms: set[str] = set()
        self.last_bar_ms: int | None = None
        self.newest_open_ms = 0
        self.down: set[str] = set()

    @property
    def fresh(self) -> bool:
        """No trade delivered yet."""
        return self.last_trade_id is None and not self.last_trade_ms

    def seen_by_time(self, trade_id: str, ts_ms: int) -> bool:
        """For venues whose trade ids are not contiguous: True for a trade delivered already
        (older than the last one, or of the same millisecond with an id seen); otherwise
        remember it as seen."""
        if ts_ms < self.last_trade_ms or (ts_ms == self.last_trade_ms
                                          and trade_id in self.seen_at_last_ms):
            return True
        if ts_ms > self.last_trade_ms:
            self.seen_at_last_ms.clear()
        self.seen_at_last_ms.add(trade_id)
        return False

    def stream_down(self, kind: str) -> bool:
        """Mark stream ``kind`` down; True when this interrupts the symbol's data (its first
        trade or bar stream to go: a quote stream alone does not)."""
        interrupts = kind != "quotes" and not (self.down - {"quotes"})
        self.down.add(kind)
        return interrupts

    def stream_up(self, kind: str) -> bool:
        """Mark stream ``kind`` up again; True when the symbol's data is whole again."""
        self.down.discard(kind)
        return kind != "quotes" and not (self.down - {"quotes"})
