"""Rows made from order events: the payload JSON and the timestamps, exactly."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import store_factories as f

from engine import events as ev
from engine import model as m
from engine.store import queries
from engine.store.rows import RowMaker, dumps_json, ns_to_ts


def _expected_payload(e: ev.OrderEvent, before: m.Order | None) -> dict[str, object]:
    """What the event's payload must hold, written by the generic JSON encoder."""
    expected: dict[str, object]
    if before is None:
        expected = {"order": e.order}
    else:
        old, new = before.to_dict(), e.order.to_dict()
        expected = {"changes": {k: v for k, v in new.items() if old[k] != v}}
    if e.payload:
        expected["data"] = e.payload
    if isinstance(e, ev.OrderFilled):
        expected["fill_id"] = e.fill.id
    return json.loads(dumps_json(expected))  # type: ignore[no-any-return]


def test_event_payloads_hold_the_order_once_then_what_each_event_changed() -> None:
    """The submitted event stores the whole order, each later one the fields it changed
    (msgspec writes them; parsed, they equal orjson's with the default hook: Decimals as
    strings, UUIDs, enums); folded in order they give the order back. After a terminal
    event the maker forgets the order: a later event stores it whole again."""
    maker = RowMaker(uuid.UUID(int=7))
    lifecycle = f.order_lifecycle(3)
    o = lifecycle[0].order.replace(limit_price=Decimal("101.25"), reject_reason="x\ty")
    extra: list[dict[str, object]] = [
        {"decision_price": "101.5"}, {"reason": "too big", "source": "risk"},
        {"emulated": True}, {"trigger_price": "99"}, {}]
    events: list[ev.OrderEvent] = [*lifecycle]
    events += [ev.OrderAccepted(o, 9, 1_700_000_000_123_456_789, p) for p in extra]
    before: m.Order | None = None
    stored = []
    for e in events:
        payload = json.loads(dict(maker.rows(e))["order_events"][5])
        assert payload == _expected_payload(e, before)
        stored.append(payload)
        before = None if e.order.status.is_terminal else e.order
    assert stored[0]["order"]["qty"] == str(lifecycle[0].order.qty)
    assert stored[1]["changes"] == {"status": "open", "exchange_order_id": "X3",
                                    "updated_ns": lifecycle[1].order.updated_ns, "version": 2}
    assert "order" in stored[4] and stored[5]["changes"] == {}
    assert queries.fold_order_events(stored[:4]) == lifecycle[-1].order
    assert queries.fold_order_events(stored) == o
    assert queries.fold_order_events(stored[1:3]) is None  # no whole order to start from


def test_timestamps_truncate_to_the_microsecond_whatever_came_before() -> None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for ns in (1_700_000_000_123_456_789, 1_700_000_000_123_456_789, 999, 0,
               1_700_000_000_123_456_000, -1_500, 1_700_000_000_123_456_789):
        assert ns_to_ts(ns) == epoch + timedelta(microseconds=ns // 1000)
    order_row = RowMaker(uuid.UUID(int=7)).order_row(
        f.order(1, status=m.OrderStatus.FILLED), 1_700_000_000_999_999_999)
    assert order_row[23] == datetime(2023, 11, 14, 22, 13, 20, 999_999, tzinfo=UTC)


def test_a_batch_keeps_the_newest_version_of_each_key() -> None:
    """The merge path's dedupe: per key the newest (version, updated_at) wins, whatever the
    order of arrival; a UUID key (rows journaled by older versions) equals its hex."""
    from engine.store.flusher import _dedupe  # noqa: PLC0415 - the unit under test
    from engine.store.tables import SPECS  # noqa: PLC0415

    spec = SPECS["orders"]
    cols = spec.columns
    idx = {c: cols.index(c) for c in ("id", "version", "updated_at", "status")}
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def row(oid: uuid.UUID | str, version: int, status: str,
            minutes: int = 0) -> tuple[object, ...]:
        values: list[object] = [None] * len(cols)
        values[idx["id"]], values[idx["version"]], values[idx["status"]] = oid, version, status
        values[idx["updated_at"]] = t0 + timedelta(minutes=minutes)
        return tuple(values)

    a, b = uuid.UUID(int=1), uuid.UUID(int=2)
    rows = [row(a.hex, 2, "open"), row(b.hex, 1, "pending"), row(a, 3, "filled"),
            row(a.hex, 1, "pending"), row(b.hex, 1, "open", minutes=1)]
    out = _dedupe(spec, cols, rows)
    assert len(out) == 2
    kept = {r[idx["id"]] if isinstance(r[idx["id"]], str) else r[idx["id"]].hex: r for r in out}
    assert kept[a.hex][idx["status"]] == "filled"
    assert kept[b.hex][idx["status"]] == "open"  # same version: the later update wins

    positions = SPECS["positions"]
    pcols = positions.columns
    key = [pcols.index(c) for c in positions.key]

    def prow(account: uuid.UUID | str, qty: int) -> tuple[object, ...]:
        values: list[object] = [None] * len(pcols)
        values[key[0]], values[key[1]], values[key[2]] = account, "binance", "BTC/USDT"
        values[pcols.index("qty")] = qty
        values[pcols.index("version")] = qty
        values[pcols.index("updated_at")] = t0
        return tuple(values)

    acct = uuid.UUID(int=9)
    out = _dedupe(positions, pcols, [prow(acct, 1), prow(acct.hex, 2), prow(acct, 3)])
    assert [r[pcols.index("qty")] for r in out] == [3]
