"""Orders, fills and bars have two implementations with one contract: the native classes of
``engine.model_native`` (compiled in the compiled build, plain classes otherwise) and the
msgspec structs of ``engine.model_struct`` (what pure Python uses). Both are checked here,
field for field, against each other."""

from __future__ import annotations

import copy
import math
import pickle
import uuid
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from engine import model, model_native, model_struct
from engine.ids import ClientOrderId, FillId, OrderId, StrategyId, Symbol, Venue
from engine.model import LiquiditySide, OrderSide, OrderStatus, OrderType, TimeInForce
from engine.model_diff import changed_fields
from engine.mqtt import event_json
from engine.store.rows import dumps_json

IMPLEMENTATIONS = [model_native, model_struct]
IDS = ["native", "struct"]

ORDER_ARGS: tuple[Any, ...] = (
    OrderId(uuid.UUID(int=1)), ClientOrderId("c1"), Venue("paper"), Symbol("BTC/USDT"),
    OrderSide.SELL, OrderType.LIMIT, Decimal("0.5"), 1_700_000_000_000_000_000)
FILL_ARGS: tuple[Any, ...] = (
    FillId(uuid.UUID(int=2)), OrderId(uuid.UUID(int=1)), ClientOrderId("c1"), Venue("paper"),
    Symbol("BTC/USDT"), OrderSide.BUY, Decimal("0.2"), Decimal("100.5"), 5, "T1")
BAR_ARGS: tuple[Any, ...] = (Venue("paper"), Symbol("BTC/USDT"), "1m", 60_000_000_000, 100.0,
                             101.5, 99.25, 100.5, 3.5)


def test_the_model_uses_the_native_classes_exactly_when_they_are_compiled() -> None:
    compiled = not (model_native.__file__ or "").endswith(".py")
    assert (model.Order is model_native.Order) is compiled
    assert (model.Order is model_struct.Order) is not compiled
    assert (model.Fill is model_native.Fill) is compiled
    assert (model.Bar is model_native.Bar) is compiled


def test_same_fields_and_defaults() -> None:
    native, struct = model_native, model_struct
    assert native.Order.FIELDS == struct.Order.FIELDS == struct.Order.__struct_fields__
    assert native.Fill.FIELDS == struct.Fill.FIELDS == struct.Fill.__struct_fields__
    assert native.Order(*ORDER_ARGS).to_dict() == struct.Order(*ORDER_ARGS).to_dict()
    assert native.Fill(*FILL_ARGS).to_dict() == struct.Fill(*FILL_ARGS).to_dict()
    assert native.Bar.FIELDS == struct.Bar.FIELDS == struct.Bar.__struct_fields__
    nb, sb = native.Bar(*BAR_ARGS).to_dict(), struct.Bar(*BAR_ARGS).to_dict()
    assert math.isnan(nb.pop("vwap")) and math.isnan(sb.pop("vwap")) and nb == sb
    assert (nb["num_trades"], nb["closed"]) == (0, True)
    order = native.Order(*ORDER_ARGS)
    assert list(order.to_dict()) == list(native.Order.FIELDS)
    assert (order.status, order.time_in_force, order.filled_qty, order.version) == (
        OrderStatus.PENDING, TimeInForce.GTC, Decimal(0), 1)
    assert native.Fill(*FILL_ARGS).liquidity is LiquiditySide.TAKER


def test_keyword_construction_matches_positional() -> None:
    for impl in IMPLEMENTATIONS:
        by_name = impl.Order(**dict(zip(impl.Order.FIELDS, ORDER_ARGS, strict=False)),
                             strategy_id=StrategyId("s"))
        assert by_name == impl.Order(*ORDER_ARGS, StrategyId("s"))


