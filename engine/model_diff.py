"""What changed between two versions of a record (an order, a fill: anything with
``FIELDS``).

The store writes, for every order event after the first, only the fields that event
changed; compiled (:mod:`engine.native`), the comparison reads the native fields directly.
"""

from __future__ import annotations

from typing import Any

__all__ = ["changed_fields"]


def changed_fields(new: Any, old: Any) -> dict[str, Any]:
    """``new``'s fields whose values differ from ``old``'s, by name in ``FIELDS`` order.
    (NaN differs from itself: meant for orders and fills, whose fields hold no floats.)"""
    out: dict[str, Any] = {}
    for name in new.FIELDS:
        value = getattr(new, name)
        before = getattr(old, name)
        if value is not before and value != before:
            out[name] = value
    return out
