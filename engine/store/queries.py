"""Reads (and the few direct writes) the engine makes outside the batched writer.

Start-up: :func:`ensure_account`, :func:`open_orders`, :func:`positions`,
:func:`last_bars`, :func:`order_seqs`. The ledger: :func:`order_from_ledger` (an order
rebuilt from its ``order_events``, :func:`fold_order_events`). Operator actions:
:func:`acknowledge_alert`, :func:`resolve_alert`, :func:`set_config`, :func:`get_config`,
:func:`create_api_key`.
Every call takes the pool (or a connection) and a ``timeout``.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, TypeAlias

import asyncpg
import msgspec
import orjson

from engine import model as m
from engine.ids import ClientOrderId, FillId, OrderId, StrategyId, Symbol, Venue, uuid7
from engine.model import datetime_to_ns
from engine.model_struct import Order as OrderStruct
from engine.oms.commands import AlgoParams, RestoredOrder
from engine.store.records import PerformanceHistory
from engine.store.rows import dumps_json

__all__ = [
    "acknowledge_alert",
    "create_api_key",
    "ensure_account",
    "fold_order_events",
    "get_config",
    "last_bars",
    "open_orders",
    "order_from_ledger",
    "order_seqs",
    "performance_history",
    "positions",
    "resolve_alert",
    "set_config",
    "strategy_states",
]

Executor: TypeAlias = "asyncpg.Pool | asyncpg.Connection"
OPEN_STATUSES: tuple[str, ...] = ("pending", "open", "partially_filled")


def _ns(value: datetime | None) -> int | None:
    return None if value is None else datetime_to_ns(value)


async def ensure_account(
    pool: Executor, *, name: str, venue: str, mode: Literal["paper", "live"],
    base_currency: str = "USDT", starting_cash: Decimal = Decimal(0), timeout: float = 10.0,
) -> uuid.UUID:
    """The id of the account (venue, name, mode), created with its portfolio if new.

    An existing account keeps its starting cash and currency.
    """
    row = await pool.fetchrow(
        """
        WITH ins AS (
            INSERT INTO accounts (id, name, venue, mode, base_currency, starting_cash)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (venue, name, mode) DO NOTHING
            RETURNING id
        )
        SELECT id FROM ins
        UNION ALL
        SELECT id FROM accounts WHERE venue = $3 AND name = $2 AND mode = $4
        LIMIT 1
        """,
        uuid7(), name, venue, mode, base_currency, starting_cash, timeout=timeout)
    assert row is not None
    account_id: uuid.UUID = row["id"]
    await pool.execute(
        "INSERT INTO portfolios (account_id, cash, equity) VALUES ($1, $2, $2) "
        "ON CONFLICT (account_id) DO NOTHING", account_id, starting_cash, timeout=timeout)
    return account_id


def _order(r: asyncpg.Record) -> m.Order:
    return m.Order(
        id=OrderId(r["id"]), client_order_id=ClientOrderId(r["client_order_id"]),
        venue=Venue(r["exchange"]), symbol=Symbol(r["symbol"]),
        side=m.OrderSide(r["side"]), type=m.OrderType(r["order_type"]), qty=r["qty"],
        created_ns=datetime_to_ns(r["created_at"]),
        strategy_id=StrategyId(r["strategy_id"]) if r["strategy_id"] is not None else None,
        time_in_force=m.TimeInForce(r["time_in_force"]), limit_price=r["limit_price"],
        stop_price=r["stop_price"], reduce_only=r["reduce_only"],
        parent_id=OrderId(r["parent_order_id"]) if r["parent_order_id"] else None,
        status=m.OrderStatus(r["status"]), filled_qty=r["filled_qty"],
        avg_fill_price=r["avg_fill_price"], fee=r["fee"], fee_currency=r["fee_currency"],
        exchange_order_id=r["exchange_order_id"], reject_reason=r["reject_reason"],
        updated_ns=datetime_to_ns(r["updated_at"]), version=r["version"],
    )


async def open_orders(pool: Executor, account_id: uuid.UUID, *,
                      timeout: float = 10.0) -> list[m.Order]:
    """The account's orders still working (pending, open, partially filled), oldest first."""
    rows = await pool.fetch(
        "SELECT * FROM orders WHERE account_id = $1 AND status = ANY($2::text[]) "
        "ORDER BY created_at, id", account_id, list(OPEN_STATUSES), timeout=timeout)
    return [_order(r) for r in rows]