def _versions(impl: Any) -> list[dict[str, Any]]:
    o = impl.Order(*ORDER_ARGS)
    accepted = o.accepted(OrderStatus.OPEN, "X1", 10, 2)
    filled = accepted.filled(OrderStatus.PARTIALLY_FILLED, Decimal("0.2"), Decimal("100.5"),
                             Decimal("0.01"), "USDT", 11, 3)
    return [v.to_dict() for v in (
        accepted, accepted.with_exchange_id("X2"), filled, filled.touched(12, 4),
        filled.closed(OrderStatus.CANCELLED, None, 13, 5),
        o.closed(OrderStatus.REJECTED, "too big", 14, 1),
        o.replace(type=OrderType.MARKET, limit_price=None))]


def test_version_methods_agree_and_change_only_their_fields() -> None:
    native, struct = _versions(model_native), _versions(model_struct)
    assert native == struct
    accepted, renamed, filled, touched, cancelled, rejected, replaced = native
    assert (accepted["status"], accepted["exchange_order_id"], accepted["updated_ns"],
            accepted["version"]) == (OrderStatus.OPEN, "X1", 10, 2)
    assert renamed == {**accepted, "exchange_order_id": "X2"}
    assert filled == {**accepted, "status": OrderStatus.PARTIALLY_FILLED,
                      "filled_qty": Decimal("0.2"), "avg_fill_price": Decimal("100.5"),
                      "fee": Decimal("0.01"), "fee_currency": "USDT", "updated_ns": 11,
                      "version": 3}
    assert touched == {**filled, "updated_ns": 12, "version": 4}
    assert cancelled == {**filled, "status": OrderStatus.CANCELLED, "updated_ns": 13,
                         "version": 5}
    assert rejected["reject_reason"] == "too big" and rejected["version"] == 1
    assert replaced["type"] is OrderType.MARKET and replaced["limit_price"] is None


@pytest.mark.parametrize("impl", IMPLEMENTATIONS, ids=IDS)
def test_values_are_the_fields_in_order(impl: Any) -> None:
    """``values()`` (equality, hashing, pickling, changed_fields) lists what ``to_dict()``
    names, field for field."""
    for record in (impl.Order(*ORDER_ARGS), impl.Fill(*FILL_ARGS), impl.Bar(*BAR_ARGS)):
        assert list(record.to_dict()) == list(type(record).FIELDS)
        by_name = tuple(getattr(record, f) for f in type(record).FIELDS)
        for values in (record.values(), tuple(record.to_dict().values())):
            # the bar's vwap is NaN: a compiled bar makes a new float object per read
            assert all(a == b or (a != a and b != b)
                       for a, b in zip(values, by_name, strict=True))


@pytest.mark.parametrize("impl", IMPLEMENTATIONS, ids=IDS)
def test_changed_fields_names_what_a_new_version_changed(impl: Any) -> None:
    """What the store writes for an order event after the first (``engine.model_diff``)."""
    order = impl.Order(*ORDER_ARGS)
    accepted = order.accepted(OrderStatus.OPEN, "X1", 10, 2)
    filled = accepted.filled(OrderStatus.FILLED, Decimal("0.5"), Decimal("100.5"),
                             Decimal("0.01"), "USDT", 11, 3)
    assert changed_fields(accepted, order) == {"status": OrderStatus.OPEN,
                                               "exchange_order_id": "X1", "updated_ns": 10,
                                               "version": 2}
    assert changed_fields(filled, accepted) == {
        "status": OrderStatus.FILLED, "filled_qty": Decimal("0.5"),
        "avg_fill_price": Decimal("100.5"), "fee": Decimal("0.01"), "fee_currency": "USDT",
        "updated_ns": 11, "version": 3}
    assert changed_fields(order, order) == {}
    equal = order.replace(qty=Decimal("0.50"))  # equal values, another object: no change
    assert changed_fields(equal, order) == {}
    # a carried-over field changed too (not how the OMS makes versions): every field counts
    resized = accepted.replace(qty=Decimal("2"), version=3)
    assert changed_fields(resized, accepted) == {"qty": Decimal("2"), "version": 3}
    assert changed_fields(filled, order) == {
        "status": OrderStatus.FILLED, "filled_qty": Decimal("0.5"),
        "avg_fill_price": Decimal("100.5"), "fee": Decimal("0.01"), "fee_currency": "USDT",
        "exchange_order_id": "X1", "updated_ns": 11, "version": 3}


