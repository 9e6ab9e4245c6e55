"""A strategy's state as JSON: what ``on_save`` returns, handed to ``on_load`` on hot reload
and, through the ``strategy_state`` table, when the engine starts again.

The same text either way, so a strategy sees one form: dicts with string keys, lists,
strings, numbers, booleans and None. A ``Decimal`` is written as its string, a tuple as a
list, NaN as null; anything else JSON cannot hold is an error that names it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

__all__ = ["decode_state", "encode_state"]


def encode_state(state: Any) -> str:
    """The JSON text of what ``on_save`` returned; TypeError when JSON cannot hold it."""
    if not isinstance(state, dict):
        raise TypeError(f"on_save must return a dict, got {type(state).__name__}")
    try:
        return orjson.dumps(state, default=_default).decode()
    except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
        raise TypeError(f"on_save returned what JSON cannot hold: {exc}") from None


def decode_state(text: str) -> dict[str, Any]:
    """The state :func:`encode_state` wrote, as ``on_load`` receives it."""
    state = orjson.loads(text)
    if not isinstance(state, dict):
        raise TypeError(f"saved state is not a JSON object: {text[:80]!r}")
    return state


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")
