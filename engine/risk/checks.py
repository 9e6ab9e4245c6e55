"""Pre-trade checks: every order intent passes these before it reaches a gateway.

Each check returns ``(check, reason)`` to reject or nothing to pass; the first failure
wins, in this order: risk state, reduce-only, reference price, price band, order rate,
open orders, order notional, position, gross exposure, buying power (cash/margin), shorts.
Account limits and the order's strategy's limits (``[risk.strategies.<id>]``) both apply.

Exposure is measured at the order's price: its limit price, its stop price for a stop-loss,
else the last price.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final, Protocol

from engine.clock import Clock
from engine.ids import StrategyId, Symbol
from engine.model import NS_PER_S, Order, OrderSide, OrderType
from engine.risk.config import RiskConfig, RiskLimits
from engine.risk.state import RiskState

__all__ = ["OpenOrdersView", "PortfolioView", "PreTradeChecks", "reduces_exposure"]

_ZERO: Final = Decimal(0)
_HUNDRED: Final = Decimal(100)
_BUY: Final = OrderSide.BUY
_ACTIVE: Final = RiskState.ACTIVE
Verdict = tuple[str, str] | None


class PortfolioView(Protocol):
    """What the checks read from the portfolio."""

    def position_qty(self, symbol: Symbol, strategy_id: StrategyId | None = None, *,
                     account: bool = True) -> Decimal:
        """Net quantity held."""
        ...

    def gross_and_equity(self) -> tuple[Decimal, Decimal]:
        """Sum of |position value|, and cash plus position value."""
        ...


class OpenOrdersView(Protocol):
    """What the checks read from the OMS's book."""

    def open_count(self, strategy_id: StrategyId | None = None, *, account: bool = True) -> int:
        """Working orders."""
        ...

    def open_qty(self, symbol: Symbol, side: OrderSide, strategy_id: StrategyId | None = None,
                 *, account: bool = True) -> Decimal:
        """Unfilled quantity of working orders on one side."""
        ...


def reduces_exposure(order: Order, position: Decimal) -> bool:
    """True when ``order`` only reduces the position ``position`` (never flips it)."""
    if order.side is OrderSide.BUY:
        return position < _ZERO and order.qty <= -position
    return position > _ZERO and order.qty <= position


