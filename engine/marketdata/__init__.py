"""Market data: validation, trade -> bar aggregation, higher timeframes, ring buffers,
stale detection, and the feed that turns gateway events into bus events.

Modules: ``timeframes`` (UTC-aligned boundaries), ``validate`` (record checks, bad-data
counters), ``aggregate`` (streaming builders and numba batch kernels), ``ringbuffer``
(copy-free views of recent bars), ``inbox`` (the bounded inbound queue), ``state``
(per-symbol state), ``stale`` (staleness and reporting), ``feed`` (the component).
"""

from engine.marketdata.feed import MarketDataFeed
from engine.marketdata.inbox import Inbox
from engine.marketdata.ringbuffer import BarRing
from engine.marketdata.status import FeedHealth, SymbolStatus
from engine.marketdata.validate import Reason

__all__ = ["BarRing", "FeedHealth", "Inbox", "MarketDataFeed", "Reason", "SymbolStatus"]
