"""Typed identifiers and time-ordered UUIDs (RFC 9562 version 7).

The engine makes every id itself, so it never waits for the database to learn one.
UUIDv7 puts the millisecond timestamp in the high bits, so ids sort by creation time
and index well in PostgreSQL.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import NewType

Symbol = NewType("Symbol", str)
"""A unified ccxt symbol such as ``BTC/USDT``."""

Venue = NewType("Venue", str)
"""An exchange name as ccxt spells it (``binance``), or ``paper``/``replay``."""

StrategyId = NewType("StrategyId", str)
"""The configured name of a strategy instance (unique per engine)."""

OrderId = NewType("OrderId", uuid.UUID)
"""The engine's own id of an order (UUIDv7)."""

ClientOrderId = NewType("ClientOrderId", str)
"""The id the venue sees; unique, idempotency key of a submission."""

FillId = NewType("FillId", uuid.UUID)
"""The engine's own id of a fill (a row in the trades ledger)."""


def uuid7(unix_ms: int | None = None) -> uuid.UUID:
    """Return a new UUIDv7: 48-bit Unix milliseconds, version, 74 random bits."""
    ms = time.time_ns() // 1_000_000 if unix_ms is None else unix_ms
    rand = int.from_bytes(os.urandom(10), "big")
    rand_a = rand >> 62 & 0x0FFF  # 12 bits
    rand_b = rand & 0x3FFF_FFFF_FFFF_FFFF  # 62 bits
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return uuid.UUID(int=value)


def uuid7_ms(value: uuid.UUID) -> int:
    """Return the Unix milliseconds embedded in a UUIDv7."""
    return value.int >> 80


def new_order_id() -> OrderId:
    """A fresh time-ordered order id."""
    return OrderId(uuid7())


def client_order_id_for(order_id: OrderId) -> ClientOrderId:
    """The client order id sent to venues: the order id's 32 hex digits.

    Derived from the order id, so a retried submission of the same order carries the same
    client id and the venue can reject the duplicate.
    """
    return ClientOrderId(order_id.hex)
