"""What both implementations of the records (:mod:`engine.model_native`,
:mod:`engine.model_struct`) do with their fields by name: ``replace``, ``repr``, and the
bar's equality key. Compiled with the hot modules (:mod:`engine.native`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["bar_key", "record_repr", "replaced_values"]


def record_repr(obj: object, fields: tuple[str, ...]) -> str:
    """``Type(field=value, ...)`` in ``fields`` order."""
    inner = ", ".join([f"{name}={getattr(obj, name)!r}" for name in fields])
    return f"{type(obj).__name__}({inner})"


def replaced_values(obj: object, fields: tuple[str, ...], changes: dict[str, Any]) -> list[Any]:
    """The field values of ``obj`` in constructor order, with ``changes`` applied; a
    TypeError names every unknown field (the ``replace`` of both implementations)."""
    unknown = set(changes) - set(fields)
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no fields {sorted(unknown)}")
    return [changes[name] if name in changes else getattr(obj, name) for name in fields]


def bar_key(bar: Any) -> tuple[Any, ...]:
    """A bar's fields as a tuple for equality and hashing, an unknown (NaN) value as None:
    two bars that both lack a VWAP are equal (a compiled bar stores its floats unboxed,
    so a NaN read twice is two objects, and NaN != NaN)."""
    return tuple([None if type(v) is float and v != v else v
                  for v in bar.values()])
