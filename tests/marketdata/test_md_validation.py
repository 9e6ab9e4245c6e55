"""Every kind of bad record is rejected and counted, floods alert, nothing raises."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.bus import MessageBus
from engine.clock import SimClock
from engine.config import MarketDataConfig
from engine.gateway import RecordRejected, TradeBatch
from engine.ids import Symbol, Venue
from engine.marketdata import MarketDataFeed, Reason
from engine.metrics import MetricsBuilder
from engine.model import Alert, AlertSeverity, Bar, Quote, TradeTick

V, S = Venue("binance"), Symbol("XRP/ETH")
T0 = 1_570_752_000_000_000_000  # 2019-10-11 00:00 UTC
MIN = 60_000_000_000


def _feed(**kw: object) -> tuple[MarketDataFeed, SimClock, dict[type, list[object]]]:
    clock = SimClock(T0)
    bus = MessageBus()
    seen: dict[type, list[object]] = {TradeTick: [], Bar: [], Quote: [], Alert: []}
    for kind, items in seen.items():
        bus.subscribe(kind, items.append)
    feed = MarketDataFeed(bus, clock, MarketDataConfig(**kw))  # type: ignore[arg-type]
    return feed, clock, seen


def _trade(ts: int, price: float = 1.0, qty: float = 1.0, tid: str = "") -> TradeTick:
    return TradeTick(V, S, ts, price, qty, None, tid)


def _bar(ts: int, o: float = 1.0, h: float = 2.0, lo: float = 0.5, c: float = 1.5,
         v: float = 3.0) -> Bar:
    return Bar(V, S, "1m", ts, o, h, lo, c, v)


BAD_TRADES = [
    (_trade(T0, price=math.nan), Reason.NON_FINITE),
    (_trade(T0, price=math.inf), Reason.NON_FINITE),
    (_trade(T0, qty=math.nan), Reason.NON_FINITE),
    (_trade(T0, price=0.0), Reason.NON_POSITIVE_PRICE),
    (_trade(T0, price=-1.0), Reason.NON_POSITIVE_PRICE),
    (_trade(T0, qty=-2.0), Reason.NEGATIVE_VOLUME),
    (_trade(T0, qty=0.0), Reason.NON_POSITIVE_QTY),
    (_trade(T0 + 3600 * 10**9), Reason.FUTURE_TIMESTAMP),
]
BAD_BARS = [
    (_bar(T0 - MIN, h=math.nan), Reason.NON_FINITE),
    (_bar(T0 - MIN, lo=-1.0), Reason.NON_POSITIVE_PRICE),
    (_bar(T0 - MIN, v=-5.0), Reason.NEGATIVE_VOLUME),
    (_bar(T0 - MIN, h=0.4, lo=0.5, o=0.45, c=0.45), Reason.HIGH_BELOW_LOW),
    (_bar(T0 - MIN, o=3.0), Reason.OHLC_INCONSISTENT),
    (_bar(T0 + 3600 * 10**9), Reason.FUTURE_TIMESTAMP),
]
BAD_QUOTES = [
    (Quote(V, S, T0, math.nan, 1.0, 2.0, 1.0), Reason.NON_FINITE),
    (Quote(V, S, T0, 0.0, 1.0, 2.0, 1.0), Reason.NON_POSITIVE_PRICE),
    (Quote(V, S, T0, 1.0, -1.0, 2.0, 1.0), Reason.NEGATIVE_VOLUME),
    (Quote(V, S, T0, 2.5, 1.0, 2.0, 1.0), Reason.CROSSED_QUOTE),
]


@pytest.mark.parametrize(("record", "reason"), BAD_TRADES + BAD_BARS + BAD_QUOTES)
def test_each_kind_of_bad_record_is_rejected_and_counted(record: object, reason: Reason) -> None:
    feed, _, seen = _feed()
    feed.handle(record)  # type: ignore[arg-type]
    assert feed.bad.counts == {(S, reason): 1}
    assert all(not items for kind, items in seen.items() if kind is not Alert)
    out = MetricsBuilder()
    feed.metrics(out)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for m in out.families() for s in m.samples}
    key = ("tradeengine_marketdata_bad_records_total",
           (("reason", reason.label), ("symbol", "XRP/ETH")))
    assert samples[key] == 1


def test_duplicate_trade_id_and_late_trade() -> None:
    feed, clock, seen = _feed()
    feed.start_timers()
    clock.advance_to(T0 + 2 * MIN)
    feed.handle(_trade(T0 + 5, tid="1"))
    feed.handle(_trade(T0 + 6, tid="1"))  # duplicate id
    feed.handle(_trade(T0 + MIN + 1, tid="2"))  # closes the first minute
    feed.handle(_trade(T0 + 7, tid="3"))  # behind the last closed bar
    feed.handle(_trade(T0 + MIN + 2, tid="4"))  # out of order within the open bar: fine
    feed.handle(_trade(T0 + MIN + 0, price=2.0, tid="5"))  # earliest of the bar: its open
    assert feed.bad.counts == {(S, Reason.DUPLICATE_TRADE_ID): 1,
                               (S, Reason.BEHIND_LAST_CLOSED): 1}
    assert len(seen[TradeTick]) == 4
    clock.advance_to(T0 + 4 * MIN)
    bars = [b for b in seen[Bar] if b.timeframe == "1m"]  # type: ignore[attr-defined]
    assert [b.ts_ns for b in bars] == [T0, T0 + MIN]
    assert bars[1].open == 2.0 and bars[1].num_trades == 3


def test_closed_bar_behind_last_and_duplicates() -> None:
    feed, clock, seen = _feed()
    clock.advance_to(T0 + 10 * MIN)
    feed.handle(_bar(T0 + 2 * MIN))
    feed.handle(_bar(T0 + 2 * MIN))  # the same bar again (backfill overlap): not bad data
    feed.handle(_bar(T0 + 1 * MIN))  # older than the last closed
    assert feed.duplicate_bars == 1
    assert feed.bad.counts == {(S, Reason.BEHIND_LAST_CLOSED): 1}
    assert len([b for b in seen[Bar] if b.timeframe == "1m"]) == 1  # type: ignore[attr-defined]


def test_batch_path_rejects_and_counts_by_reason() -> None:
    feed, clock, _ = _feed()
    clock.advance_to(T0 + 10 * MIN)
    ts = np.array([T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4, T0 + 3600 * 10**9], dtype=np.int64)
    price = np.array([1.0, np.nan, -1.0, 1.0, 1.0, 1.0])
    qty = np.array([1.0, 1.0, 1.0, -1.0, 1.0, 1.0])
    ids = np.array([10, 11, 12, 13, 10, 14], dtype=np.int64)
    feed.handle(TradeBatch(V, S, ts, price, qty, np.zeros(6, dtype=np.int8), ids))
    assert feed.bad.by_reason() == {"non_finite": 1, "non_positive_price": 1,
                                    "negative_volume": 1, "duplicate_trade_id": 1,
                                    "future_timestamp": 1}
    assert feed.counts["trade"] == 1


def test_garbage_never_raises_and_is_counted_as_malformed() -> None:
    feed, _, _ = _feed()
    feed.handle(TradeTick(V, S, T0, "1.0", 1.0))  # type: ignore[arg-type]
    feed.handle(RecordRejected(V, S, "malformed", T0, "not json"))
    feed.handle(RecordRejected(V, S, "something_else", T0))
    assert feed.bad.by_reason() == {"malformed": 3}


def test_flood_of_bad_data_raises_one_alert() -> None:
    feed, _, seen = _feed(bad_flood_threshold=50)
    for _ in range(500):
        feed.handle(_trade(T0, price=-1.0))
    alerts = [a for a in seen[Alert] if a.severity is AlertSeverity.ERROR]  # type: ignore
    assert len(alerts) == 1 and "flood" in alerts[0].title  # type: ignore[attr-defined]
    assert feed.bad.total == 500


def test_stale_symbol_alerts_and_fails_readiness_then_recovers() -> None:
    feed, clock, seen = _feed(symbols=["XRP/ETH", "BTC/USDT"], stale_after_bars=3.0)
    feed.start_timers()
    feed.handle(_trade(T0 + 1))
    clock.advance_to(T0 + 2 * MIN)
    feed.handle(_trade(T0 + 2 * MIN, tid="x"))
    assert feed.readiness().ok
    clock.advance_to(T0 + 3 * MIN + 5 * 10**9)  # BTC/USDT never traded: 3 bars of silence
    health = feed.health()
    assert health.stale_symbols == ("BTC/USDT",)
    assert not feed.readiness().ok
    clock.advance_to(T0 + 6 * MIN)  # XRP/ETH silent too now
    assert set(feed.health().stale_symbols) == {"BTC/USDT", "XRP/ETH"}
    warnings = [a for a in seen[Alert] if a.severity is AlertSeverity.WARNING]  # type: ignore
    assert len(warnings) == 2  # once per symbol, not every tick
    feed.handle(_trade(T0 + 6 * MIN, tid="y"))
    feed.handle(TradeTick(V, Symbol("BTC/USDT"), T0 + 6 * MIN, 1.0, 1.0))
    assert feed.readiness().ok
    status = feed.status()
    assert status["symbols"]["XRP/ETH"]["stale"] is False


def test_venue_bars_take_over_from_trade_bars_without_doubles() -> None:
    feed, clock, seen = _feed()
    clock.advance_to(T0 + 10 * MIN)
    for i, ts in enumerate((T0 + 1, T0 + MIN + 1, T0 + 2 * MIN + 1)):
        feed.handle(_trade(ts, tid=str(i)))  # closes minutes 0 and 1 from trades
    feed.handle(_bar(T0))  # the venue's bar of minute 0 arrives late: a duplicate
    feed.handle(_bar(T0 + MIN))
    feed.handle(_bar(T0 + 2 * MIN))  # from now on the venue's bars
    feed.handle(_trade(T0 + 3 * MIN + 1, tid="9"))  # builds no bar any more
    one_m = [b.ts_ns for b in seen[Bar] if b.timeframe == "1m"]  # type: ignore[attr-defined]
    assert one_m == [T0, T0 + MIN, T0 + 2 * MIN]
    assert feed.bad.total == 0 and feed.duplicate_bars == 2
    assert seen[Bar][-1].volume == 3.0  # type: ignore[attr-defined]  # the venue's bar


def test_partial_bars_are_published_when_configured() -> None:
    feed, clock, seen = _feed(partial_bars_ms=1000)
    for i in range(5):
        clock.advance_to(T0 + i * 600_000_000)  # a trade every 0.6 s
        feed.handle(_trade(T0 + i * 600_000_000, price=1.0 + i, tid=str(i)))
    partial = [b for b in seen[Bar] if not b.closed]  # type: ignore[attr-defined]
    assert [p.close for p in partial] == [1.0, 3.0, 5.0]  # type: ignore[attr-defined]
    assert all(p.ts_ns == T0 and p.timeframe == "1m" for p in partial)  # type: ignore
    assert feed.bars("XRP/ETH", "1m").total == 0  # partial bars never enter the rings


def test_configured_symbol_takes_the_venue_of_its_data() -> None:
    feed, clock, seen = _feed(symbols=["XRP/ETH"])
    feed.start_timers()
    feed.handle(_trade(T0 + 1, tid="1"))
    clock.advance_to(T0 + 5 * MIN)
    assert {b.venue for b in seen[Bar]} == {"binance"}  # type: ignore[attr-defined]
