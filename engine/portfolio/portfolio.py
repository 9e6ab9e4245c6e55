"""The account's portfolio: positions, cash, equity, PnL, published as they change.

A fill updates the position and cash synchronously, in the handler of the very
``OrderFilled`` event, and publishes ``PositionChanged`` before the event's dispatch
returns (when anything subscribes to it: the event is not built for nobody). Positions
are kept account-wide (what ``positions`` stores) and per strategy and symbol (for
attribution and per-strategy risk limits). Single quote currency: fills, fees
and cash are all in ``portfolio.currency``.

Prices: the last trade price (a bar's close, a quote's mid when no trades flow) marks
positions. Equity is marked at most every ``mark_interval_ms`` of market-data time (and
after fills under the same limit): that feeds the equity curve, the drawdown, the daily
rows, the risk guards (``add_guard``) and equity listeners (``add_equity_listener``); a
closed UTC day is published as a ``PerformanceDaily`` record. Without equity listeners a
mark is lazy (:mod:`engine.portfolio.marks`): while the close stays within the price range
where neither the performance tracker nor a guard could act, only the float close is kept;
the other marks are evaluated exactly, so results are those of evaluating every mark. The
equity curve gets a point per exact mark. Every ``snapshot_interval_s`` the
``PortfolioState`` row, a ``PortfolioSnapshot`` and mark-to-market ``PositionChanged``
events are published (store records of :mod:`engine.store.records`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, Final

from engine.bus import MessageBus
from engine.decimal_prices import DecimalPrices
from engine.events import OrderFilled, PositionChanged
from engine.ids import StrategyId, Symbol, Venue
from engine.model import (
    NS_PER_MS,
    NS_PER_S,
    Bar,
    Fill,
    OrderSide,
    Position,
    Quote,
    TradeTick,
)
from engine.portfolio.accounting import FillTotals, PositionState, fill_totals
from engine.portfolio.config import PortfolioConfig
from engine.portfolio.marks import EquityGuard, LazyMarks
from engine.portfolio.performance import PerformanceTracker, PortfolioUpdated, day_bounds
from engine.portfolio.status import portfolio_row, portfolio_status
from engine.portfolio.strategy_days import StrategyDays, strategy_totals
from engine.store.records import PerformanceHistory, PortfolioSnapshot, PortfolioState

__all__ = ["Portfolio", "PortfolioConfig"]

_ZERO: Final = Decimal(0)
_BUY: Final = OrderSide.BUY


class Portfolio(LazyMarks):
    """Positions, cash and equity of one account."""

    name = "portfolio"

    def __init__(self, *, bus: MessageBus, config: PortfolioConfig | None = None,
                 prices: DecimalPrices | None = None) -> None:
        self.config = cfg = config or PortfolioConfig()
        self._publish = bus.publish
        self._subscribed = bus.has_subscribers
        self.cash = cfg.starting_cash
        self.realized = _ZERO
        self.fees = _ZERO
        self._positions: dict[Symbol, PositionState] = {}
        self._open: dict[Symbol, PositionState] = {}  # the non-flat subset of _positions
        self._equity: Decimal | None = None  # cached; None after a change
        self._venues: dict[Symbol, Venue] = {}
        # per strategy, then per symbol (no tuple to build per lookup)
        self._strategies: dict[StrategyId | None, dict[Symbol, PositionState]] = {}
        self._shared: dict[Symbol, tuple[StrategyId | None, Symbol]] = {}  # see _book
        self._marks: dict[Symbol, float] = {}
        self._dec: dict[Symbol, Decimal] = {}
        self._to_decimal = (prices or DecimalPrices()).get  # shared with the paper matcher
        self.performance = PerformanceTracker(  # counting the account's positions' fills
            cfg.starting_cash, cfg.equity_curve_points,
            lambda: fill_totals(self._positions.values()))
        self._equity_listeners: list[Callable[[int, Decimal], None]] = []
        self._guards: list[EquityGuard] = []
        self._bounds: dict[Symbol, tuple[float, float]] = {}  # close ranges of lazy marks
        self._lazy_until = 0  # marks before this time may be lazy (0: the next is exact)
        self._pending_ts: int | None = None  # time of the last lazy mark not yet recorded
        self._pending_marks: dict[Symbol, float | None] = {}  # marks as of that mark
        self._worst: float | None = None  # one open symbol: its worst close since the last
        self._worst_base = 0.0  # exact mark (lowest when long), and its close at that mark
        self._worst_long = True
        self._strategy_days = StrategyDays()
        self._mark_ns = cfg.mark_interval_ms * NS_PER_MS
        self._snapshot_ns = int(cfg.snapshot_interval_s * NS_PER_S)
        self._next_mark = 0
        self._next_snapshot = 0
        self.last_ts = 0
        self._last_fill: Fill | None = None  # the last fill booked, and what it realized
        self._last_realized = _ZERO

    def attach(self, bus: MessageBus) -> None:
        """Subscribe to fills and market data (subscribe before strategies and risk)."""
        bus.subscribe(OrderFilled, self.on_fill)
        bus.subscribe(TradeTick, self.on_trade)
        bus.subscribe(Bar, self.on_bar)
        bus.subscribe(Quote, self.on_quote)

    def add_equity_listener(self, listener: Callable[[int, Decimal], None]) -> None:
        """Call ``listener(ts_ns, equity)`` on every equity mark (every mark is then exact)."""
        self._equity_listeners.append(listener)
        self.invalidate()

    # -- events ----------------------------------------------------------------------------

    def restore(self, fills: Iterable[Fill], now_ns: int | None = None,
                history: PerformanceHistory | None = None) -> int:
        """Rebuild positions, cash, realized PnL and fees from the trades ledger (start-up):
        the ledger is the record, positions its exact projection. Nothing is published;
        returns the fills applied. With ``now_ns``, only its UTC day's fills count in the
        day's figures, the others carry on from ``history`` (``PerformanceTracker.resume``)."""
        day_start = -1 if now_ns is None else day_bounds(now_ns)[0]
        count = 0
        for fill in fills:
            if 0 <= day_start <= fill.ts_ns:  # today's first: the day counts from here
                self._rebase_day()
                day_start = -1
            self._book(fill)
            count += 1
        if day_start >= 0:  # no fill today
            self._rebase_day()
        if now_ns is not None:
            self.performance.resume(history or PerformanceHistory())
        return count

    def on_fill(self, event: OrderFilled) -> None:
        """Book a fill: position, strategy position, cash, fees; publish PositionChanged."""
        fill = event.fill
        oid = fill.order_id
        if oid is not event.order.id and oid != event.order.id:
            return  # a TWAP/VWAP parent's roll-up of a child fill, booked with the child
        symbol, ts = fill.symbol, fill.ts_ns
        if ts >= self.performance.day_end_ns > 0:  # a new day's first event: the day before
            self.mark(ts)  # closes without this fill, and the mark below follows the fill
            self._next_mark = ts
        elif self._pending_ts is not None:
            if self._next_mark <= ts < self.performance.day_end_ns:
                self._apply_worst()  # the mark after this fill supersedes the lazy one
            else:
                self._settle()  # a later mark may close the day: it needs that equity
        state = self._book(fill)
        if self._subscribed(PositionChanged):  # built only for someone (a backtest: nobody)
            self._publish(PositionChanged(state.to_position(fill.venue, symbol,
                                                              self.last_price(symbol)), ts))
        if ts >= self._next_mark:
            self.mark(ts)

    def _rebase_day(self) -> None:
        self.performance.rebase()
        self._strategy_days.rebase(self._strategies)

    def _book(self, fill: Fill) -> PositionState:
        symbol = fill.symbol
        qty = fill.qty if fill.side is _BUY else -fill.qty
        price = fill.price
        fee = fill.fee
        ts = fill.ts_ns
        state = self._positions.get(symbol)
        if state is None:
            # while one strategy trades a symbol, its position is the account's: one object
            state = self._positions[symbol] = PositionState()
            self._strategy_states(fill.strategy_id)[symbol] = state
            self._venues[symbol] = fill.venue
            self._shared[symbol] = (fill.strategy_id, symbol)
        shared = self._shared.get(symbol)
        if shared is None or shared[0] != fill.strategy_id:  # not the one strategy's state
            self._book_strategy(fill.strategy_id, symbol, state).apply(qty, price, fee, ts)
        realized = state.apply(qty, price, fee, ts)
        self._last_fill = fill
        self._last_realized = realized
        self.cash -= qty * price + fee
        if realized:
            self.realized += realized
        self.fees += fee
        if state.qty:
            self._open[symbol] = state
        else:
            self._open.pop(symbol, None)
        self._equity = None
        self._lazy_until = 0
        if symbol not in self._marks:
            self._marks[symbol] = float(price)
            self._dec[symbol] = price
        return state

    def realized_of(self, fill: Fill) -> Decimal | None:
        """What booking ``fill`` realized (before fees) when it is the last fill booked (the
        store asks as it writes its ``trades`` row), else None."""
        return self._last_realized if fill is self._last_fill else None

    def _book_strategy(self, sid: StrategyId | None, symbol: Symbol,
                       state: PositionState) -> PositionState:
        """The strategy's own state for a fill of ``symbol`` that another strategy traded."""
        shared = self._shared.pop(symbol, None)
        if shared is not None:  # a second strategy: the first one's share is its own now
            self._strategy_states(shared[0])[symbol] = state.copy()
        states = self._strategy_states(sid)
        sstate = states.get(symbol)
        if sstate is None:
            sstate = states[symbol] = PositionState()
        return sstate

    def _strategy_states(self, sid: StrategyId | None) -> dict[Symbol, PositionState]:
        return self._strategies.setdefault(sid, {})

    def on_trade(self, tick: TradeTick) -> None:
        """Mark to a trade."""
        ts = tick.ts_ns
        if ts < self._next_mark and not self._lazy_until and self._pending_ts is None:
            # no mark due and nothing lazy to keep track of (see _set_mark): the price only
            symbol, price = tick.symbol, tick.price
            if self._marks.get(symbol) != price:
                self._marks[symbol] = price
                self._forget_decimal(symbol)
                if symbol in self._open:
                    self._equity = None
            return
        self._set_mark(tick.symbol, tick.price, ts)

    def on_bar(self, bar: Bar) -> None:
        """Mark to a bar's close (at the bar's end)."""
        ts = bar.ts_ns
        if bar.closed and self._next_mark <= ts < self._lazy_until:
            # a lazy mark, inlined (see _set_mark): the usual case of a backtest
            symbol, price = bar.symbol, bar.close
            b = self._bounds.get(symbol)
            if b is None or b[0] < price < b[1]:
                w = self._worst
                if w is not None and b is not None and (
                        price < w if self._worst_long else price > w):
                    self._worst = price
                if self._marks.get(symbol) != price:
                    self._marks[symbol] = price
                    self._forget_decimal(symbol)
                    if b is not None:
                        self._equity = None
                self._next_mark = ts + self._mark_ns
                self.last_ts = self._pending_ts = ts
                if self._pending_marks:  # the marks as they are now are this mark's
                    self._pending_marks.clear()
                return
        if bar.closed:
            self._set_mark(bar.symbol, bar.close, ts)

    def on_quote(self, quote: Quote) -> None:
        """Mark to the mid when no trade price is known yet."""
        if quote.symbol not in self._marks and quote.bid > 0 and quote.ask > 0:
            self._set_mark(quote.symbol, quote.mid, quote.ts_ns)

    def mark(self, ts: int) -> Decimal:
        """Evaluate equity now: curve, drawdown, day close, guards, listeners, snapshot when
        due."""
        self._apply_worst()
        if self._pending_ts is not None:
            if ts >= self.performance.day_end_ns:
                self._settle()  # the day closes with the last lazy mark's equity
            else:
                self._pending_ts = None  # superseded by this mark
                self._pending_marks.clear()
        self.last_ts = ts
        self._next_mark = ts + self._mark_ns
        equity = self.equity()
        closed = self.performance.on_equity(ts, equity)
        if closed is not None:
            for row in self._strategy_days.close(closed, ts, self._strategies):
                self._publish(row)  # the account's, then each strategy's that traded
        for guard in self._guards:
            guard.on_equity(ts, equity)
        for listener in self._equity_listeners:
            listener(ts, equity)
        if ts >= self._next_snapshot:
            self.snapshot(ts)
        self._set_bounds(equity)
        return equity

    def snapshot(self, ts: int) -> PortfolioUpdated:
        """Publish the portfolio row (``PortfolioState``), a ``PortfolioSnapshot`` for the
        history and mark-to-market ``PositionChanged`` events."""
        self._next_snapshot = ts + self._snapshot_ns
        held: dict[str, Any] = {}
        for symbol, state in self._positions.items():
            if state.qty:
                pos = state.to_position(self._venues[symbol], symbol, self.last_price(symbol))
                self._publish(PositionChanged(pos, ts))
                held[symbol] = {"qty": str(pos.qty), "avg_entry_price": str(pos.avg_entry_price),
                                "unrealized_pnl": str(pos.unrealized_pnl)}
        row = self.portfolio_row(ts)
        self._publish(PortfolioState(
            ts_ns=ts, cash=row.cash, equity=row.equity, total_pnl=row.total_pnl,
            total_pnl_pct=row.total_pnl_pct, daily_pnl=row.daily_pnl,
            realized_pnl=row.realized_pnl, unrealized_pnl=row.unrealized_pnl, fees=row.fees,
            sharpe=row.sharpe, max_drawdown=row.max_drawdown_pct, win_rate=row.win_rate,
            num_trades=row.num_trades, high_water_mark=row.high_water_mark))
        self._publish(PortfolioSnapshot(ts_ns=ts, cash=row.cash, equity=row.equity,
                                        positions=held))
        return row

    # -- views -----------------------------------------------------------------------------

    def last_price(self, symbol: Symbol) -> Decimal | None:
        """The last price of ``symbol`` as Decimal (None before any)."""
        dec = self._dec.get(symbol)
        if dec is None:
            raw = self._marks.get(symbol)
            if raw is None:
                return None
            dec = self._dec[symbol] = self._to_decimal(symbol, raw)
        return dec

    def position_qty(self, symbol: Symbol, strategy_id: StrategyId | None = None, *,
                     account: bool = True) -> Decimal:
        """Net quantity held, account-wide (default) or by one strategy."""
        if account:
            state = self._positions.get(symbol)
        else:
            states = self._strategies.get(strategy_id)
            state = None if states is None else states.get(symbol)
        return _ZERO if state is None else state.qty

    def strategy_position(self, strategy_id: StrategyId | None, symbol: str) -> Decimal:
        """Net quantity held by one strategy (``position_qty(symbol, strategy_id,
        account=False)`` in one call: what a strategy's context asks on every bar)."""
        states = self._strategies.get(strategy_id)
        if states is None:
            return _ZERO
        state = states.get(symbol)  # type: ignore[call-overload]  # a str is a Symbol
        return _ZERO if state is None else state.qty

    def position(self, symbol: Symbol) -> Position | None:
        """The account's position in ``symbol`` (None when never traded)."""
        state = self._positions.get(symbol)
        if state is None:
            return None
        return state.to_position(self._venues[symbol], symbol, self.last_price(symbol))

    def positions(self) -> list[Position]:
        """Every position ever held (flat ones too)."""
        return [s.to_position(self._venues[k], k, self.last_price(k))
                for k, s in self._positions.items()]

    def position_value(self) -> Decimal:
        """Signed value of all positions at the last marks (cost when unmarked)."""
        total = _ZERO
        for symbol, state in self._open.items():
            m = self.last_price(symbol)
            total += state.cost if m is None else state.qty * m
        return total

    def gross_and_equity(self) -> tuple[Decimal, Decimal]:
        """Gross exposure and equity in one pass (the risk checks' view)."""
        gross = value = _ZERO
        for symbol, state in self._open.items():
            m = self.last_price(symbol)
            v = state.cost if m is None else state.qty * m
            value += v
            gross += abs(v)
        return gross, self.cash + value

    def equity(self) -> Decimal:
        """Cash plus position value (kept until a fill or a held symbol's price changes)."""
        equity = self._equity
        if equity is None:
            equity = self._equity = self.cash + self.position_value()
        return equity

    def has_open_positions(self) -> bool:
        """True when any position is not flat."""
        return bool(self._open)

    def portfolio_row(self, ts: int) -> PortfolioUpdated:
        """The current portfolio row."""
        return portfolio_row(self, ts)

    def strategy_totals(self) -> dict[StrategyId, FillTotals]:
        """Each strategy's fills, wins, losses, realized PnL and fees so far."""
        return strategy_totals(self._strategies)

    def strategy_positions(self) -> list[tuple[StrategyId | None, Symbol, PositionState]]:
        """Each strategy's position per symbol (attribution; None: no strategy)."""
        return [(sid, sym, state) for sid, states in self._strategies.items()
                for sym, state in states.items()]

    def status(self) -> dict[str, Any]:
        """For /status (money as strings)."""
        return portfolio_status(self)
