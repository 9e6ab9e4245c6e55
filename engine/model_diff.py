"""What changed between two versions of a record (an order, a fill: anything with
``FIELDS``).

The store writes, for every order event after the first, only the fields that event
changed; compiled (:mod:`engine.native`), the comparison reads the native fields directly.
"""

from __future__ import annotations

from typing import Any

from engine.model_native import Order

__all__ = ["changed_fields"]


def changed_fields(new: Any, old: Any) -> dict[str, Any]:
    """``new``'s fields whose values differ from ``old``'s, by name in ``FIELDS`` order.
    (NaN differs from itself: meant for orders and fills, whose fields hold no floats.)"""
    if type(new) is Order and type(old) is Order and _same_identity(new, old):
        return _order_changes(new, old)
    out: dict[str, Any] = {}
    for name in new.FIELDS:
        value = getattr(new, name)
        before = getattr(old, name)
        if value is not before and value != before:
            out[name] = value
    return out


def _same_identity(new: Order, old: Order) -> bool:
    """Whether the fields an order's new versions carry over (``Order._with``: all before
    ``status``) are the very same objects, as they are from one OMS version to the next."""
    return (new.id is old.id and new.client_order_id is old.client_order_id
            and new.venue is old.venue and new.symbol is old.symbol and new.side is old.side
            and new.type is old.type and new.qty is old.qty
            and new.created_ns == old.created_ns and new.strategy_id is old.strategy_id
            and new.time_in_force is old.time_in_force and new.limit_price is old.limit_price
            and new.stop_price is old.stop_price and new.reduce_only is old.reduce_only
            and new.parent_id is old.parent_id)


def _order_changes(new: Order, old: Order) -> dict[str, Any]:
    """:func:`changed_fields` of two versions of one order whose carried-over fields are
    the same objects: only the fields a version may change are compared (native reads in
    the compiled build, where the generic loop pays a name lookup per field)."""
    out: dict[str, Any] = {}
    if _differs(new.status, old.status):
        out["status"] = new.status
    if _differs(new.filled_qty, old.filled_qty):
        out["filled_qty"] = new.filled_qty
    if _differs(new.avg_fill_price, old.avg_fill_price):
        out["avg_fill_price"] = new.avg_fill_price
    if _differs(new.fee, old.fee):
        out["fee"] = new.fee
    if _differs(new.fee_currency, old.fee_currency):
        out["fee_currency"] = new.fee_currency
    if _differs(new.exchange_order_id, old.exchange_order_id):
        out["exchange_order_id"] = new.exchange_order_id
    if _differs(new.reject_reason, old.reject_reason):
        out["reject_reason"] = new.reject_reason
    if new.updated_ns != old.updated_ns:
        out["updated_ns"] = new.updated_ns
    if new.version != old.version:
        out["version"] = new.version
    return out


def _differs(value: object, before: object) -> bool:
    return value is not before and value != before
