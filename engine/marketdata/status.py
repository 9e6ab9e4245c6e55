"""What the market data feed reports: per-symbol state, staleness, counters."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.gateway import GatewayHealth

__all__ = ["FeedHealth", "SymbolStatus"]


@dataclass(frozen=True, slots=True)
class SymbolStatus:
    """One symbol as the feed sees it."""

    symbol: str
    last_receive_ns: int
    """Clock time the last record of the symbol was received (or when it was first expected)."""
    last_event_ns: int
    """Data time of the last record (a trade's time, a bar's end)."""
    stale: bool
    interrupted: bool
    trades: int
    bars_closed: int
    last_close: float | None


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """The feed's state for /readyz, /status and /metrics."""

    ready: bool
    stale_symbols: tuple[str, ...]
    symbols: dict[str, SymbolStatus]
    bad_records: dict[str, int]
    """Rejected records by reason label (``non_finite``, ``duplicate_trade_id`` ...)."""
    events: dict[str, int]
    """Accepted records by kind: ``trade``, ``bar``, ``quote``; ``bars_emitted`` closed bars."""
    queue_depth: int
    queue_high_water: int
    coalesced: int
    backpressure_waits: int
    duplicate_bars: int
    gateway: GatewayHealth | None = None
    detail: str = ""
    extra: dict[str, int] = field(default_factory=dict)