async def order_seqs(pool: Executor, order_ids: Iterable[OrderId], *,
                     timeout: float = 10.0) -> dict[OrderId, int]:
    """The highest ``order_events.seq`` stored per order (to continue numbering)."""
    rows = await pool.fetch(
        "SELECT order_id, max(seq) AS seq FROM order_events WHERE order_id = ANY($1::uuid[]) "
        "GROUP BY order_id", list(order_ids), timeout=timeout)
    return {OrderId(r["order_id"]): r["seq"] for r in rows}


async def fills(pool: Executor, account_id: uuid.UUID, *,
                timeout: float = 60.0) -> list[m.Fill]:
    """Every fill of the account from the trades ledger, in execution order: the ledger the
    portfolio is rebuilt from at start-up."""
    rows = await pool.fetch(
        "SELECT * FROM trades WHERE account_id = $1 ORDER BY executed_at, recorded_at, id",
        account_id, timeout=timeout)
    return [
        m.Fill(id=FillId(r["id"]), order_id=OrderId(r["order_id"]),
               client_order_id=ClientOrderId(r["client_order_id"]), venue=Venue(r["exchange"]),
               symbol=Symbol(r["symbol"]), side=m.OrderSide(r["side"]), qty=r["qty"],
               price=r["price"], ts_ns=datetime_to_ns(r["executed_at"]),
               exchange_trade_id=r["exchange_trade_id"], fee=r["fee"],
               fee_currency=r["fee_currency"], liquidity=m.LiquiditySide(r["liquidity"]),
               strategy_id=StrategyId(r["strategy_id"]) if r["strategy_id"] else None,
               decision_price=r["decision_price"])
        for r in rows
    ]


async def performance_history(pool: Executor, account_id: uuid.UUID, today: date, *,
                              timeout: float = 10.0) -> PerformanceHistory:
    """The account's figures a restart carries on (``today``: the clock's day): the equity
    the previous day closed at (None when the engine did not close it), the high-water mark
    and max drawdown of its ``portfolios`` row, and the return of each closed day."""
    days = await pool.fetch(
        "SELECT day, pnl, equity_end FROM performance_daily WHERE account_id = $1 "
        "AND strategy_id = '' AND day < $2 ORDER BY day", account_id, today, timeout=timeout)
    row = await pool.fetchrow(
        "SELECT high_water_mark, max_drawdown FROM portfolios WHERE account_id = $1",
        account_id, timeout=timeout)
    returns = []
    for d in days:
        end = d["equity_end"]
        if end is not None and end - d["pnl"] > 0:  # as the tracker: pnl / start equity
            returns.append(float(d["pnl"] / (end - d["pnl"])))
    last = days[-1] if days else None
    return PerformanceHistory(
        day_start_equity=last["equity_end"] if last and last["day"] == today - timedelta(1)
        else None,
        high_water_mark=None if row is None else row["high_water_mark"],
        max_drawdown_pct=None if row is None else row["max_drawdown"],
        daily_returns=tuple(returns))


async def strategy_states(pool: Executor, account_id: uuid.UUID, *,
                          timeout: float = 10.0) -> dict[StrategyId, tuple[str, str]]:
    """Each strategy's last saved state: ``(class, state JSON text)`` by strategy id."""
    rows = await pool.fetch(
        "SELECT strategy_id, class, state::text AS state FROM strategy_state "
        "WHERE account_id = $1", account_id, timeout=timeout)
    return {StrategyId(r["strategy_id"]): (r["class"], r["state"]) for r in rows}


