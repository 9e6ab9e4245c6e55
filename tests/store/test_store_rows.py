"""Rows made from order events: the payload JSON and the timestamps, exactly."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import store_factories as f
from msgspec.structs import replace

from engine import events as ev
from engine import model as m
from engine.store.rows import RowMaker, dumps_json, ns_to_ts


def test_event_payloads_are_the_json_the_generic_encoder_writes() -> None:
    """msgspec writes order event payloads; parsed, they equal orjson's with the default
    hook (Decimals as strings, UUIDs, enums, the order as an object of its fields)."""
    maker = RowMaker(uuid.UUID(int=7))
    lifecycle = f.order_lifecycle(3)
    o = replace(lifecycle[0].order, limit_price=Decimal("101.25"), reject_reason="x\ty")
    payloads: list[dict[str, object]] = [
        {"decision_price": "101.5"}, {"reason": "too big", "source": "risk"},
        {"emulated": True}, {"trigger_price": "99"}, {}]
    events: list[ev.OrderEvent] = [*lifecycle]
    events += [ev.OrderAccepted(o, 9, 1_700_000_000_123_456_789, p) for p in payloads]
    for e in events:
        rows = dict(maker.rows(e))
        event_row = rows["order_events"]
        expected: dict[str, object] = {"order": e.order}
        if e.payload:
            expected["data"] = e.payload
        if isinstance(e, ev.OrderFilled):
            expected["fill_id"] = e.fill.id
        assert json.loads(event_row[5]) == json.loads(dumps_json(expected))
        assert json.loads(event_row[5])["order"]["qty"] == str(e.order.qty)


def test_timestamps_truncate_to_the_microsecond_whatever_came_before() -> None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for ns in (1_700_000_000_123_456_789, 1_700_000_000_123_456_789, 999, 0,
               1_700_000_000_123_456_000, -1_500, 1_700_000_000_123_456_789):
        assert ns_to_ts(ns) == epoch + timedelta(microseconds=ns // 1000)
    order_row = RowMaker(uuid.UUID(int=7)).order_row(
        f.order(1, status=m.OrderStatus.FILLED), 1_700_000_000_999_999_999)
    assert order_row[23] == datetime(2023, 11, 14, 22, 13, 20, 999_999, tzinfo=UTC)
