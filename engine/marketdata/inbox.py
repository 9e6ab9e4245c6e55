"""The one bounded queue between gateways and the market data feed.

Overflow policy (``maxsize`` counts queued items; a :class:`~engine.gateway.TradeBatch`
counts as one):

- trades, trade batches, closed bars and control events: never dropped. ``put`` waits
  while the queue is full, which stops the gateway's reader (backpressure: the socket
  buffers, and a gateway that falls too far behind reconnects and backfills). Each wait is
  counted in ``backpressure_waits``; ``put_nowait`` returns False instead of waiting.
- quotes and partial bars (``offer``): never wait. When the queue is full, or when an
  older one of the same (type, symbol, timeframe) is still pending in the coalescing
  table, the newest replaces it (latest wins; counted in ``coalesced``). The table holds at
  most one entry per symbol and kind, so it is bounded by the number of subscriptions.

The consumer takes everything pending at once with :meth:`Inbox.drain` (queued items in
arrival order, then the coalesced ones), so it pays one ``await`` per wake-up, not per event.
"""

from __future__ import annotations

import asyncio
from collections import deque

from engine.gateway import InboundItem
from engine.ids import Symbol
from engine.model import Bar, Quote

__all__ = ["Inbox"]


class Inbox:
    """Bounded inbound queue with backpressure for trades and coalescing for quotes."""

    def __init__(self, maxsize: int) -> None:
        if maxsize <= 0:
            raise ValueError(f"inbox size must be > 0, got {maxsize}")
        self.maxsize = maxsize
        self._items: deque[InboundItem] = deque()
        self._latest: dict[tuple[type, Symbol, str], Quote | Bar] = {}
        self._not_empty = asyncio.Event()
        self._not_full = asyncio.Event()
        self._not_full.set()
        self._closed = False
        self.put_total = 0
        self.coalesced = 0
        self.backpressure_waits = 0
        self.high_water = 0

    def __len__(self) -> int:
        return len(self._items) + len(self._latest)

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def put_nowait(self, item: InboundItem) -> bool:
        """Enqueue ``item`` unless full (or closed); True when enqueued."""
        if self._closed or len(self._items) >= self.maxsize:
            return False
        self._items.append(item)
        self.put_total += 1
        if len(self._items) > self.high_water:
            self.high_water = len(self._items)
        self._not_empty.set()
        return True

    async def put(self, item: InboundItem) -> None:
        """Enqueue ``item``, waiting while the queue is full. Dropped once closed."""
        while not self.put_nowait(item):
            if self._closed:
                return
            self.backpressure_waits += 1
            self._not_full.clear()
            await self._not_full.wait()

    def offer(self, item: Quote | Bar) -> None:
        """Enqueue a quote or partial bar; coalesce (latest wins) when full or pending."""
        if self._closed:
            return
        key = (item.__class__, item.symbol, getattr(item, "timeframe", ""))
        if key in self._latest:
            self._latest[key] = item
            self.coalesced += 1
        elif len(self._items) >= self.maxsize:
            self._latest[key] = item
        else:
            self._items.append(item)
            self.put_total += 1
        self._not_empty.set()

    def drain(self) -> list[InboundItem]:
        """Take everything pending: queued items in order, then coalesced ones."""
        items: list[InboundItem] = list(self._items)
        self._items.clear()
        if self._latest:
            items.extend(self._latest.values())
            self._latest.clear()
        self._not_empty.clear()
        self._not_full.set()
        return items

    async def wait(self) -> None:
        """Return when something is pending (at once if it already is) or when closed."""
        while not self._items and not self._latest and not self._closed:
            await self._not_empty.wait()
            if not self._items and not self._latest:
                self._not_empty.clear()

    def close(self) -> None:
        """Refuse further items and wake every waiter."""
        self._closed = True
        self._not_empty.set()
        self._not_full.set()