async def restorable_orders(pool: Executor, account_id: uuid.UUID, *,
                            timeout: float = 10.0) -> list[RestoredOrder]:
    """The working orders with what the OMS needs to carry on after a restart: the last
    event (seq and kind: ``triggered`` means an emulated stop already fired) and, for
    TWAP/VWAP parents, the schedule stored in their ``submitted`` event."""
    orders = await open_orders(pool, account_id, timeout=timeout)
    if not orders:
        return []
    ids = [o.id for o in orders]
    last = {r["order_id"]: r for r in await pool.fetch(
        "SELECT DISTINCT ON (order_id) order_id, seq, event_type FROM order_events "
        "WHERE order_id = ANY($1::uuid[]) ORDER BY order_id, seq DESC", ids, timeout=timeout)}
    submitted = {r["order_id"]: r for r in await pool.fetch(
        "SELECT order_id, payload, at FROM order_events "
        "WHERE order_id = ANY($1::uuid[]) AND event_type = 'submitted'", ids, timeout=timeout)}
    result = []
    for order in orders:
        event = last.get(order.id)
        sub = submitted.get(order.id)
        payload = _json(sub["payload"]) if sub is not None else {}
        data = payload.get("data") or {}  # the event's own payload (rows.py stores it there)
        algo = data.get("algo")
        decision = data.get("decision_price")
        result.append(RestoredOrder(
            order=order,
            last_seq=event["seq"] if event is not None else order.version,
            last_kind=event["event_type"] if event is not None else "submitted",
            algo=AlgoParams.from_payload(algo) if algo else None,
            algo_start_ns=datetime_to_ns(sub["at"]) if sub is not None else None,
            decision_price=Decimal(str(decision)) if decision is not None else None))
    return result


def fold_order_events(payloads: Iterable[Any]) -> m.Order | None:
    """An order as its ``order_events`` payloads (in ``seq`` order, JSON text or parsed)
    leave it: a payload with ``order`` holds the whole order (the ``submitted`` event, and
    the first event a writer stores for an order it has not seen), one with ``changes``
    only the fields that event changed. None when no payload holds a whole order."""
    state: dict[str, Any] | None = None
    for raw in payloads:
        payload = _json(raw)
        if "order" in payload:
            state = dict(payload["order"])
        elif state is not None:
            state.update(payload.get("changes") or {})
    if state is None:
        return None
    built = msgspec.convert(state, OrderStruct, strict=False)
    return m.Order(**built.to_dict())


async def order_from_ledger(pool: Executor, order_id: OrderId, *,
                            timeout: float = 10.0) -> m.Order | None:
    """The order rebuilt from the append-only ``order_events`` ledger alone (the
    ``orders`` table is a projection of it); None when it has no events."""
    rows = await pool.fetch("SELECT payload FROM order_events WHERE order_id = $1 ORDER BY seq",
                            order_id, timeout=timeout)
    return fold_order_events(r["payload"] for r in rows)


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        loaded = orjson.loads(value)
        return loaded if isinstance(loaded, dict) else {}
    return dict(value or {})


async def positions(pool: Executor, account_id: uuid.UUID, *, include_flat: bool = False,
                    timeout: float = 10.0) -> list[m.Position]:
    """The account's positions (non-flat unless ``include_flat``)."""
    rows = await pool.fetch(
        "SELECT * FROM positions WHERE account_id = $1 AND ($2 OR qty <> 0) "
        "ORDER BY exchange, symbol", account_id, include_flat, timeout=timeout)
    return [
        m.Position(venue=Venue(r["exchange"]), symbol=Symbol(r["symbol"]), qty=r["qty"],
                   avg_entry_price=r["avg_entry_price"], realized_pnl=r["realized_pnl"],
                   unrealized_pnl=r["unrealized_pnl"], fees=r["fees"],
                   opened_ns=_ns(r["opened_at"]), closed_ns=_ns(r["closed_at"]),
                   updated_ns=datetime_to_ns(r["updated_at"]), version=r["version"])
        for r in rows
    ]


