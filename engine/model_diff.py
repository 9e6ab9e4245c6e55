"""What changed between two versions of a record (an order, a fill: anything with
``FIELDS`` and ``values()``).

The store writes, for every order event after the first, only the fields that event
changed; compiled (:mod:`engine.native`), ``values()`` reads the native fields directly.
"""

from __future__ import annotations

from typing import Any

__all__ = ["changed_fields"]


def changed_fields(new: Any, old: Any) -> dict[str, Any]:
    """``new``'s fields whose values differ from ``old``'s, by name in ``FIELDS`` order.
    (NaN differs from itself: meant for orders and fills, whose fields hold no floats.)"""
    names: tuple[str, ...] = new.FIELDS
    now: tuple[Any, ...] = new.values()
    then: tuple[Any, ...] = old.values()
    out: dict[str, Any] = {}
    for i in range(len(names)):  # indexed: no tuple made per field
        value = now[i]
        before = then[i]
        if value is not before and value != before:
            out[names[i]] = value
    return out