class _Bucket:
    __slots__ = ("capacity", "last_ns", "rate_per_ns", "tokens")

    def __init__(self, rate_per_s: float) -> None:
        self.capacity = max(1.0, rate_per_s)
        self.tokens = self.capacity
        self.rate_per_ns = rate_per_s / NS_PER_S
        self.last_ns: int | None = None

    def take(self, now: int) -> bool:
        if self.last_ns is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self.last_ns) * self.rate_per_ns)
        self.last_ns = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class PreTradeChecks:
    """The checks, with their rate buckets; stateless otherwise.

    One pass per order: the account's limits are read once into attributes, the portfolio
    and the book are asked once each (position, working quantity, gross and equity), and
    the strategy's limits are looked up only when any are configured.
    """

    def __init__(self, config: RiskConfig, clock: Clock, portfolio: PortfolioView,
                 orders: OpenOrdersView) -> None:
        self.config = config
        self._clock = clock
        self._now = clock.now_ns
        self._portfolio = portfolio
        self._orders = orders
        self._position_qty = portfolio.position_qty
        self._open_qty = orders.open_qty
        self._open_count = orders.open_count
        self._gross_and_equity = portfolio.gross_and_equity
        self._strategy_limits = {StrategyId(k): v for k, v in config.strategies.items()}
        self._buckets: dict[StrategyId | None, _Bucket] = {}
        account = config.account
        self._account_bucket = (None if account.max_orders_per_s is None
                                else _Bucket(account.max_orders_per_s))
        self._max_open = account.max_open_orders
        self._max_notional = account.max_order_notional
        self._max_position = account.max_position_notional
        self._max_gross = account.max_gross_exposure
        self._band = config.price_band_pct
        self._leverage = config.leverage
        self._require_price = config.require_price
        self._allow_short = config.allow_short

    def check(self, order: Order, last: Decimal | None, state: RiskState) -> Verdict:
        """Run every check; the first failure as ``(check, reason)``, or None."""
        symbol = order.symbol
        position = self._position_qty(symbol)
        buy = order.side is _BUY
        qty = order.qty
        reducing = (position < _ZERO and qty <= -position) if buy else (
            position > _ZERO and qty <= position)
        if state is not _ACTIVE:
            if state is RiskState.HALTED:
                return "risk_state", "trading halted: only cancels are accepted"
            if not reducing:
                return "risk_state", "reducing: only orders that reduce exposure are accepted"
        if order.reduce_only and not reducing:
            return "reduce_only", f"reduce-only order would not reduce position {position}"
        price = order.limit_price
        if price is None:
            price = order.stop_price if order.type is OrderType.STOP_LOSS else last
        if price is None:
            if self._require_price:
                return "no_price", f"no reference price for {symbol}"
            return None
        band = self._band
        if band is not None and last is not None and price is not last:
            deviation = abs(price - last) / last * _HUNDRED
            if deviation > band:
                return "price_band", (f"price {price} is {deviation:.2f}% from last {last} "
                                      f"(band {band}%)")
        now = self._now()
        bucket = self._account_bucket
        if bucket is not None:  # bucket.take(now), inlined: one per order
            tokens = bucket.tokens
            last_ns = bucket.last_ns
            if last_ns is not None:
                tokens += (now - last_ns) * bucket.rate_per_ns
                cap = bucket.capacity
                if not tokens < cap:  # min(capacity, tokens)
                    tokens = cap
            bucket.last_ns = now
            if tokens >= 1.0:
                bucket.tokens = tokens - 1.0
            else:
                bucket.tokens = tokens
                return "rate_limit", f"account order rate above {bucket.capacity:g}/s"
        slimits = None
        if self._strategy_limits and order.strategy_id is not None:
            slimits = self._strategy_limits.get(order.strategy_id)
            if slimits is not None:
                verdict = self._strategy_rate(order.strategy_id, slimits, now)
                if verdict is not None:
                    return verdict
        if order.parent_id is not None:
            return None  # a TWAP/VWAP child: its parent passed the exposure checks
        notional = qty * price
        max_open = self._max_open
        if max_open is not None and self._open_count() >= max_open:
            return "max_open_orders", f"account has {max_open} open orders"
        limit = self._max_notional
        if limit is not None and notional > limit:
            return "max_order_notional", f"order notional {notional} > account limit {limit}"
        limit = self._max_position
        if limit is not None and not reducing:
            working = self._open_qty(symbol, order.side)
            projected = position + working + qty if buy else position - working - qty
            value = abs(projected) * price
            if value > limit:
                return "max_position_notional", (f"account position in {symbol} would be "
                                                  f"{projected} (~{value:.2f}) > limit {limit}")
        if slimits is not None:
            verdict = self._limits(order, price, notional, reducing, slimits,
                                   order.strategy_id)
            if verdict is not None:
                return verdict
        if reducing:
            return None
        gross, equity = self._gross_and_equity()
        limit = self._max_gross
        if limit is not None and gross + notional > limit:
            return "max_gross_exposure", (f"gross exposure {gross} + {notional} > limit {limit}")
        power = equity * self._leverage - gross
        if notional > power:
            return "buying_power", (f"order notional {notional} > buying power {power:.2f} "
                                    f"(leverage {self._leverage})")
        if not self._allow_short and not buy:
            selling = self._open_qty(symbol, OrderSide.SELL) + qty
            if selling > position:
                return "no_short", f"selling {selling} with {position} held: shorts disallowed"
        return None

    def _limits(self, order: Order, price: Decimal, notional: Decimal, reducing: bool,
                lim: RiskLimits, sid: StrategyId | None) -> Verdict:
        account = sid is None
        scope = "account" if account else f"strategy {sid}"
        if lim.max_open_orders is not None and (
                self._orders.open_count(sid, account=account) >= lim.max_open_orders):
            return "max_open_orders", f"{scope} has {lim.max_open_orders} open orders"
        if lim.max_order_notional is not None and notional > lim.max_order_notional:
            return "max_order_notional", (f"order notional {notional} > {scope} limit "
                                          f"{lim.max_order_notional}")
        if lim.max_position_notional is not None and not reducing:
            return self._position(order, price, sid, account, lim.max_position_notional)
        return None

    def _position(self, order: Order, price: Decimal, sid: StrategyId | None, account: bool,
                  limit: Decimal) -> Verdict:
        held = self._portfolio.position_qty(order.symbol, sid, account=account)
        working = self._orders.open_qty(order.symbol, order.side, sid, account=account)
        if order.side is OrderSide.BUY:
            projected = held + working + order.qty
        else:
            projected = held - working - order.qty
        value = abs(projected) * price
        if value > limit:
            scope = "account" if account else f"strategy {sid}"
            return "max_position_notional", (f"{scope} position in {order.symbol} would be "
                                              f"{projected} (~{value:.2f}) > limit {limit}")
        return None

    def _strategy_rate(self, sid: StrategyId, lim: RiskLimits, now: int) -> Verdict:
        if lim.max_orders_per_s is None:
            return None
        sb = self._buckets.get(sid)
        if sb is None:
            sb = self._buckets[sid] = _Bucket(lim.max_orders_per_s)
        if not sb.take(now):
            return "rate_limit", f"strategy {sid} order rate above {sb.capacity:g}/s"
        return None
