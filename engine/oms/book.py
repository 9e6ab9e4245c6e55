"""The OMS's registry of orders: working ones by id, recent closed ones, open exposure.

Counting rules (what risk reads): a TWAP/VWAP parent counts as one open order and its
remaining quantity counts as open exposure; its children count for neither (their quantity
is the parent's). Closed orders stay findable (a late report must find its order to be
judged illegal) in a bounded most-recent list.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from decimal import Decimal
from typing import Final

from engine.ids import ClientOrderId, OrderId, StrategyId, Symbol
from engine.model import Order, OrderSide
from engine.native import mypyc_attr

__all__ = ["Entry", "OrderBook", "entry_for"]

_ZERO: Final = Decimal(0)
_BUY: Final = OrderSide.BUY


@mypyc_attr(acyclic=True)  # outside the cycle collector: its fields never lead back
class Entry:
    """The OMS's mutable record of one order: current version, last seq, how it is worked.

    Made by :func:`entry_for`; compared by identity. A plain class, so that the compiled
    build reads its fields directly (a native class), where a ``msgspec.Struct`` costs a
    generic attribute lookup per read.
    """

    __slots__ = ("buy", "cancel_sent_ns", "counted", "decision_price", "emulated",
                 "first_trade", "notional", "order", "qty", "routed_late", "seq",
                 "strategy_qty", "trade_ids", "triggered")

    def __init__(self, order: Order, decision_price: Decimal | None, emulated: str,
                 counted: bool, buy: bool, seq: int = 0) -> None:
        self.order = order
        self.decision_price = decision_price
        self.emulated = emulated  # "" venue order, "stop" emulated stop, "algo" TWAP/VWAP
        self.counted = counted  # counts in open orders and open qty (not a TWAP/VWAP child)
        self.buy = buy
        self.seq = seq
        self.triggered = False
        self.routed_late = False  # sent to the venue after the emulator accepted it
        self.cancel_sent_ns: int | None = None  # when a cancel last went to the venue
        self.notional = _ZERO
        # venue trade ids seen (duplicates are ignored): the first one, then the others
        self.first_trade: str | None = None
        self.trade_ids: set[str] | None = None
        # the book's [sell, buy] open quantities this order counts in (account, strategy)
        self.qty: list[Decimal] | None = None
        self.strategy_qty: list[Decimal] | None = None

    def __repr__(self) -> str:
        return f"Entry({self.order!r}, seq={self.seq}, emulated={self.emulated!r})"


def entry_for(order: Order, decision_price: Decimal | None, emulated: str = "") -> Entry:
    """A new entry for ``order`` (seq 0, not counted in the book yet)."""
    return Entry(order, decision_price, emulated, order.parent_id is None, order.side is _BUY)


class OrderBook:
    """Orders by client id and by id, with open counts and open quantity per side."""

    def __init__(self, keep_closed: int = 10_000) -> None:
        self._open: dict[ClientOrderId, Entry] = {}
        # keyed by the UUID's int: a UUID's __hash__ runs in Python, an int's does not
        self._by_id: dict[int, Entry] = {}
        # closed entries by client id and by id, and in closing order (the oldest go first)
        self._closed: dict[ClientOrderId, Entry] = {}
        self._closed_by_id: dict[int, Entry] = {}
        self._closed_order: deque[Entry] = deque()
        self._keep_closed = keep_closed
        self._count: dict[StrategyId | None, int] = {}
        self._total = 0
        # [sell, buy] per symbol (indexed by ``side is BUY``: an Enum's __hash__ runs in
        # Python), account-wide and per strategy
        self._qty: dict[Symbol, list[Decimal]] = {}
        self._strategy_qty: dict[StrategyId | None, dict[Symbol, list[Decimal]]] = {}
        # per strategy and symbol: (the account's cells, the strategy's cells)
        self._cells: dict[StrategyId | None, dict[Symbol, tuple[list[Decimal], list[Decimal]]]] = {}
        self.get_working = self._open.get
        """The entry of a working order by client order id (a dict lookup)."""

    # -- lookup ----------------------------------------------------------------------------

    def get(self, client_order_id: ClientOrderId) -> Entry | None:
        """The entry of a working or recently closed order."""
        entry = self._open.get(client_order_id)
        return entry if entry is not None else self._closed.get(client_order_id)

    def by_order_id(self, order_id: OrderId) -> Entry | None:
        """The entry of a working or recently closed order, by the engine's id."""
        key = order_id.int
        entry = self._by_id.get(key)
        return entry if entry is not None else self._closed_by_id.get(key)

    def working(self) -> Iterator[Entry]:
        """Entries of working orders (a snapshot: safe to change the book while iterating)."""
        return iter(list(self._open.values()))

    # -- counts read by risk ---------------------------------------------------------------

    def open_count(self, strategy_id: StrategyId | None = None, *, account: bool = True) -> int:
        """Working orders of the account (default) or of one strategy."""
        return self._total if account else self._count.get(strategy_id, 0)

    def open_qty(
        self, symbol: Symbol, side: OrderSide, strategy_id: StrategyId | None = None,
        *, account: bool = True,
    ) -> Decimal:
        """Unfilled quantity of working orders on one side, account-wide or per strategy."""
        if account:
            q = self._qty.get(symbol)
        else:
            per = self._strategy_qty.get(strategy_id)
            q = None if per is None else per.get(symbol)
        return _ZERO if q is None else q[side is _BUY]

    # -- changes ---------------------------------------------------------------------------

    def add(self, entry: Entry) -> None:
        """Register a new working order."""
        order = entry.order
        self._open[order.client_order_id] = entry
        self._by_id[order.id.int] = entry
        if entry.counted:
            sid = order.strategy_id
            self._count[sid] = self._count.get(sid, 0) + 1
            self._total += 1
            symbol = order.symbol
            per = self._cells.get(sid)
            cells = None if per is None else per.get(symbol)
            if cells is None:
                cells = self._new_cells(sid, symbol)
            entry.qty, entry.strategy_qty = q, sq = cells
            remaining = order.qty - order.filled_qty
            i = entry.buy
            q[i] += remaining
            sq[i] += remaining

    def add_closed(self, entry: Entry) -> None:
        """Register an order that never worked (rejected by risk)."""
        order = entry.order
        self._closed[order.client_order_id] = entry
        self._closed_by_id[order.id.int] = entry
        self._closed_order.append(entry)
        if len(self._closed_order) > self._keep_closed:
            self._forget_oldest()

    def _new_cells(self, sid: StrategyId | None,
                   symbol: Symbol) -> tuple[list[Decimal], list[Decimal]]:
        q = self._qty.get(symbol)
        if q is None:
            q = self._qty[symbol] = [_ZERO, _ZERO]
        sq = self._strategy_qty.setdefault(sid, {}).setdefault(symbol, [_ZERO, _ZERO])
        cells = self._cells.setdefault(sid, {})[symbol] = (q, sq)
        return cells

    def filled(self, entry: Entry, qty: Decimal, done: bool = False) -> None:
        """Account for a fill of a working order; ``done``: it is filled in full (closed)."""
        q = entry.qty
        if q is not None:
            i = entry.buy
            q[i] -= qty
            entry.strategy_qty[i] -= qty  # type: ignore[index]  # set with qty
        if done:
            self.close(entry, _ZERO)

    def close(self, entry: Entry, remaining: Decimal) -> None:
        """Move a working order to the closed list; ``remaining`` was still open."""
        order = entry.order
        cid = order.client_order_id
        if self._open.pop(cid, None) is None:
            return
        key = order.id.int
        del self._by_id[key]
        q = entry.qty
        if q is not None:
            self._count[order.strategy_id] -= 1
            self._total -= 1
            if remaining:
                i = entry.buy
                q[i] -= remaining
                entry.strategy_qty[i] -= remaining  # type: ignore[index]  # set with qty
        self._closed[cid] = entry
        self._closed_by_id[key] = entry
        fifo = self._closed_order
        fifo.append(entry)
        if len(fifo) > self._keep_closed:
            self._forget_oldest()

    def _forget_oldest(self) -> None:
        fifo = self._closed_order
        while len(fifo) > self._keep_closed:
            old = fifo.popleft()
            order = old.order
            if self._closed.get(order.client_order_id) is old:
                del self._closed[order.client_order_id]
                del self._closed_by_id[order.id.int]

    def __len__(self) -> int:
        return len(self._open)
