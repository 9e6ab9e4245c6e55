"""Stop orders emulated by the engine for venues that do not hold stops themselves.

A stop waits here until a trade at or through its stop price (a buy stop: price >= stop;
a sell stop: price <= stop; on a bar: its high/low, triggering at the open when the bar
gapped through). Then the OMS publishes ``OrderTriggered`` and sends the order to the venue
as a market (stop_loss) or limit (stop_limit) order under the same client order id.
"""

from __future__ import annotations

from decimal import Decimal

from engine.ids import ClientOrderId, Symbol
from engine.model import OrderSide
from engine.oms.book import Entry

__all__ = ["StopEmulator"]


class StopEmulator:
    """Armed emulated stops by symbol."""

    def __init__(self) -> None:
        self._armed: dict[Symbol, dict[ClientOrderId, Entry]] = {}
        self.symbols = self._armed.keys()
        """Symbols with an armed stop (a live view: ``symbol in stops.symbols``)."""

    def arm(self, entry: Entry) -> None:
        """Start watching ``entry``'s stop price."""
        order = entry.order
        self._armed.setdefault(order.symbol, {})[order.client_order_id] = entry

    def disarm(self, entry: Entry) -> None:
        """Stop watching (cancelled or triggered)."""
        armed = self._armed.get(entry.order.symbol)
        if armed is not None:
            armed.pop(entry.order.client_order_id, None)
            if not armed:
                del self._armed[entry.order.symbol]

    def triggered(
        self, symbol: Symbol, open_: Decimal, high: Decimal, low: Decimal
    ) -> list[tuple[Entry, Decimal]]:
        """Disarm and return the stops a price range triggers, with their trigger prices.

        For a single trade pass its price as ``open_``, ``high`` and ``low``.
        """
        armed = self._armed.get(symbol)
        if not armed:
            return []
        fired: list[tuple[Entry, Decimal]] = []
        for entry in list(armed.values()):
            order = entry.order
            stop = order.stop_price
            assert stop is not None
            if order.side is OrderSide.BUY and high >= stop:
                fired.append((entry, max(stop, open_)))
            elif order.side is OrderSide.SELL and low <= stop:
                fired.append((entry, min(stop, open_)))
        for entry, _ in fired:
            self.disarm(entry)
        return fired

    def __len__(self) -> int:
        return sum(len(v) for v in self._armed.values())
