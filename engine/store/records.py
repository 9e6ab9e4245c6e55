"""Store-level records: facts the engine persists that are not domain objects of
:mod:`engine.model`. Submit them to :class:`~engine.store.writer.StoreWriter` like events.

Every record is frozen, slotted and keyword-only. Records that become ledger or history
rows carry their own ``id`` (a UUIDv7 made at construction), so a record replayed from the
journal lands once. Timestamps are epoch nanoseconds (stored with microsecond precision).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from engine.ids import OrderId, StrategyId, Symbol, uuid7
from engine.model import ZERO

__all__ = [
    "AuditRecord",
    "BacktestRecord",
    "MlModelRecord",
    "PerformanceDaily",
    "PerformanceHistory",
    "PortfolioSnapshot",
    "PortfolioState",
    "PredictionOutcome",
    "RiskEventRecord",
    "SignalOutcome",
    "StrategyRecord",
    "StrategyRun",
    "StrategyState",
]

StrategyType = Literal["grid_trading", "dca", "momentum", "mean_reversion",
                       "statistical_arbitrage", "market_making", "ml", "custom"]
RiskDecision = Literal["allow", "reject", "warn", "halt", "resume"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PortfolioState:
    """The account's current portfolio figures (``portfolios`` row, latest version wins)."""

    ts_ns: int
    cash: Decimal
    equity: Decimal
    total_pnl: Decimal = ZERO
    total_pnl_pct: Decimal | None = None
    daily_pnl: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    sharpe: float | None = None
    max_drawdown: Decimal | None = None
    win_rate: float | None = None
    num_trades: int = 0
    version: int = 1
    high_water_mark: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PortfolioSnapshot:
    """A point of the equity curve (``portfolio_snapshots``); ``positions`` by symbol."""

    ts_ns: int
    cash: Decimal
    equity: Decimal
    positions: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskEventRecord:
    """A risk check's decision (``risk_events``, append-only)."""

    ts_ns: int
    check: str
    decision: RiskDecision
    limit_value: Decimal | None = None
    observed_value: Decimal | None = None
    order_id: OrderId | None = None
    symbol: Symbol | None = None
    strategy_id: StrategyId | None = None
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    id: uuid.UUID = field(default_factory=uuid7)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRecord:
    """Who did what to which entity, before and after, and why (``audit_log``)."""

    ts_ns: int
    actor: str
    action: str
    entity_type: str
    entity_id: str | None = None
    old: dict[str, Any] | None = None
    new: dict[str, Any] | None = None
    rationale: str | None = None
    id: uuid.UUID = field(default_factory=uuid7)


@dataclass(frozen=True, slots=True, kw_only=True)
class PerformanceDaily:
    """One day of results for the account (``strategy_id`` None) or one strategy."""

    day: date
    ts_ns: int
    strategy_id: StrategyId | None = None
    trades: int = 0
    wins: int = 0
    losses: int = 0
    pnl: Decimal = ZERO
    fees: Decimal = ZERO
    max_drawdown: Decimal | None = None
    sharpe: float | None = None
    equity_end: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PerformanceHistory:
    """What a restart reads back of the account's performance (``portfolios`` and its
    ``performance_daily`` rows) to carry on its figures rather than start them again."""

    day_start_equity: Decimal | None = None  # the previous day's closing equity
    high_water_mark: Decimal | None = None
    max_drawdown_pct: Decimal | None = None
    daily_returns: tuple[float, ...] = ()  # of each closed day, oldest first


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategyRecord:
    """A configured strategy and its running stats (``strategies``, latest wins)."""

    name: StrategyId
    strategy_type: StrategyType
    ts_ns: int
    config: dict[str, Any] = field(default_factory=dict)
    active: bool = True
    description: str | None = None
    total_pnl: Decimal = ZERO
    win_rate: float | None = None
    sharpe: float | None = None
    num_trades: int = 0
    last_signal_ns: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategyRun:
    """One deployment of a strategy; submit again with ``stopped_ns`` when it stops."""

    id: uuid.UUID
    strategy_id: StrategyId
    started_ns: int
    status: Literal["running", "stopped", "failed"] = "running"
    code_version: str = ""
    config_hash: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    stopped_ns: int | None = None
    stop_reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategyState:
    """What a strategy's ``on_save`` returned, as JSON text (``strategy_state``, latest
    wins): given back to its ``on_load`` when the engine starts again."""

    strategy_id: StrategyId
    spec: str
    """The ``class`` of its ``[[strategies]]`` table: state is only given back to the same."""
    state_json: str
    ts_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestRecord:
    """A backtest and its results (``backtests``; submit again when it finishes)."""

    id: uuid.UUID
    name: str
    started_ns: int
    status: Literal["running", "finished", "failed"] = "running"
    config: dict[str, Any] = field(default_factory=dict)
    symbols: tuple[str, ...] = ()
    timeframe: str | None = None
    data_from_ns: int | None = None
    data_to_ns: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    report_path: str | None = None
    finished_ns: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MlModelRecord:
    """A trained model version (``ml_models``, keyed by name and version)."""

    name: str
    version: str
    trained_ns: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    artifact_path: str | None = None
    id: uuid.UUID = field(default_factory=uuid7)


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalOutcome:
    """Backfills a stored signal (found by strategy, symbol and time) with its outcome."""

    strategy_id: StrategyId
    symbol: Symbol
    signal_ts_ns: int
    was_correct: bool
    outcome_return: Decimal | None = None
    resolved_ns: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class PredictionOutcome:
    """Backfills a stored prediction (model, version, symbol, horizon, time) with the actual
    price once the horizon has passed."""

    model: str
    model_version: str
    symbol: Symbol
    predicted_ts_ns: int
    horizon_s: int
    actual_price: Decimal
    prediction_error: Decimal | None = None
    was_correct: bool | None = None
    resolved_ns: int = 0
