"""What strategy authors touch: the :class:`Strategy` base class, its typed config, and the
read-only :class:`Context` it acts through.

A strategy is one small class::

    class EmaCrossConfig(StrategyConfig, frozen=True):
        symbol: str
        fast: PositiveInt = 10
        slow: PositiveInt = 20
        qty: Decimal = Decimal("0.01")

    class EmaCross(Strategy[EmaCrossConfig]):
        def on_start(self, ctx: Context) -> None:
            self.fast = ctx.indicators.ema(self.config.symbol, "1m", self.config.fast)
            self.slow = ctx.indicators.ema(self.config.symbol, "1m", self.config.slow)

        def on_bar(self, ctx: Context, bar: Bar) -> None:
            if self.slow.ready:
                long = self.fast.value > self.slow.value
                ctx.order_target(self.config.symbol, self.config.qty if long else Decimal(0))

``ctx.order_target`` counts the strategy's working orders and follows the account's risk
state; ``ctx.submit`` sends any order intent (``engine.intents``) as it is.

Hooks run synchronously inside the engine's event dispatch, through a guard: an
exception, or an event hook running longer than its time budget (``on_start`` and
``on_stop`` run once and are not timed), halts that strategy (its orders are cancelled by
policy and an alert is raised) while the others go on. A strategy never
touches the database or a gateway: the context is its only way to act.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Generic, Protocol, TypeVar

import msgspec

from engine.clock import Clock
from engine.ids import OrderId, StrategyId
from engine.model import Bar, Fill, Order, Signal, SignalDirection, TradeTick
from engine.risk.state import RiskState

__all__ = [
    "Context",
    "IndicatorHandle",
    "IndicatorSource",
    "PositiveInt",
    "RiskState",
    "Strategy",
    "StrategyConfig",
]

PositiveInt = Annotated[int, msgspec.Meta(gt=0)]
"""An int > 0, for periods and counts in strategy configs."""


class StrategyConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of strategy configs: frozen, keyword-only, unknown keys rejected.

    Subclass with typed fields and defaults; the engine validates the ``[[strategies]]``
    table against it at load, and errors name the strategy and the key.
    """


C = TypeVar("C", bound=StrategyConfig)


class IndicatorHandle(Protocol):
    """A streaming indicator value for one symbol, updated once per closed bar."""

    @property
    def value(self) -> float:
        """The latest value (NaN until ready)."""
        ...

    @property
    def ready(self) -> bool:
        """True once the indicator has seen its lookback."""
        ...


class IndicatorSource(Protocol):
    """Streaming indicators shared by all strategies (``ctx.indicators``)."""

    def sma(self, symbol: str, timeframe: str, period: int) -> IndicatorHandle:
        """Simple moving average of closes."""
        ...

    def ema(self, symbol: str, timeframe: str, period: int) -> IndicatorHandle:
        """Exponential moving average of closes (TA-Lib seeding)."""
        ...

    def rsi(self, symbol: str, timeframe: str, period: int = 14) -> IndicatorHandle:
        """Wilder RSI of closes."""
        ...

    def bbands(
        self, symbol: str, timeframe: str, period: int = 20, nbdev: float = 2.0
    ) -> tuple[IndicatorHandle, IndicatorHandle, IndicatorHandle]:
        """Bollinger bands (upper, middle, lower)."""
        ...

    def zscore(self, symbol: str, timeframe: str, period: int) -> IndicatorHandle:
        """Rolling z-score of closes."""
        ...


