"""The bounded inbox: backpressure for trades, latest-wins coalescing for quotes."""

from __future__ import annotations

import asyncio

import pytest

from engine.ids import Symbol, Venue
from engine.marketdata import Inbox
from engine.model import Bar, Quote, TradeTick

V = Venue("x")


def _q(symbol: str, bid: float) -> Quote:
    return Quote(V, Symbol(symbol), 1, bid, 1.0, bid + 1, 1.0)


def _t(i: int) -> TradeTick:
    return TradeTick(V, Symbol("A/B"), i, 1.0, 1.0, None, str(i))


def test_quotes_coalesce_latest_wins_per_symbol_when_full() -> None:
    inbox = Inbox(2)
    assert inbox.put_nowait(_t(1)) and inbox.put_nowait(_t(2))
    assert not inbox.put_nowait(_t(3))  # full: trades are refused, never dropped silently
    for bid in (1.0, 2.0, 3.0):
        inbox.offer(_q("A/B", bid))
    inbox.offer(_q("C/D", 9.0))
    items = inbox.drain()
    assert [type(i).__name__ for i in items] == ["TradeTick", "TradeTick", "Quote", "Quote"]
    assert [i.bid for i in items[2:]] == [3.0, 9.0]  # type: ignore[union-attr]
    assert inbox.coalesced == 2
    assert len(inbox) == 0


def test_pending_coalesced_quote_keeps_order() -> None:
    inbox = Inbox(1)
    inbox.put_nowait(_t(1))
    inbox.offer(_q("A/B", 1.0))  # full: into the table
    inbox.drain()
    inbox.offer(_q("A/B", 2.0))  # room again: queued
    assert [i.bid for i in inbox.drain()] == [2.0]  # type: ignore[union-attr]


def test_partial_bars_coalesce_by_timeframe() -> None:
    inbox = Inbox(1)
    inbox.put_nowait(_t(1))
    for close in (1.0, 2.0):
        inbox.offer(Bar(V, Symbol("A/B"), "1m", 0, 1, 2, 1, close, 1, closed=False))
    inbox.offer(Bar(V, Symbol("A/B"), "5m", 0, 1, 2, 1, 7.0, 1, closed=False))
    items = inbox.drain()[1:]
    assert [(b.timeframe, b.close) for b in items] == [("1m", 2.0), ("5m", 7.0)]  # type: ignore


async def test_put_waits_for_room_and_counts_it() -> None:
    inbox = Inbox(3)
    got: list[object] = []

    async def producer() -> None:
        for i in range(20):
            await inbox.put(_t(i))

    async def consumer() -> None:
        while len(got) < 20:
            await inbox.wait()
            got.extend(inbox.drain())
            await asyncio.sleep(0)

    await asyncio.wait_for(asyncio.gather(producer(), consumer()), 5)
    assert [t.ts_ns for t in got] == list(range(20))  # type: ignore[attr-defined]
    assert inbox.backpressure_waits > 0
    assert inbox.high_water == 3


async def test_close_wakes_waiters_and_refuses_items() -> None:
    inbox = Inbox(1)
    inbox.put_nowait(_t(0))
    blocked = asyncio.create_task(inbox.put(_t(1)))
    await asyncio.sleep(0)
    inbox.close()
    await asyncio.wait_for(blocked, 1)
    assert not inbox.put_nowait(_t(2))
    await asyncio.wait_for(inbox.wait(), 1)


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Inbox(0)
