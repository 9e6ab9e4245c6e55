"""The Decimal of the last float price seen per symbol, shared by the parts that need it.

A trade price becomes money twice on the order path (the paper matcher's fill price, the
portfolio's mark that the risk checks read); sharing one :class:`DecimalPrices` converts it
once. A module of its own so that the compiled build (``engine.native``) makes the lookup a
native call from the compiled matcher and portfolio.
"""

from __future__ import annotations

from decimal import Decimal

from engine.model import to_decimal

__all__ = ["DecimalPrices"]


class DecimalPrices:
    """The Decimal of the last float price seen per symbol (see the module docstring)."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, Decimal]] = {}

    def get(self, symbol: str, price: float) -> Decimal:
        """The Decimal of ``price`` by its shortest round-trip text (``to_decimal``),
        converted once per new price of ``symbol``."""
        last = self._last.get(symbol)
        if last is not None and last[0] == price:
            return last[1]
        value = Decimal(repr(price)) if price.__class__ is float else to_decimal(price)
        self._last[symbol] = (price, value)
        return value

