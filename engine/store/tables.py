"""How each table is written: its columns, its key, and what a conflict means.

Modes:

- ``append``: ledger and history rows. A conflict on any unique key means "already
  stored" (``ON CONFLICT DO NOTHING``); within a batch the first row per key wins.
- ``upsert``: the latest row per key wins (``ON CONFLICT (key) DO UPDATE``).
- ``versioned``: current-state rows (orders, positions). A row replaces the
  stored one only if its ``(version, updated_at)`` is not older, so a replayed or late
  batch never rolls a row back; within a batch the newest version per key is kept.
- ``patch``: backfills of existing rows (``UPDATE ... FROM`` staging); unknown keys are
  ignored.

``optimistic`` tables usually receive new keys only; the writer first COPYs them straight
into the table and falls back to staging + ``ON CONFLICT`` only when that hits a unique
violation (a replay, or a duplicate from the venue).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["FLUSH_ORDER", "SPECS", "TableSpec"]

Mode = Literal["append", "upsert", "versioned", "patch"]


@dataclass(frozen=True, slots=True)
class TableSpec:
    """Write policy of one table (or one kind of patch of a table)."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    mode: Mode
    optimistic: bool = False
    target: str = ""
    """The table written; defaults to ``name`` (patch specs name their target)."""
    newer: tuple[str, ...] = ("version", "updated_at")
    """For ``versioned``: the columns whose tuple orders versions of a row."""
    key_index: tuple[int, ...] = field(init=False)
    newer_index: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_index", tuple(self.columns.index(k) for k in self.key))
        newer = self.newer if self.mode == "versioned" else ()
        object.__setattr__(self, "newer_index", tuple(self.columns.index(k) for k in newer))
        if not self.target:
            object.__setattr__(self, "target", self.name)


def _spec(name: str, columns: str, key: str, mode: Mode, *, optimistic: bool = False,
          target: str = "", newer: str = "version updated_at") -> TableSpec:
    return TableSpec(name, tuple(columns.split()), tuple(key.split()), mode, optimistic, target,
                     tuple(newer.split()))


_ALL = [
    _spec("strategies", "account_id name strategy_type description config active total_pnl "
          "win_rate sharpe num_trades last_signal_at updated_at", "account_id name", "upsert"),
    _spec("strategy_runs", "id account_id strategy_id status code_version config_hash config "
          "started_at stopped_at stop_reason", "id", "upsert"),
    _spec("strategy_state", "account_id strategy_id class state saved_at",
          "account_id strategy_id", "upsert"),
    _spec("ml_models", "id name version params metrics artifact_path trained_at",
          "name version", "upsert"),
    _spec("backtests", "id name status config symbols timeframe data_from data_to metrics "
          "report_path started_at finished_at account_id", "id", "upsert"),
    _spec("orders", "id account_id client_order_id exchange exchange_order_id symbol side "
          "order_type time_in_force status qty filled_qty limit_price stop_price "
          "avg_fill_price fee fee_currency reduce_only strategy_id parent_order_id "
          "reject_reason created_at updated_at filled_at cancelled_at closed_at version",
          "id", "versioned"),
    _spec("order_events", "order_id seq account_id event_type status payload at",
          "order_id seq", "append", optimistic=True),
    _spec("trades", "id order_id account_id client_order_id symbol exchange exchange_trade_id "
          "side qty price fee fee_currency liquidity realized_pnl decision_price strategy_id "
          "executed_at", "exchange exchange_trade_id", "append", optimistic=True),
    _spec("positions", "account_id exchange symbol qty avg_entry_price realized_pnl "
          "unrealized_pnl fees opened_at closed_at updated_at version",
          "account_id exchange symbol", "versioned"),
    _spec("portfolios", "account_id cash equity total_pnl total_pnl_pct daily_pnl realized_pnl "
          "unrealized_pnl fees sharpe max_drawdown win_rate num_trades updated_at version "
          "high_water_mark",
          "account_id", "upsert"),  # one writer per account, in order: the latest wins
    _spec("portfolio_snapshots", "account_id at cash equity positions", "account_id at",
          "append", optimistic=True),
    _spec("price_data", "exchange symbol timeframe ts open high low close volume vwap "
          "num_trades", "exchange symbol timeframe ts", "upsert", optimistic=True),
    _spec("signals", "id account_id strategy_id symbol direction strength reasoning at",
          "id", "append", optimistic=True),
    _spec("ml_predictions", "id account_id model_name model_version symbol predicted_price "
          "predicted_direction confidence feature_importance predicted_at horizon_s",
          "id", "append", optimistic=True),
    _spec("alerts", "id account_id severity category title message symbol order_id "
          "strategy_id created_at", "id", "append", optimistic=True),
    _spec("risk_events", "id account_id check_name decision limit_value observed_value "
          "order_id symbol strategy_id message details at", "id", "append", optimistic=True),
    _spec("audit_log", "id account_id actor action entity_type entity_id old_data new_data "
          "rationale at", "id", "append", optimistic=True),
    _spec("performance_daily", "account_id strategy_id day trades wins losses pnl fees "
          "max_drawdown sharpe equity_end updated_at", "account_id strategy_id day", "upsert"),
    _spec("signal_outcomes", "account_id strategy_id symbol at was_correct outcome_return "
          "resolved_at", "account_id strategy_id symbol at", "patch", target="signals"),
    _spec("prediction_outcomes", "account_id model_name model_version symbol horizon_s "
          "predicted_at actual_price prediction_error was_correct resolved_at",
          "account_id model_name model_version symbol horizon_s predicted_at", "patch",
          target="ml_predictions"),
    _spec("market_data_latest", "exchange symbol timeframe ts open high low close volume "
          "vwap num_trades", "exchange symbol timeframe", "versioned", newer="ts"),
]

SPECS: dict[str, TableSpec] = {s.name: s for s in _ALL}
"""Every spec by name."""

FLUSH_ORDER: tuple[str, ...] = tuple(s.name for s in _ALL)
"""The order tables are written within one batch: referenced rows (orders) before the
rows that reference them (order_events, trades), rows before their patches."""