async def last_bars(pool: Executor, *, exchange: str | None = None,
                    symbols: Sequence[str] | None = None, timeframe: str | None = None,
                    timeout: float = 10.0) -> dict[tuple[str, str, str], m.Bar]:
    """The newest stored bar per (exchange, symbol, timeframe), optionally filtered."""
    rows = await pool.fetch(
        "SELECT * FROM market_data_latest WHERE ($1::text IS NULL OR exchange = $1) "
        "AND ($2::text[] IS NULL OR symbol = ANY($2)) AND ($3::text IS NULL OR timeframe = $3)",
        exchange, list(symbols) if symbols is not None else None, timeframe, timeout=timeout)
    out: dict[tuple[str, str, str], m.Bar] = {}
    for r in rows:
        bar = m.Bar(venue=Venue(r["exchange"]), symbol=Symbol(r["symbol"]),
                    timeframe=r["timeframe"], ts_ns=datetime_to_ns(r["ts"]),
                    open=float(r["open"]), high=float(r["high"]), low=float(r["low"]),
                    close=float(r["close"]), volume=float(r["volume"]),
                    vwap=float(r["vwap"]) if r["vwap"] is not None else float("nan"),
                    num_trades=r["num_trades"] or 0)
        out[(bar.venue, bar.symbol, bar.timeframe)] = bar
    return out


async def acknowledge_alert(pool: Executor, alert_id: uuid.UUID, by: str, *,
                            timeout: float = 10.0) -> bool:
    """Mark an alert acknowledged; False if unknown or already acknowledged."""
    status = await pool.execute(
        "UPDATE alerts SET acknowledged_at = now(), acknowledged_by = $2 "
        "WHERE id = $1 AND acknowledged_at IS NULL", alert_id, by, timeout=timeout)
    return bool(status.endswith(" 1"))


async def resolve_alert(pool: Executor, alert_id: uuid.UUID, by: str, *,
                        timeout: float = 10.0) -> bool:
    """Mark an alert resolved (acknowledging it too if needed)."""
    status = await pool.execute(
        "UPDATE alerts SET resolved_at = now(), acknowledged_at = coalesce(acknowledged_at, "
        "now()), acknowledged_by = coalesce(acknowledged_by, $2) "
        "WHERE id = $1 AND resolved_at IS NULL", alert_id, by, timeout=timeout)
    return bool(status.endswith(" 1"))


async def set_config(pool: Executor, key: str, value: Any, *, updated_by: str,
                     timeout: float = 10.0) -> None:
    """Set a system_config value (any JSON-serialisable value)."""
    await pool.execute(
        "INSERT INTO system_config (key, value, updated_by) VALUES ($1, $2::jsonb, $3) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, "
        "updated_by = EXCLUDED.updated_by, updated_at = now()",
        key, dumps_json(value), updated_by, timeout=timeout)


async def get_config(pool: Executor, key: str, default: Any = None, *,
                     timeout: float = 10.0) -> Any:
    """A system_config value, or ``default``."""
    raw = await pool.fetchval("SELECT value FROM system_config WHERE key = $1", key,
                              timeout=timeout)
    return default if raw is None else orjson.loads(raw)


def hash_api_secret(secret: str) -> str:
    """The stored form of an API key secret (``sha256:<hex>``; secrets are random, 256-bit,
    so a fast hash is enough)."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


async def create_api_key(pool: Executor, *, name: str, permissions: Sequence[str],
                         account_id: uuid.UUID | None = None, rate_limit_per_minute: int = 60,
                         expires_at: datetime | None = None,
                         timeout: float = 10.0) -> tuple[str, str]:
    """Create an API key; returns ``(key_prefix, full_key)``. The full key is shown once and
    never stored: only its prefix and hash are."""
    prefix = "te_" + secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    await pool.execute(
        "INSERT INTO api_keys (id, account_id, key_prefix, secret_hash, name, permissions, "
        "rate_limit_per_minute, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        uuid7(), account_id, prefix, hash_api_secret(secret), name, list(permissions),
        rate_limit_per_minute, expires_at, timeout=timeout)
    return prefix, f"{prefix}.{secret}"
