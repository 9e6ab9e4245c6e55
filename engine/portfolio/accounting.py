"""Exact position accounting: average-cost positions kept as a cost basis, in Decimal.

A position keeps ``qty`` and ``cost`` (the signed money paid for what is held: > 0 long,
< 0 short). Buying or selling in the position's direction adds ``qty x price`` to the cost;
a fill against it releases the held cost in proportion and books the difference to realized
PnL; a fill larger than the position closes it and opens the rest the other way.

The one division (the share of cost a partial close releases) is rounded to ``1e-12``;
every other step is an exact addition or multiplication. So, for every position and every
sequence of fills, exactly::

    cost - realized == sum(signed qty x price over the fills)

which is what makes ``cash + position value == start + realized + unrealized - fees`` hold
to the last digit (see tests/portfolio). "Exact" assumes that no result needs more digits
than the decimal context holds (28 significant digits by default: e.g. amounts below 10^15
with 12 decimals, or prices with 8 and quantities with 8 decimals below 10^6); the
operators run in the thread's context because a ``Context`` method call costs six times an
operator here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from engine.ids import Symbol, Venue
from engine.model import Position

__all__ = ["FillTotals", "PositionState", "fill_totals"]

_ZERO: Final = Decimal(0)
_RELEASE_QUANTUM: Final = Decimal("1e-12")


class PositionState:
    """The mutable accounting of one position (account-wide or one strategy's share)."""

    __slots__ = ("closed_ns", "cost", "fees", "fills", "losses", "opened_ns", "qty", "realized",
                 "updated_ns", "version", "wins")

    def __init__(self) -> None:
        self.qty = _ZERO
        self.cost = _ZERO
        self.realized = _ZERO
        self.fees = _ZERO
        self.opened_ns: int | None = None
        self.closed_ns: int | None = None
        self.updated_ns = 0
        self.version = 0
        self.fills = 0  # fills booked; of those that closed exposure, at a profit / a loss
        self.wins = 0
        self.losses = 0

    def apply(self, signed_qty: Decimal, price: Decimal, fee: Decimal, ts_ns: int) -> Decimal:
        """Book a fill (``signed_qty`` > 0 bought); return the realized PnL it made."""
        q = self.qty
        realized = _ZERO
        if not q or (q > 0) is (signed_qty > 0):
            if not q:
                self.opened_ns = ts_ns
                self.closed_ns = None
            self.cost += signed_qty * price
            self.qty = q + signed_qty
        else:
            closing = signed_qty if abs(signed_qty) <= abs(q) else -q
            if closing == -q:
                released = self.cost
            else:
                released = (self.cost * -closing / q).quantize(_RELEASE_QUANTUM)
            realized = -(closing * price) - released
            self.cost -= released
            self.qty = q + closing
            rest = signed_qty - closing
            if not self.qty:
                self.cost = _ZERO
                self.closed_ns = ts_ns
            if rest:
                self.cost = rest * price
                self.qty = rest
                self.opened_ns = ts_ns
                self.closed_ns = None
            self.realized += realized
            if realized > _ZERO:
                self.wins += 1
            elif realized < _ZERO:
                self.losses += 1
        self.fills += 1
        self.fees += fee
        self.updated_ns = ts_ns
        self.version += 1
        return realized

    def copy(self) -> PositionState:
        """An independent copy."""
        new = PositionState()
        new.qty, new.cost, new.realized, new.fees = self.qty, self.cost, self.realized, self.fees
        new.opened_ns, new.closed_ns = self.opened_ns, self.closed_ns
        new.updated_ns, new.version = self.updated_ns, self.version
        new.fills, new.wins, new.losses = self.fills, self.wins, self.losses
        return new

    def avg_entry_price(self) -> Decimal:
        """Average entry price (display: rounded to 28 digits); 0 when flat."""
        return abs(self.cost / self.qty) if self.qty else _ZERO

    def unrealized(self, mark: Decimal | None) -> Decimal:
        """Unrealized PnL at ``mark`` (0 without a mark or when flat)."""
        if not self.qty or mark is None:
            return _ZERO
        return self.qty * mark - self.cost

    def to_position(self, venue: Venue, symbol: Symbol, mark: Decimal | None) -> Position:
        """The frozen :class:`Position` as it stands."""
        qty = self.qty
        if qty:
            return Position(
                venue, symbol, qty, abs(self.cost / qty), self.realized,
                _ZERO if mark is None else qty * mark - self.cost, self.fees, self.opened_ns,
                self.closed_ns, self.updated_ns, self.version or 1)
        return Position(venue, symbol, qty, _ZERO, self.realized, _ZERO, self.fees, None,
                        self.closed_ns, self.updated_ns, self.version or 1)


@dataclass(frozen=True, slots=True)
class FillTotals:
    """Positions' fill counters summed: fills booked, those that closed exposure at a
    profit / a loss, realized PnL (before fees) and fees. The account's (its positions) and
    each strategy's (its shares) day and all-time figures are differences and sums of these."""

    fills: int = 0
    wins: int = 0
    losses: int = 0
    realized: Decimal = _ZERO
    fees: Decimal = _ZERO

    def since(self, base: FillTotals) -> FillTotals:
        """What was booked after ``base`` was taken."""
        return FillTotals(self.fills - base.fills, self.wins - base.wins,
                          self.losses - base.losses, self.realized - base.realized,
                          self.fees - base.fees)


def fill_totals(states: Iterable[PositionState]) -> FillTotals:
    """The counters of ``states`` summed."""
    fills = wins = losses = 0
    realized = fees = _ZERO
    for s in states:
        fills += s.fills
        wins += s.wins
        losses += s.losses
        realized += s.realized
        fees += s.fees
    return FillTotals(fills, wins, losses, realized, fees)
