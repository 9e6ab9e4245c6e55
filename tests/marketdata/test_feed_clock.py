"""Bars built from trades close by the exchange's time, estimated from the newest trade and
our clock's time since; quotes, which venues' book tickers send without a time (the
gateway stamps them with ours), must not move that estimate."""

from __future__ import annotations

import pytest

from engine.bus import MessageBus
from engine.clock import SimClock
from engine.config import MarketDataConfig
from engine.ids import Symbol, Venue
from engine.marketdata import MarketDataFeed
from engine.model import Bar, OrderSide, Quote, TradeTick

V, S = Venue("binance"), Symbol("XRP/ETH")
MINUTE = 60_000_000_000
SECOND = 1_000_000_000
T0 = 1_570_782_000 * SECOND  # a minute's start on the exchange


@pytest.mark.parametrize("skew_s", [0, 10, 60, -4])
def test_a_skewed_clock_stamping_quotes_does_not_close_bars_early(skew_s: int) -> None:
    """Our clock ``skew_s`` ahead of the exchange's (behind by more than ``max_future_ms``,
    every trade would be refused as from the future, rightly)."""
    clock = SimClock(T0 + skew_s * SECOND)
    bus = MessageBus()
    bars: list[Bar] = []
    bus.subscribe(Bar, bars.append)
    feed = MarketDataFeed(bus, clock, MarketDataConfig(symbols=[S], timeframes=["1m"]))
    trades = 0
    for second in range(0, 150):  # two and a half minutes of the exchange's time
        exchange_ns = T0 + second * SECOND
        clock.advance_to(exchange_ns + skew_s * SECOND)  # our clock, skewed
        if second % 3 == 0:  # a trade every 3 s, stamped by the exchange
            feed.on_trade(TradeTick(V, S, exchange_ns, 1.0 + second / 1000, 5.0,
                                    OrderSide.BUY, str(second)))
            trades += 1
        # a book ticker every second, stamped with our clock
        feed.on_quote(Quote(V, S, clock.now_ns(), 0.99, 1.0, 1.01, 1.0))
        feed.on_tick(clock.now_ns())
    assert feed.bad.total == 0, feed.bad.counts  # no trade came after its bar closed
    closed = [b for b in bars if b.closed and b.timeframe == "1m"]
    assert [b.ts_ns for b in closed] == [T0, T0 + MINUTE]
    assert [b.num_trades for b in closed] == [20, 20]  # every trade of each minute
