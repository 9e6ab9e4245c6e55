"""Builders of realistic engine objects for the store tests (deterministic, seedable)."""

from __future__ import annotations

import random
import uuid
from decimal import Decimal

import asyncpg

from engine import events as ev
from engine import model as m
from engine.ids import ClientOrderId, FillId, OrderId, StrategyId, Symbol, Venue, uuid7
from engine.store import queries
from engine.store.pool import connect

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z in ns
VENUE = Venue("binance")
SYMBOLS = [Symbol("BTC/USDT"), Symbol("ETH/USDT"), Symbol("SOL/USDT")]


def order(i: int = 0, *, status: m.OrderStatus = m.OrderStatus.OPEN, version: int = 1,
          filled: Decimal = Decimal(0), ts_ns: int | None = None) -> m.Order:
    oid = OrderId(uuid.UUID(int=(0x0190 << 112) | (i + 1)))
    created = T0 + i * 1_000_000
    return m.Order(
        id=oid, client_order_id=ClientOrderId(oid.hex), venue=VENUE,
        symbol=SYMBOLS[i % len(SYMBOLS)], side=m.OrderSide.BUY if i % 2 == 0 else m.OrderSide.SELL,
        type=m.OrderType.LIMIT, qty=Decimal("0.5"), created_ns=created,
        strategy_id=StrategyId("ema_cross"), limit_price=Decimal("42000.12345678"),
        status=status, filled_qty=filled,
        avg_fill_price=Decimal("42000.1") if filled else None,
        updated_ns=ts_ns or created, version=version)


def fill(o: m.Order, n: int, *, qty: Decimal = Decimal("0.1"),
         trade_id: str | None = None) -> m.Fill:
    return m.Fill(
        id=FillId(uuid7()), order_id=o.id, client_order_id=o.client_order_id, venue=o.venue,
        symbol=o.symbol, side=o.side, qty=qty, price=Decimal("42000.10000001"),
        ts_ns=T0 + 10_000_000 + n * 1000 + 789,
        exchange_trade_id=trade_id or f"T{o.id.hex[-6:]}-{n}",
        fee=Decimal("0.0000042"), fee_currency="BTC", liquidity=m.LiquiditySide.MAKER,
        strategy_id=o.strategy_id, decision_price=Decimal("42000"))


def order_lifecycle(i: int) -> list[ev.OrderEvent]:
    """submitted -> accepted -> filled (partial) -> filled (complete), seq 1..4."""
    o1 = order(i, status=m.OrderStatus.PENDING, version=1)
    o2 = o1.replace(status=m.OrderStatus.OPEN, version=2, updated_ns=o1.created_ns + 1000,
                 exchange_order_id=f"X{i}")
    f1 = fill(o2, 1, qty=Decimal("0.2"))
    o3 = o2.replace(status=m.OrderStatus.PARTIALLY_FILLED, filled_qty=Decimal("0.2"),
                 avg_fill_price=f1.price, version=3, updated_ns=f1.ts_ns)
    f2 = fill(o3, 2, qty=Decimal("0.3"))
    o4 = o3.replace(status=m.OrderStatus.FILLED, filled_qty=Decimal("0.5"), version=4,
                 updated_ns=f2.ts_ns)
    return [
        ev.OrderSubmitted(order=o1, seq=1, ts_ns=o1.created_ns),
        ev.OrderAccepted(order=o2, seq=2, ts_ns=o2.updated_ns, payload={"latency_ms": 3}),
        ev.OrderFilled(order=o3, seq=3, ts_ns=f1.ts_ns, fill=f1),
        ev.OrderFilled(order=o4, seq=4, ts_ns=f2.ts_ns, fill=f2),
    ]


def bar(i: int, symbol: Symbol = SYMBOLS[0], *, closed: bool = True) -> m.Bar:
    rnd = random.Random(i)
    base = 42000 + rnd.random() * 100
    return m.Bar(venue=VENUE, symbol=symbol, timeframe="1m", ts_ns=T0 + i * 60_000_000_000,
                 open=base, high=base + 10.5, low=base - 10.25, close=base + 0.1,
                 volume=rnd.random() * 5, vwap=base + 0.05, num_trades=rnd.randint(1, 900),
                 closed=closed)


def position(version: int, qty: str = "0.5") -> m.Position:
    return m.Position(venue=VENUE, symbol=SYMBOLS[0], qty=Decimal(qty),
                      avg_entry_price=Decimal("42000.1"), realized_pnl=Decimal("1.5"),
                      opened_ns=T0, updated_ns=T0 + version * 1000, version=version)


async def make_account(dsn: str) -> uuid.UUID:
    conn = await connect(dsn)
    try:
        return await queries.ensure_account(conn, name="acct", venue="binance", mode="paper",
                                            starting_cash=Decimal("10000"))
    finally:
        await conn.close()


async def count(dsn: str, sql: str, *args: object) -> int:
    conn: asyncpg.Connection = await connect(dsn)
    try:
        return int(await conn.fetchval(sql, *args))
    finally:
        await conn.close()
