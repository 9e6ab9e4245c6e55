"""The market data gateway contract: what the engine needs from an adapter to a venue.

The engine owns this protocol; adapters in ``gateways/`` implement it (``gateways.base``
re-exports it for their authors). A gateway:

1. is built with its configuration and the engine's clock, and does no I/O in ``__init__``;
2. ``connect()`` opens its sessions (loads markets, checks the venue answers) with a
   timeout, raising :class:`GatewayError` when the venue cannot be reached;
3. ``subscribe_trades`` / ``subscribe_bars`` / ``subscribe_quotes`` are called before
   ``run`` and only record what to stream (unified symbols such as ``BTC/USDT``);
4. ``run(sink)`` streams until cancelled or closed, delivering into ``sink``:
   trades (:class:`~engine.model.TradeTick` one by one or :class:`TradeBatch` arrays) and
   *closed* bars with ``await sink.put(item)`` (it waits while the engine's inbound queue is
   full: backpressure, never loss), quotes and partial bars with ``sink.offer(item)``
   (never waits: latest wins per symbol), and the control events below. It reconnects on
   its own (capped exponential backoff with jitter), tells the engine about interruptions
   with :class:`FeedInterrupted` / :class:`FeedRestored`, and fills gaps so that no trade
   or closed bar is missing or delivered twice;
5. ``close()`` stops streaming and releases sessions; calling it twice is harmless;
6. ``health()`` answers at once, from memory.

Gateways may report records they could not parse as :class:`RecordRejected`, so that the
engine counts every bad record in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from engine.ids import Symbol, Venue
from engine.model import Bar, Quote, TradeTick

__all__ = [
    "ClockAdvance",
    "FeedInterrupted",
    "FeedRestored",
    "GatewayError",
    "GatewayHealth",
    "InboundItem",
    "MarketDataGateway",
    "MarketDataSink",
    "RecordRejected",
    "TradeBatch",
]


class GatewayError(Exception):
    """A gateway cannot do what was asked (venue unreachable, symbol unknown ...)."""


@dataclass(frozen=True, slots=True, eq=False)
class TradeBatch:
    """Trades of one symbol as arrays, in time order (replay, REST backfill).

    ``ts`` int64 ns; ``price``, ``qty`` float64; ``side`` int8 (+1 buy, -1 sell, 0 unknown);
    ``trade_id`` int64 (-1 when the venue gives none).
    """

    venue: Venue
    symbol: Symbol
    ts: npt.NDArray[np.int64]
    price: npt.NDArray[np.float64]
    qty: npt.NDArray[np.float64]
    side: npt.NDArray[np.int8]
    trade_id: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.ts.shape[0])


@dataclass(frozen=True, slots=True)
class FeedInterrupted:
    """The gateway lost its stream for ``symbols``; the engine must not close their bars
    by the clock until :class:`FeedRestored` (the gap will be backfilled)."""

    venue: Venue
    symbols: tuple[Symbol, ...]
    ts_ns: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class FeedRestored:
    """The stream for ``symbols`` is back and the gap before it has been delivered."""

    venue: Venue
    symbols: tuple[Symbol, ...]
    ts_ns: int
    backfilled: int = 0


@dataclass(frozen=True, slots=True)
class RecordRejected:
    """A record the gateway could not parse; ``reason`` is a
    :class:`~engine.marketdata.validate.Reason` label such as ``malformed``."""

    venue: Venue
    symbol: Symbol
    reason: str
    ts_ns: int
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ClockAdvance:
    """A replay on a :class:`~engine.clock.SimClock`: the records after this one became
    known at ``ts_ns``. The feed moves the clock there when it reaches this item, so the
    engine's time is that of the record it handles, however far ahead of it the replay has
    read into the queue (an order then carries the time of the bar that prompted it)."""

    ts_ns: int


InboundItem = (TradeTick | TradeBatch | Bar | Quote | FeedInterrupted | FeedRestored
               | RecordRejected | ClockAdvance)
"""What a gateway puts into the engine's inbound queue."""


@dataclass(frozen=True, slots=True)
class GatewayHealth:
    """A gateway's state for /readyz and /status."""

    venue: Venue
    connected: bool
    detail: str = ""
    reconnects: int = 0
    last_message_ns: int = 0
    counters: dict[str, int] = field(default_factory=dict)


class MarketDataSink(Protocol):
    """The engine's bounded inbound queue, as a gateway sees it."""

    async def put(self, item: InboundItem) -> None:
        """Enqueue a trade, trade batch, closed bar or control event; waits while full."""
        ...

    def put_nowait(self, item: InboundItem) -> bool:
        """Enqueue without waiting; False (nothing enqueued) when full."""
        ...

    def offer(self, item: Quote | Bar) -> None:
        """Enqueue a quote or partial bar; when full, replaces the pending one of its symbol."""
        ...


@runtime_checkable
class MarketDataGateway(Protocol):
    """A source of market data (live venue or recording); see the module docstring.

    Optional, for a live engine's warm start (:mod:`engine.marketdata.warmup`):
    ``async history(symbol, start_ns) -> list[Bar]`` (closed 1m bars from ``start_ns`` on)
    and ``resume_from(symbol, bar_ts_ns=...)`` (stream bars after that one).
    """

    @property
    def venue(self) -> Venue:
        """The venue's name as ccxt spells it (``binance``) or ``replay``."""
        ...

    async def connect(self) -> None:
        """Open sessions; raise :class:`GatewayError` if the venue cannot be reached."""
        ...

    async def subscribe_trades(self, symbol: Symbol) -> None:
        """Stream public trades of ``symbol``."""
        ...

    async def subscribe_bars(self, symbol: Symbol, timeframe: str) -> None:
        """Stream the venue's own closed bars of ``symbol``."""
        ...

    async def subscribe_quotes(self, symbol: Symbol) -> None:
        """Stream top of book of ``symbol``."""
        ...

    async def run(self, sink: MarketDataSink) -> None:
        """Stream into ``sink`` until cancelled or closed."""
        ...

    async def close(self) -> None:
        """Stop and release everything; idempotent."""
        ...

    def health(self) -> GatewayHealth:
        """Current state, from memory."""
        ...
