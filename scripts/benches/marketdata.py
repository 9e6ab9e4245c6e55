"""Market data bench: trades/s through validation + aggregation, and bars/s into price_data.

- batch path (replay, backfill): seeded trades as arrays, one symbol, through
  ``MarketDataFeed.on_trades`` in chunks of 100,000 (numba validation, numba aggregation to
  1m bars, resampling to 5m/15m/1h, ring buffers, bus publication of the closed bars).
  Beside it the two numba kernels alone.
- live path: the same trades one ``TradeTick`` at a time through ``MarketDataFeed.handle``
  (validation, duplicate-id check, streaming 1m bar, higher timeframes, bus publication of
  every tick and bar to one subscriber), as a gateway delivers them. Beside it what ccxt
  itself spends on one Binance websocket trade frame before the gateway sees it: JSON
  decoding plus ``binance.handle_message`` (parse, cache, future resolution).
- price_data: the closed 1m bars of 20 seeded symbols into PostgreSQL through
  ``StoreWriter.submit`` until ``close()`` has flushed them (a private PostgreSQL in a
  temporary directory, or ``BENCH_DATABASE_URL``).

Seeded data, warm-up, medians. Usage: ``scripts/bench marketdata [--trades N] [--rows N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from _common import emit, median_seconds, print_table

from engine.bus import MessageBus
from engine.clock import SimClock
from engine.config import MarketDataConfig
from engine.gateway import TradeBatch
from engine.ids import Symbol, Venue
from engine.marketdata import MarketDataFeed
from engine.marketdata.aggregate import aggregate_trades
from engine.marketdata.validate import validate_trades
from engine.model import Bar, OrderSide, TradeTick

T0 = 1_767_225_600_000_000_000  # 2026-01-01
MIN = 60_000_000_000
V, S = Venue("binance"), Symbol("BTC/USDT")


def make_trades(n: int, seed: int = 7, mean_gap_ns: float = 50e6) -> dict[str, np.ndarray]:
    """A seeded random walk: one trade per ``mean_gap_ns`` on average (20/s), contiguous
    ids, random sides."""
    rng = np.random.default_rng(seed)
    ts = T0 + np.cumsum(rng.exponential(mean_gap_ns, n)).astype(np.int64)
    price = 40_000.0 * np.exp(np.cumsum(rng.normal(0, 2e-5, n)))
    qty = np.round(rng.exponential(0.05, n), 6) + 1e-6
    side = np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8)
    ids = np.arange(1_000_000, 1_000_000 + n, dtype=np.int64)
    return {"ts": ts, "price": price, "qty": qty, "side": side, "trade_id": ids}


def _feed(now_ns: int, subscribe_ticks: bool) -> tuple[MarketDataFeed, list[int]]:
    bus = MessageBus()
    counter = [0]

    def count(_: object) -> None:
        counter[0] += 1

    bus.subscribe(Bar, count)
    if subscribe_ticks:
        bus.subscribe(TradeTick, count)
    config = MarketDataConfig(timeframes=["1m", "5m", "15m", "1h"], persist_bars=False)
    return MarketDataFeed(bus, SimClock(now_ns), config), counter


def bench_batch(tr: dict[str, np.ndarray]) -> dict[str, float]:
    n = len(tr["ts"])
    end = int(tr["ts"][-1])
    chunk = 100_000

    def feed_path() -> None:
        feed, _ = _feed(end, subscribe_ticks=False)
        for lo in range(0, n, chunk):
            hi = lo + chunk
            feed.handle(TradeBatch(V, S, tr["ts"][lo:hi], tr["price"][lo:hi], tr["qty"][lo:hi],
                                   tr["side"][lo:hi], tr["trade_id"][lo:hi]))
        assert feed.counts["trade"] == n and feed.bad.total == 0

    def kernels() -> None:
        validate_trades(tr["ts"], tr["price"], tr["qty"], tr["trade_id"], max_ts_ns=end,
                        min_ts_ns=0)
        aggregate_trades(tr["ts"], tr["price"], tr["qty"], MIN)

    return {"feed": n / median_seconds(feed_path, repeat=5, warmup=1),
            "kernels": n / median_seconds(kernels, repeat=5, warmup=1)}


def bench_live(tr: dict[str, np.ndarray], n: int) -> float:
    ts, price, qty = tr["ts"][:n].tolist(), tr["price"][:n].tolist(), tr["qty"][:n].tolist()
    ids, sides = tr["trade_id"][:n].tolist(), tr["side"][:n].tolist()
    side = {1: OrderSide.BUY, -1: OrderSide.SELL}
    # Ticks are built inside the timed loop: a gateway builds one per trade too.
    def live() -> None:
        feed, _ = _feed(ts[-1], subscribe_ticks=True)
        handle = feed.handle
        for i in range(n):
            handle(TradeTick(V, S, ts[i], price[i], qty[i], side[sides[i]], str(ids[i])))
        assert feed.counts["trade"] == n

    return n / median_seconds(live, repeat=5, warmup=1)


def bench_ccxt_parse(tr: dict[str, np.ndarray], n: int) -> dict[str, float]:
    """ccxt's cost per Binance ``aggTrade`` frame: json decode + handle_message."""
    import ccxt.pro as ccxtpro

    ex = ccxtpro.binance({"options": {"fetchMarkets": {"types": ["spot"]}}})
    ex.set_markets([ex.safe_market_structure({
        "id": "BTCUSDT", "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT",
        "baseId": "BTC", "quoteId": "USDT", "type": "spot", "spot": True, "margin": False,
        "swap": False, "future": False, "option": False, "contract": False, "active": True,
        "lowercaseId": "btcusdt", "precision": {"amount": 1e-6, "price": 0.01}})])
    frames = [json.dumps({"e": "aggTrade", "E": int(t) // 1_000_000, "s": "BTCUSDT",
                          "a": int(i), "p": repr(float(p)), "q": repr(float(q)),
                          "f": int(i), "l": int(i), "T": int(t) // 1_000_000,
                          "m": bool(s < 0), "M": True})
              for t, p, q, i, s in zip(tr["ts"][:n], tr["price"][:n], tr["qty"][:n],
                                       tr["trade_id"][:n], tr["side"][:n], strict=True)]

    class FakeClient:
        """What handle_message needs of a ccxt ws client (no socket)."""

        def __init__(self) -> None:
            self.url = "ws://bench/ws/0"
            self.subscriptions: dict[str, Any] = {}
            self.futures: dict[str, Any] = {}
            self.rejections: dict[str, Any] = {}

        def resolve(self, result: Any, message_hash: str) -> Any:
            return result

    client = FakeClient()
    handle, loads = ex.handle_message, json.loads

    def parse_only() -> None:
        for frame in frames:
            ex.parse_ws_trade(loads(frame))

    def full() -> None:
        ex.trades = {}
        for frame in frames:
            handle(client, loads(frame))

    return {"parse_ws_trade": n / median_seconds(parse_only, repeat=5, warmup=1),
            "handle_message": n / median_seconds(full, repeat=5, warmup=1)}


