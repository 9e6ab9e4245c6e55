"""The paper matcher: one fill model for paper trading and backtests.

:class:`Matcher` applies the rules of :class:`~gateways.paper_model.PaperFillModel` (its
module says them) to orders against trades, bars and quotes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

from engine.decimal_prices import DecimalPrices
from engine.execution import (
    ExecutionReport,
    ReportSink,
    VenueAccepted,
    VenueCancelled,
    VenueFilled,
    VenueRejected,
    VenueTriggered,
)
from engine.ids import ClientOrderId, Symbol
from engine.model import (
    NS_PER_MS,
    Bar,
    LiquiditySide,
    Order,
    OrderSide,
    OrderType,
    Quote,
    TimeInForce,
    TradeTick,
    to_decimal,
)
from engine.native import mypyc_attr
from engine.oms.fastobj import IdGenerator
from gateways.paper_model import PaperFillModel

__all__ = ["Matcher", "PaperFillModel"]

_ZERO: Final = Decimal(0)
_TENK: Final = Decimal(10_000)
_ONE: Final = Decimal(1)
_MARKET: Final = 0
_LIMIT: Final = 1
_STOP: Final = 2
_STOP_LIMIT: Final = 3


def _kind(t: OrderType) -> int:
    # identity tests: an Enum's __hash__ runs in Python (hot path)
    if t is OrderType.MARKET:
        return _MARKET
    if t is OrderType.LIMIT:
        return _LIMIT
    if t is OrderType.STOP_LOSS:
        return _STOP
    if t is OrderType.STOP_LIMIT:
        return _STOP_LIMIT
    return -1


_MAKER: Final = LiquiditySide.MAKER
_TAKER: Final = LiquiditySide.TAKER
_BUY: Final = OrderSide.BUY
_GTC: Final = TimeInForce.GTC
_MARKET_T: Final = OrderType.MARKET


@mypyc_attr(acyclic=True)  # outside the cycle collector: its fields never lead back
class _Working:
    """A resting paper order, compared by identity.

    A plain class, so that the compiled build reads its fields directly (a native class),
    where a ``msgspec.Struct`` costs a generic attribute lookup per read.
    """

    __slots__ = ("arrived", "buy", "cid", "eligible_ns", "kind", "limit", "live",
                 "remaining", "stop", "submit_ns", "symbol", "tif")

    def __init__(self, cid: ClientOrderId, symbol: Symbol, buy: bool, kind: int,
                 limit: Decimal | None, stop: Decimal | None, remaining: Decimal,
                 tif: TimeInForce, submit_ns: int, eligible_ns: int) -> None:
        self.cid = cid
        self.symbol = symbol
        self.buy = buy
        self.kind = kind
        self.limit = limit
        self.stop = stop
        self.remaining = remaining
        self.tif = tif
        self.submit_ns = submit_ns
        self.eligible_ns = eligible_ns
        self.arrived = False  # the first eligible price has been seen (IOC/FOK decided)
        self.live = True


class Matcher:
    """Resting paper orders per symbol, matched against trades, bars and quotes."""

    def __init__(self, model: PaperFillModel, emit: Callable[[ExecutionReport], None],
                 ids: IdGenerator | None = None, *, remember: int = 100_000,
                 prices: DecimalPrices | None = None) -> None:
        self.model = model
        self._emit = emit
        self._accepted: Callable[[ClientOrderId, int, str | None], None] = self._emit_accepted
        self._filled: Callable[..., None] = self._emit_filled
        self._trade_prefix = (ids or IdGenerator()).uuid().hex
        self._trade_seq = 0
        self._book: dict[Symbol, list[_Working]] = {}
        self._by_cid: dict[ClientOrderId, _Working] = {}
        self._seen: set[ClientOrderId] = set()  # submitted client ids (idempotency), and
        self._seen_order: deque[ClientOrderId] = deque()  # in arrival order, to forget old ones
        self._prices = prices or DecimalPrices()
        self._remember = remember
        self._quotes: dict[Symbol, Quote] = {}
        self._latency_ns = int(model.latency_ms * NS_PER_MS)
        self._up = (_TENK + model.slippage_bps) / _TENK
        self._down = (_TENK - model.slippage_bps) / _TENK
        self._maker = model.maker_fee_bps / _TENK
        self._taker = model.taker_fee_bps / _TENK
        self._share = model.volume_share
        # a trade's whole size is available: x * Decimal(1) is x, digits included
        self._whole = model.volume_share.as_tuple() == _ONE.as_tuple()
        self._touch = model.limit_fill == "touch"
        self._fee_quantum = model.fee_quantum
        self._fee_currency = model.fee_currency
        self._size = (1.0, Decimal("1.0"))  # the last trade size and its Decimal: sizes repeat
        self.fills = 0

    def set_emit(self, emit: Callable[[ExecutionReport], None]) -> None:
        """Send reports to ``emit`` from now on (acceptances and fills too: undoes
        :meth:`set_sink`)."""
        self._emit = emit
        self._accepted = self._emit_accepted
        self._filled = self._emit_filled

    def set_sink(self, sink: ReportSink) -> None:
        """Report acceptances and fills by plain calls into ``sink`` (the OMS, whose
        ``on_report`` is the emit function for the other reports)."""
        self._accepted = sink.report_accepted
        self._filled = sink.report_filled

    def _emit_accepted(self, cid: ClientOrderId, ts: int, exchange_order_id: str | None) -> None:
        self._emit(VenueAccepted(cid, ts, exchange_order_id))

    def _emit_filled(self, cid: ClientOrderId, ts: int, trade_id: str, qty: Decimal,
                     px: Decimal, fee: Decimal, fee_currency: str | None,
                     liquidity: LiquiditySide) -> None:
        self._emit(VenueFilled(cid, ts, trade_id, qty, px, fee, fee_currency, liquidity))

    # -- orders ----------------------------------------------------------------------------

    def submit(self, order: Order, now: int) -> None:
        """Accept ``order`` (a repeated client order id is ignored: idempotent)."""
        cid = order.client_order_id
        seen = self._seen
        if cid in seen:
            return
        seen.add(cid)
        self._seen_order.append(cid)
        if len(seen) > self._remember:
            seen.discard(self._seen_order.popleft())
        kind = _MARKET if order.type is _MARKET_T else _kind(order.type)
        if kind < 0:
            self._emit(VenueRejected(cid, now, f"paper venue does not work {order.type.value}"))
            return
        symbol = order.symbol
        w = _Working(cid, symbol, order.side is _BUY, kind, order.limit_price, order.stop_price,
                     order.qty - order.filled_qty, order.time_in_force, now,
                     now + self._latency_ns)
        resting = self._book.get(symbol)
        if resting is None:
            resting = self._book[symbol] = []
        resting.append(w)
        self._by_cid[cid] = w
        self._accepted(cid, now, "paper-" + cid)  # unique as the cid is
        if self._quotes:
            quote = self._quotes.get(symbol)
            if quote is not None and self._latency_ns == 0 and w.live and w.kind < _STOP:
                self._on_quote_order(symbol, w, quote, now)

    def cancel(self, cid: ClientOrderId, now: int, reason: str = "requested") -> bool:
        """Cancel a working order; False when it is not working."""
        w = self._by_cid.get(cid)
        if w is None:
            return False
        self._remove(w.symbol, w)
        self._emit(VenueCancelled(cid, now, reason))
        return True

    def working(self, symbol: Symbol | None = None) -> int:
        """How many orders rest (on one symbol)."""
        if symbol is None:
            return len(self._by_cid)
        return len(self._book.get(symbol, ()))

    # -- market data -----------------------------------------------------------------------

    def on_trade(self, tick: TradeTick) -> None:
        """Match resting orders against one trade."""
        orders = self._book.get(tick.symbol)
        if not orders:
            return
        ts = tick.ts_ns
        size = tick.qty
        p = self._prices.get(tick.symbol, tick.price)
        last = self._size
        if size == last[0] and size.__class__ is last[0].__class__:
            avail = last[1]
        else:  # to_decimal inlined for the usual floats (shortest round-trip text)
            avail = Decimal(repr(size)) if size.__class__ is float else to_decimal(size)
            self._size = (size, avail)
        if not self._whole:
            avail *= self._share
        zero_latency = self._latency_ns == 0
        for w in list(orders):
            if not w.live or not (zero_latency or ts >= w.eligible_ns):
                continue
            if w.kind == _MARKET and not w.arrived and w.tif is _GTC:
                # the common case, inlined: a market order's first eligible price
                w.arrived = True
                remaining = w.remaining
                qty = remaining if remaining < avail else avail
                if qty > _ZERO:
                    px = p * self._up if w.buy else p * self._down
                    if qty == remaining:  # filled in full (_fill and _remove inlined)
                        w.remaining = _ZERO
                        w.live = False
                        self._by_cid.pop(w.cid, None)
                        orders.remove(w)
                        self._emit_fill(w, ts, qty, px, _TAKER)
                    else:
                        self._fill(tick.symbol, w, ts, qty, px, _TAKER)
                avail -= qty
            else:
                if w.kind >= _STOP:
                    if not (p >= w.stop if w.buy else p <= w.stop):  # type: ignore[operator]
                        continue
                    self._trigger(w, ts, p)
                avail = self._match(tick.symbol, w, ts, p, self._crosses(w, p), avail)
            if avail <= _ZERO:
                break

    def on_bar(self, bar: Bar) -> None:
        """Match resting orders against a closed bar (open, then the range)."""
        orders = self._book.get(bar.symbol)
        if not orders or not bar.closed:
            return
        ts = bar.ts_ns
        symbol = bar.symbol
        o = to_decimal(bar.open)
        hl: tuple[Decimal, Decimal] | None = None  # high and low, once an order needs them
        avail = to_decimal(bar.volume)
        if not self._whole:  # x * Decimal(1) is x, digits included
            avail *= self._share
        for w in list(orders):
            if not w.live or ts < w.eligible_ns:
                continue
            if w.kind == _MARKET and not w.arrived and w.tif is _GTC:
                # the common case: a market order's first eligible price is the bar's open
                # (_match -> _take -> _finish_arrival, inlined)
                w.arrived = True
                remaining = w.remaining
                qty = remaining if remaining < avail else avail
                if qty > _ZERO:
                    self._fill(symbol, w, ts, qty, o * self._up if w.buy else o * self._down,
                               _TAKER)
                avail -= qty
                if avail <= _ZERO:
                    break
                continue
            if hl is None:
                hl = to_decimal(bar.high), to_decimal(bar.low)
            h, lo = hl
            if w.kind >= _STOP:
                stop = w.stop
                assert stop is not None
                if w.buy and h >= stop:
                    self._trigger(w, ts, max(stop, o))
                    avail = self._match(symbol, w, ts, max(stop, o), False, avail)
                elif not w.buy and lo <= stop:
                    self._trigger(w, ts, min(stop, o))
                    avail = self._match(symbol, w, ts, min(stop, o), False, avail)
                continue
            avail = self._match(symbol, w, ts, o, self._crosses(w, lo if w.buy else h), avail)
            if avail <= _ZERO:
                break

    def on_quote(self, quote: Quote) -> None:
        """Remember the top of book; fill market and marketable limit orders on arrival."""
        if not self.model.use_book:
            return
        self._quotes[quote.symbol] = quote
        orders = self._book.get(quote.symbol)
        if orders:
            for w in list(orders):
                if w.live and not w.arrived and w.kind < _STOP and (
                        quote.ts_ns >= w.eligible_ns):
                    self._on_quote_order(quote.symbol, w, quote, quote.ts_ns)

    # -- matching --------------------------------------------------------------------------

    def _crosses(self, w: _Working, price: Decimal) -> bool:
        """Whether ``price`` trades through (or touches) the order's limit."""
        limit = w.limit
        if limit is None:
            return True
        if self._touch:
            return price <= limit if w.buy else price >= limit
        return price < limit if w.buy else price > limit

    def _on_quote_order(self, symbol: Symbol, w: _Working, quote: Quote, ts: int) -> None:
        if not self.model.use_book:
            return
        px = to_decimal(quote.ask if w.buy else quote.bid)
        size = to_decimal(quote.ask_qty if w.buy else quote.bid_qty) * self._share
        if px <= 0 or size <= 0:
            return
        if w.kind == _LIMIT and not (px <= w.limit if w.buy else px >= w.limit):  # type: ignore[operator]
            if w.tif is not TimeInForce.GTC:
                self._finish_arrival(symbol, w, ts, _ZERO, px)
            else:
                w.arrived = True
            return
        self._finish_arrival(symbol, w, ts, min(size, w.remaining), px)

    def _match(self, symbol: Symbol, w: _Working, ts: int, taker_px: Decimal,
               range_crosses: bool, avail: Decimal) -> Decimal:
        """Fill ``w`` at this price point; return the volume left for the next order."""
        if w.kind == _MARKET:
            px = taker_px * self._up if w.buy else taker_px * self._down
            return self._take(symbol, w, ts, px, avail, _TAKER)
        limit = w.limit
        assert limit is not None
        if not w.arrived:
            if self._crosses(w, taker_px):
                px = min(taker_px * self._up, limit) if w.buy else max(taker_px * self._down,
                                                                        limit)
                return self._take(symbol, w, ts, px, avail, _TAKER)
            if w.tif is not TimeInForce.GTC:
                self._finish_arrival(symbol, w, ts, _ZERO, limit)
                return avail
            w.arrived = True
        if range_crosses:
            return self._take(symbol, w, ts, limit, avail, _MAKER)
        return avail

    def _take(self, symbol: Symbol, w: _Working, ts: int, px: Decimal, avail: Decimal,
              liquidity: LiquiditySide) -> Decimal:
        qty = w.remaining if w.remaining < avail else avail
        if not w.arrived:
            self._finish_arrival(symbol, w, ts, qty, px, liquidity)
        elif qty > _ZERO:
            self._fill(symbol, w, ts, qty, px, liquidity)
        return avail - qty

    def _finish_arrival(self, symbol: Symbol, w: _Working, ts: int, qty: Decimal,
                        px: Decimal, liquidity: LiquiditySide = _TAKER) -> None:
        """First eligible price: apply IOC/FOK."""
        w.arrived = True
        tif = w.tif
        if tif is TimeInForce.FOK and qty < w.remaining:
            self._remove(symbol, w)
            self._emit(VenueCancelled(w.cid, ts, "fok: not fillable in full"))
            return
        if qty > _ZERO:
            self._fill(symbol, w, ts, qty, px, liquidity)
        if tif is TimeInForce.IOC and w.live:
            self._remove(symbol, w)
            self._emit(VenueCancelled(w.cid, ts, "ioc: remainder cancelled"))

    def _fill(self, symbol: Symbol, w: _Working, ts: int, qty: Decimal, px: Decimal,
              liquidity: LiquiditySide) -> None:
        w.remaining -= qty
        if w.remaining <= _ZERO:
            self._remove(symbol, w)
        self._emit_fill(w, ts, qty, px, liquidity)

    def _emit_fill(self, w: _Working, ts: int, qty: Decimal, px: Decimal,
                   liquidity: LiquiditySide) -> None:
        rate = self._taker if liquidity is _TAKER else self._maker
        fee = (qty * px * rate).quantize(self._fee_quantum, ROUND_HALF_EVEN)
        self.fills += 1
        seq = self._trade_seq = self._trade_seq + 1
        trade_id = f"{self._trade_prefix}-{seq}"  # unique across restarts
        self._filled(w.cid, ts, trade_id, qty, px, fee, self._fee_currency, liquidity)

    def _trigger(self, w: _Working, ts: int, price: Decimal) -> None:
        w.kind = _MARKET if w.kind == _STOP else _LIMIT
        self._emit(VenueTriggered(w.cid, ts, price))

    def _remove(self, symbol: Symbol, w: _Working) -> None:
        w.live = False
        self._by_cid.pop(w.cid, None)
        orders = self._book.get(symbol)
        if orders is not None and w in orders:
            orders.remove(w)