@pytest.mark.parametrize("impl", IMPLEMENTATIONS, ids=IDS)
def test_frozen(impl: Any) -> None:
    order, fill = impl.Order(*ORDER_ARGS), impl.Fill(*FILL_ARGS)
    bar = impl.Bar(*BAR_ARGS)
    for obj, name in ((order, "qty"), (order, "status"), (fill, "price"), (bar, "close")):
        with pytest.raises(AttributeError):
            setattr(obj, name, Decimal(1))
        with pytest.raises(AttributeError):
            delattr(obj, name)
    assert order.qty == Decimal("0.5") and fill.price == Decimal("100.5")


@pytest.mark.parametrize("impl", IMPLEMENTATIONS, ids=IDS)
def test_value_semantics(impl: Any) -> None:
    a, b = impl.Order(*ORDER_ARGS), impl.Order(*ORDER_ARGS)
    assert a == b and hash(a) == hash(b) and (a != b) is False
    assert a != a.replace(version=2) and a != a.to_dict()
    assert impl.Fill(*FILL_ARGS) == impl.Fill(*FILL_ARGS)
    assert impl.Fill(*FILL_ARGS) != impl.Fill(*FILL_ARGS).replace(fee=Decimal(1))
    for obj in (a, impl.Fill(*FILL_ARGS), impl.Bar(*BAR_ARGS)):
        assert pickle.loads(pickle.dumps(obj)) == obj
        assert copy.copy(obj) == obj and copy.deepcopy(obj) == obj
    with pytest.raises(TypeError, match="no fields"):
        a.replace(price=Decimal(1))


def test_repr_and_encodings_agree() -> None:
    native = (model_native.Order(*ORDER_ARGS), model_native.Fill(*FILL_ARGS))
    struct = (model_struct.Order(*ORDER_ARGS), model_struct.Fill(*FILL_ARGS))
    for n, s in zip(native, struct, strict=True):
        assert repr(n) == repr(s)
        assert dumps_json(n) == dumps_json(s)
        assert event_json(n) == event_json(s)
        assert msgspec.json.decode(event_json(n))["id"] == str(n.id)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS, ids=IDS)
def test_derived_values(impl: Any) -> None:
    order = impl.Order(*ORDER_ARGS).filled(OrderStatus.PARTIALLY_FILLED, Decimal("0.2"),
                                           Decimal("100"), Decimal(0), None, 1, 2)
    assert order.remaining_qty == Decimal("0.3")
    assert order.signed_qty == Decimal("-0.5")
    assert impl.Fill(*FILL_ARGS).value == Decimal("20.10")


@pytest.mark.parametrize("impl", IMPLEMENTATIONS, ids=IDS)
def test_bars_lacking_a_vwap_are_equal(impl: Any) -> None:
    """NaN (no VWAP) equals NaN in a bar: a compiled bar's floats are unboxed, so each read
    of its NaN is a new object; equality must not depend on that."""
    a, b = impl.Bar(*BAR_ARGS), impl.Bar(*BAR_ARGS, float("nan"))
    assert a == b and hash(a) == hash(b) and {a, b} == {a}
    assert a != a.replace(close=100.75) and a != a.replace(vwap=100.2)
    assert a.replace(vwap=100.2) == b.replace(vwap=100.2)


def test_bar_encodings_agree() -> None:
    native, struct = model_native.Bar(*BAR_ARGS), _struct_bar()
    assert repr(native) == repr(struct)
    assert dumps_json(native) == dumps_json(struct)
    assert event_json(native) == event_json(struct)
    assert msgspec.json.decode(event_json(native))["vwap"] is None


def _struct_bar() -> Any:
    return model_struct.Bar(*BAR_ARGS)