async def bench_price_rows(dsn: str, rows: int, tmp: Path) -> float:
    from engine.store import StoreWriter, create_pool, migrate, queries
    from engine.store.rows import ns_to_ts

    schema = f"bench_md_{os.getpid()}"
    await migrate(dsn, schema=schema)
    import asyncpg

    conn = await asyncpg.connect(dsn)
    await conn.execute(f"SELECT {schema}.ensure_price_partitions($1, $2)", ns_to_ts(T0),
                       ns_to_ts(T0 + 400 * 86_400 * 10**9))
    await conn.close()
    # Bars as the feed makes them: 20 symbols' trades aggregated to 1m (seeded).
    per = rows // 20 + 1
    tr = make_trades(per * 25, seed=11, mean_gap_ns=3e9)  # ~20 trades per 1m bar
    cols, _ = aggregate_trades(tr["ts"], tr["price"], tr["qty"], MIN)
    bars = []
    for k in range(20):
        sym = Symbol(f"S{k:02d}/USDT")
        bars.extend(Bar(V, sym, "1m", t, o, h, lo, c, v, w, int(m)) for t, o, h, lo, c, v, w, m
                    in list(zip(*(cols[c].tolist() for c in ("ts", "open", "high", "low",
                                                             "close", "volume", "vwap",
                                                             "num_trades")),
                                strict=True))[:per])
    bars = bars[:rows]
    assert len(bars) == rows, (len(bars), rows)
    pool = await create_pool(dsn, schema=schema, min_size=1, max_size=2)
    account = await queries.ensure_account(pool, name="bench", venue="binance", mode="paper")
    writer = StoreWriter(pool, journal_dir=tmp / "journal", account_id=account,
                         batch_size=5000, flush_interval_s=0.05, queue_size=100_000,
                         schema=schema, op_timeout_s=120)
    task = asyncio.create_task(writer.run())
    await asyncio.sleep(0.05)
    start = time.perf_counter()
    for i in range(0, len(bars), 500):
        for bar in bars[i:i + 500]:
            writer.submit(bar)
        await asyncio.sleep(0)
    await writer.close(timeout=300)
    elapsed = time.perf_counter() - start
    await task
    status = writer.status()
    written = status.rows_written.get("price_data", 0)
    await pool.close()
    if written != len(bars):
        print(f"note: writer stored {written} of {len(bars)} rows ({status})")
    return written / elapsed