class Context(Protocol):
    """A strategy's read-only view of the engine, and its only way to act."""

    strategy_id: StrategyId
    clock: Clock
    log: logging.Logger | logging.LoggerAdapter[logging.Logger]
    indicators: IndicatorSource

    def bars(self, symbol: str, timeframe: str) -> Any:
        """The ring buffer of recent closed bars (a ``BarRing``: ``close(n)``, ``ts(n)``...,
        read-only numpy views) of a timeframe that is built: one the strategy names in its
        config (``timeframe``/``timeframes``) or asks indicators on, or, live, one of
        ``[marketdata] timeframes``. Any other raises ``ValueError``."""
        ...

    def position(self, symbol: str) -> Decimal:
        """This strategy's net position in ``symbol`` (signed)."""
        ...

    @property
    def cash(self) -> Decimal:
        """The account's cash."""
        ...

    @property
    def equity(self) -> Decimal:
        """The account's equity marked to the last prices."""
        ...

    @property
    def risk_state(self) -> RiskState:
        """What new orders the account accepts: ``ACTIVE`` any, ``REDUCING`` only those that
        reduce the account's position in their symbol, ``HALTED`` none (only cancels). A
        strategy that submits its own orders reads it to wait instead of being rejected
        (each rejection is an order and a ``risk_events`` row); :meth:`order_target`
        already does."""
        ...

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """This strategy's working orders."""
        ...

    def submit(self, intent: Any) -> OrderId | None:
        """Submit an order intent; None when risk rejected it (the reason is alerted)."""
        ...

    def cancel(self, order_id: OrderId) -> None:
        """Request cancellation of one of this strategy's orders."""
        ...

    def order_target(self, symbol: str, target: Decimal) -> OrderId | None:
        """Move this strategy's position in ``symbol`` to ``target`` (signed) with a market
        order; the order's id, or None when none was needed or risk rejected it.

        The strategy's working market orders on the symbol (and TWAP/VWAP parents) count:
        those moving the position towards the target are already on the way (the new order
        is for what they leave); those moving it away, and those that together would carry
        it past the target, are cancelled first. So a signal that flips while an order is
        still working cancels that order instead of offsetting it with an opposite one
        (which ``no_short`` refuses when flat, and which would trade against the strategy's
        own order). Limit and stop orders (entries, take-profits, protection) are the
        strategy's own business: neither counted nor cancelled. Live, a cancel takes a round
        trip (the OMS does not send it again meanwhile) and can lose the race with a fill:
        the next call moves the position back to the target.

        While the account is ``REDUCING`` the target is taken towards flat only (a long
        position may shrink or close, never grow or flip); while it is ``HALTED`` nothing
        is sent (None). So a strategy trading through it goes quiet under a risk halt
        instead of having an order rejected on every bar."""
        ...

    def emit_signal(
        self,
        symbol: str,
        direction: SignalDirection,
        strength: float,
        reasoning: dict[str, Any] | None = None,
    ) -> Signal:
        """Record a signal with the inputs that fired it (persisted to ``signals``)."""
        ...


class Strategy(Generic[C]):
    """Base class of strategies. Override the hooks you need; all are optional."""

    config_class: ClassVar[type[StrategyConfig]] = StrategyConfig
    strategy_type: ClassVar[str] = "custom"
    """One of the seeds' types (momentum, mean_reversion, grid_trading, dca,
    statistical_arbitrage, market_making, ml, custom), stored in ``strategies.type``."""

    def __init__(self, strategy_id: StrategyId, config: C) -> None:
        self.id = strategy_id
        self.config = config

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Take the config class from `Strategy[MyConfig]` so authors need not repeat it.
        for base in getattr(cls, "__orig_bases__", ()):
            args = getattr(base, "__args__", ())
            if args and isinstance(args[0], type) and issubclass(args[0], StrategyConfig):
                cls.config_class = args[0]

    def sells_short(self) -> bool:
        """Whether it may open short positions (default: its config's ``allow_short``), which
        the risk engine refuses unless ``[risk] allow_short``."""
        return bool(getattr(self.config, "allow_short", False))

    def history_bars(self) -> dict[str, int]:
        """Closed bars per timeframe this strategy reads from ``ctx.bars`` (its symbols'),
        for a live engine's warm start to load, e.g. ``{"1h": 48}``. Default: none; the
        indicators it asks for are warmed whatever this says."""
        return {}

    def symbols(self) -> list[str]:
        """Symbols this strategy trades (default: the config's ``symbol`` or ``symbols``)."""
        single = getattr(self.config, "symbol", None)
        many = getattr(self.config, "symbols", None)
        if isinstance(many, list | tuple):
            return [str(s) for s in many]
        return [str(single)] if single else []

    def on_start(self, ctx: Context) -> None:
        """Called once before the first event: create indicators here."""

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        """A bar of a subscribed symbol closed."""

    def on_trade(self, ctx: Context, trade: TradeTick) -> None:
        """A public trade of a subscribed symbol (only if the strategy overrides this)."""

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        """One of this strategy's orders filled (partly)."""

    def on_order_update(self, ctx: Context, order: Order) -> None:
        """One of this strategy's orders changed state."""

    def on_signal(self, ctx: Context, signal: Signal) -> None:
        """A signal from the ML loop or another strategy."""

    def on_stop(self, ctx: Context) -> None:
        """Called once at shutdown or halt."""

    def on_save(self) -> dict[str, Any]:
        """State to hand over: to the new version on hot reload, and to the next run (it is
        saved to the database every second when it changed, and at shutdown). JSON: a dict
        of strings, numbers, booleans, None, lists and dicts with string keys (a Decimal is
        written as its string, a tuple as a list, NaN as null); anything else halts the
        strategy with the reason."""
        return {}

    def on_load(self, state: dict[str, Any]) -> None:
        """Receive what :meth:`on_save` returned, in its JSON form, before ``on_start``: on
        hot reload from the old version, at start-up from the previous run (a strategy of
        the same ``class``). Raising halts the strategy (it is not started blank)."""
