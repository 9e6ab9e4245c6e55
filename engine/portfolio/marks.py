"""Lazy equity marks: the price range within which a mark cannot change anything.

A mark evaluates equity (Decimal) and feeds the performance tracker and the risk guards. Both
say, after each exact mark, the equity range and the time before which a mark changes
nothing but the last equity (``equity_bounds``: drawdown floor, high-water mark, guard
bounds, the day's end). With the cash and the open positions fixed, equity moves only with
the marks, so that equity range becomes a price range per open symbol; a mark whose close
stays inside its symbol's range is skipped (the float close is kept as the mark), any other
mark is evaluated exactly, as before. With several open symbols each one gets an equal
share of the slack, so that together they cannot leave the equity range either.

The ranges are shrunk by far more than the rounding of the float and Decimal arithmetic, so
every mark where the exact computation could act is evaluated exactly: guards trip, the
high-water mark and the deepest drawdown move on exactly the same marks as when every mark
is evaluated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Final, Protocol

from engine.ids import Symbol
from engine.portfolio.accounting import PositionState

if TYPE_CHECKING:
    from engine.portfolio.performance import PerformanceTracker

__all__ = ["EquityGuard", "LazyMarks", "price_bounds"]

_INF: Final = float("inf")
_NEG_INF: Final = Decimal("-Infinity")
_ZERO: Final = Decimal(0)
_ALWAYS: Final = (_INF, -_INF)  # an empty range: every mark of the symbol is evaluated
_SHRINK: Final = 1 - 1e-9  # relative, on each price distance: float rounding is ~1e-16
_GROW: Final = 1 + 1e-9  # the same, for a distance to a bound on the far side of the close
_PRICE_ULPS: Final = 1e-12  # relative to the price: repr/Decimal/float round trips are ~1e-16
_DECIMAL_ULPS: Final = 1e-24  # relative to cash + gross value: 28-digit Decimal rounding


class EquityGuard(Protocol):
    """An equity listener that says where it could act (the risk engine's guards)."""

    def on_equity(self, ts_ns: int, equity: Decimal) -> None:
        """A mark of equity."""
        ...

    def equity_bounds(self) -> tuple[Decimal, Decimal, int]:
        """``(floor, ceiling, until_ns)``: ``on_equity`` does nothing while equity is above
        ``floor`` and at most ``ceiling`` and the mark's time is before ``until_ns``."""
        ...

    def watch_bounds(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` when the bounds change other than on a mark."""
        ...


def _magnitude(value: Decimal) -> float:
    """A float at least ``abs(value)`` (finite values)."""
    return 10.0 ** (value.adjusted() + 1) if value else 0.0


def price_bounds(
    open_positions: Mapping[Symbol, PositionState], marks: Mapping[Symbol, float],
    cash: Decimal, equity: Decimal, floor: Decimal, ceiling: Decimal,
) -> dict[Symbol, tuple[float, float]]:
    """Per open symbol, the open interval of closes within which equity stays strictly
    between ``floor`` and ``ceiling`` (``equity`` is its value at ``marks``; it may itself
    be outside: the interval then excludes the current close)."""
    if not open_positions:
        return {}
    n = len(open_positions)
    # an upper bound of |cash| + gross value from the Decimal exponents (a float() of a
    # Decimal goes through its text: a microsecond each)
    scale = _magnitude(cash)
    qtys: list[tuple[Symbol, float, float | None]] = []
    for symbol, state in open_positions.items():
        p = marks.get(symbol)
        q = float(state.qty)
        qtys.append((symbol, q, p))
        scale += _magnitude(state.cost) if p is None else abs(q * p)
    eps = scale * _DECIMAL_ULPS
    # negative when equity is already at or beyond a bound: the range then lies on the
    # inner side of it, away from the current close
    up = (float(ceiling - equity) - eps) / n
    down = (float(equity - floor) - eps) / n
    out: dict[Symbol, tuple[float, float]] = {}
    for symbol, q, p in qtys:
        if p is None:  # valued at cost until its first price: that mark is exact
            out[symbol] = _ALWAYS
            continue
        rise, fall = (up, down) if q > 0 else (down, up)
        q = abs(q)
        rise, fall = rise / q, fall / q
        margin = abs(p) * _PRICE_ULPS
        out[symbol] = (p - fall * (_SHRINK if fall > 0 else _GROW) + margin,
                       p + rise * (_SHRINK if rise > 0 else _GROW) - margin)
    return out


class LazyMarks:
    """Mixin of :class:`~engine.portfolio.portfolio.Portfolio`: marks, lazy where possible."""

    # Set by Portfolio.__init__; declared here, where the marks use them (mypyc compiles
    # both classes and needs every attribute declared on the class that reads it).
    cash: Decimal
    last_ts: int
    performance: PerformanceTracker
    _open: dict[Symbol, PositionState]
    _marks: dict[Symbol, float]
    _dec: dict[Symbol, Decimal]
    _equity: Decimal | None
    _to_decimal: Callable[[str, float], Decimal]
    _equity_listeners: list[Callable[[int, Decimal], None]]
    _guards: list[EquityGuard]
    _bounds: dict[Symbol, tuple[float, float]]
    _lazy_until: int
    _pending_ts: int | None
    _pending_marks: dict[Symbol, float | None]
    _worst: float | None
    _worst_base: float
    _worst_long: bool
    _next_mark: int
    _next_snapshot: int
    _mark_ns: int

    def mark(self, ts: int) -> Decimal:
        """Provided by Portfolio."""
        raise NotImplementedError

    def equity(self) -> Decimal:
        """Provided by Portfolio."""
        raise NotImplementedError

    def position_value(self) -> Decimal:
        """Provided by Portfolio."""
        raise NotImplementedError

    def add_guard(self, guard: EquityGuard) -> None:
        """Call ``guard.on_equity(ts_ns, equity)`` on every mark where it could act (by its
        ``equity_bounds``), before the equity listeners (the risk engine's guards)."""
        self._guards.append(guard)
        guard.watch_bounds(self.invalidate)
        self.invalidate()

    def invalidate(self) -> None:
        """Evaluate the next mark exactly (cash, positions or a guard's bounds changed)."""
        self._lazy_until = 0

    def settle(self) -> None:
        """Bring the performance tracker up to the last mark (before reading it)."""
        if self._pending_ts is not None:
            self._settle()

    def drawdown_pct(self) -> Decimal:
        """Current drawdown from the high-water mark, percent (as of the last mark)."""
        self.settle()
        return self.performance.drawdown_pct()

    def _set_mark(self, symbol: Symbol, price: float, ts: int) -> None:
        b = self._bounds.get(symbol)
        if ts >= self._next_mark:
            if ts < self._lazy_until and (b is None or b[0] < price < b[1]):
                w = self._worst
                if w is not None and b is not None and (
                        price < w if self._worst_long else price > w):
                    self._worst = price
                self._next_mark = ts + self._mark_ns
                self.last_ts = self._pending_ts = ts  # nothing can act: keep the close only
                self._pending_marks.clear()  # the marks as they are now are this mark's
            elif self._pending_ts is not None and ts >= self.performance.day_end_ns:
                self._settle()  # the day closes with the last lazy mark's equity
        else:
            w = self._worst
            if b is not None and (not b[0] < price < b[1] or (w is not None and (
                    price < w if self._worst_long else price > w))):
                self._lazy_until = 0  # the next mark is due later: make it exact
            if self._pending_ts is not None and symbol in self._open:
                self._pending_marks.setdefault(symbol, self._marks.get(symbol))
        if self._marks.get(symbol) != price:
            self._marks[symbol] = price
            self._forget_decimal(symbol)
            if symbol in self._open:
                self._equity = None
        if ts >= self._next_mark:
            self.mark(ts)

    def _forget_decimal(self, symbol: Symbol) -> None:
        # not _dec.pop(symbol, None): a generic method call, on every mark of a price
        if symbol in self._dec:
            del self._dec[symbol]

    def _settle(self) -> None:
        """Record the last lazy mark's equity (at the marks of that moment)."""
        self._apply_worst()
        ts, self._pending_ts = self._pending_ts, None
        held, self._pending_marks = self._pending_marks, {}
        assert ts is not None
        self.performance.settle(ts, self._equity_at(held) if held else self.equity())

    def _apply_worst(self) -> None:
        """Give the performance tracker the deepest drawdown of the skipped marks: with one
        open symbol and an unchanged high-water mark it is at the worst close."""
        w = self._worst
        if w is not None and w != self._worst_base:
            ((symbol, state),) = self._open.items()
            # position_value() of the one open symbol at the worst close, step for step
            self.performance.drawdown_at(self.cash + (_ZERO + state.qty * self._to_decimal(
                symbol, w)))
        self._worst = None

    def _equity_at(self, marks: dict[Symbol, float | None]) -> Decimal:
        now = {symbol: self._marks.get(symbol) for symbol in marks}
        self._set_marks(marks)
        equity = self.cash + self.position_value()
        self._set_marks(now)
        return equity

    def _set_marks(self, marks: dict[Symbol, float | None]) -> None:
        for symbol, price in marks.items():
            if price is None:
                self._marks.pop(symbol, None)
            else:
                self._marks[symbol] = price
            self._forget_decimal(symbol)
        self._equity = None

    def _set_bounds(self, equity: Decimal) -> None:
        """After an exact mark: until when, and within which closes, marks may be lazy."""
        if self._equity_listeners:
            self._lazy_until = 0
            return
        floor, ceiling, until = self.performance.equity_bounds()
        self._worst = None
        if len(self._open) == 1:  # drawdowns below the floor: tracked by the worst close
            floor = _NEG_INF
            (symbol, state), = self._open.items()
            w = self._marks.get(symbol)
            if w is not None:
                self._worst = self._worst_base = w
                self._worst_long = state.qty > _ZERO
        for guard in self._guards:
            f, c, u = guard.equity_bounds()
            floor, ceiling, until = max(floor, f), min(ceiling, c), min(until, u)
        if self._open and not floor < equity <= ceiling:
            # beyond a bound, a small move can make a guard act again (a warning after a
            # trip): exact marks until equity is back within. A mark at an unchanged equity
            # repeats what this one did, so flat, the marks stay lazy.
            self._lazy_until = 0
            return
        self._lazy_until = min(until, self._next_snapshot)
        self._bounds = price_bounds(self._open, self._marks, self.cash, equity, floor, ceiling)