async def price_rows(rows: int) -> tuple[float | None, str]:
    tmp = Path(tempfile.mkdtemp(prefix="te-bench-md-"))
    try:
        given = os.environ.get("BENCH_DATABASE_URL")
        if given:
            return await bench_price_rows(given, rows, tmp), "BENCH_DATABASE_URL"
        from engine.store.cluster import ENGINE_SETTINGS, PostgresCluster

        cluster = PostgresCluster(tmp / "pg" / "data", settings=ENGINE_SETTINGS)
        dsn = await cluster.start(timeout=120)
        try:
            return await bench_price_rows(dsn, rows, tmp), "private PostgreSQL, fsync on"
        finally:
            await cluster.stop()
    except ImportError as exc:
        return None, f"store writer not available: {exc}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trades", type=int, default=2_000_000)
    parser.add_argument("--live-trades", type=int, default=200_000)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    tr = make_trades(args.trades)
    batch = bench_batch(tr)
    live = bench_live(tr, args.live_trades)
    ccxt_rates = bench_ccxt_parse(tr, min(args.live_trades, 50_000))
    rows_s, where = asyncio.run(price_rows(args.rows))
    print_table(["path", "records/s", "us/record", "note"], [
        ["batch: feed.on_trades (validate+aggregate+publish)", batch["feed"],
         1e6 / batch["feed"], f"{args.trades:,} trades, chunks of 100k"],
        ["batch: numba kernels only", batch["kernels"], 1e6 / batch["kernels"],
         "validate_trades + aggregate_trades"],
        ["live: feed.handle(TradeTick) one by one", live, 1e6 / live,
         f"{args.live_trades:,} trades, 1 subscriber"],
        ["ccxt: json + parse_ws_trade", ccxt_rates["parse_ws_trade"],
         1e6 / ccxt_rates["parse_ws_trade"], "per aggTrade frame"],
        ["ccxt: json + handle_message", ccxt_rates["handle_message"],
         1e6 / ccxt_rates["handle_message"], "parse + cache + resolve"],
        ["price_data via StoreWriter", rows_s or float("nan"),
         1e6 / rows_s if rows_s else float("nan"), f"{args.rows:,} bars; {where}"],
    ])
    emit("marketdata", {
        "trades_per_s": round(batch["feed"]),
        "kernel_trades_per_s": round(batch["kernels"]),
        "live_trades_per_s": round(live),
        "ccxt_ws_trade_parse_per_s": round(ccxt_rates["handle_message"]),
        "price_rows_per_s": None if rows_s is None else round(rows_s),
    })


if __name__ == "__main__":
    main()
