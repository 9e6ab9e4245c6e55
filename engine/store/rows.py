"""Mapping engine objects to table rows (tuples in the column order of :mod:`tables`).

Conversion happens in :meth:`StoreWriter.submit`, a few microseconds per object, so the
writer's flushes only move ready rows. Rules at this boundary:

- ``ts_ns`` becomes a UTC ``datetime`` truncated to the microsecond (timestamptz has
  microsecond precision; the nanoseconds below are dropped, never rounded up).
- Decimals go to ``numeric`` unchanged. Market-data floats (bars) stay floats in the row
  and are written as their shortest repr, so ``0.1`` is stored as the numeric ``0.1``,
  exactly what ``Decimal(repr(x))`` would store, without a Decimal per value; a NaN vwap
  becomes NULL.
- UUIDs of the frequent rows (orders, order events, trades) and the account id in every
  row travel as their 32-digit hex text, which PostgreSQL's uuid input reads: such a row
  holds only strings, numbers and datetimes, nothing the garbage collector tracks, so a
  queue of 100k rows adds nothing to a full collection (and the COPY encoder has no
  UUID to format).
- JSON (payloads, reasoning, configs) is serialised once, here, with orjson; Decimals in it
  become strings so no precision is lost.
- An order event's payload holds the whole order (``order``) in its ``submitted`` event,
  and in the first event this maker sees of an order (after a restart, say); every later
  event holds only the fields it changed (``changes``; a fill changes about six of 23).
  Folded in ``seq`` order they give the order back (:func:`engine.store.queries.
  fold_order_events`), so the ``orders`` projection can be rebuilt from the ledger, at a
  third of the JSON the server would otherwise parse and store per order.
- Records without an id of their own (signals, predictions, alerts) get a UUIDv7 here, so
  the row is the same when the journal replays it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
import orjson

from engine import events as ev
from engine import model as m
from engine.ids import uuid7
from engine.model_diff import changed_fields
from engine.store import records as r

__all__ = ["Row", "RowMaker", "dumps_json", "ns_to_ts", "supported_types"]

Row = tuple[Any, ...]
Rows = list[tuple[str, Row]]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FILLED, _CANCELLED = m.OrderStatus.FILLED, m.OrderStatus.CANCELLED
# by value: an enum member hashes through a Python-level __hash__, its str value in C
_TERMINAL = frozenset(status._value_ for status in m.OrderStatus if status.is_terminal)
_DIRECTION = {m.SignalDirection.LONG: "up", m.SignalDirection.SHORT: "down",
              m.SignalDirection.FLAT: "neutral"}


def ns_to_ts(ts_ns: int) -> datetime:
    """Epoch nanoseconds to an aware UTC datetime, truncated to the microsecond."""
    global _last  # a one-entry memo; one tuple, so a thread never sees half a pair
    last = _last
    if ts_ns == last[0]:
        # an order's rows repeat one time (created, updated, the event's own), and a
        # burst of events shares it: a timedelta and an addition saved per repeat
        return last[1]
    ts = _EPOCH + timedelta(0, 0, ts_ns // 1000)  # positional: keywords cost a third more
    _last = (ts_ns, ts)
    return ts


_last: tuple[int, datetime] = (0, _EPOCH)


def _hex(value: UUID | None) -> str | None:
    return None if value is None else value.hex


def _opt_ts(ts_ns: int | None) -> datetime | None:
    return None if ts_ns is None else _EPOCH + timedelta(0, 0, ts_ns // 1000)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=str)
    if isinstance(obj, m.RECORD_TYPES):  # orders, fills, bars
        return obj.to_dict()
    if isinstance(obj, msgspec.Struct):  # positions, ticks: like a dataclass
        return msgspec.structs.asdict(obj)
    if isinstance(obj, float) and math.isnan(obj):  # pragma: no cover - orjson emits null
        return None
    return str(obj)


_JSON_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
# Order event payloads (an Order and small dicts): msgspec writes the order's to_dict(), its
# Decimals (as strings), UUIDs and enums in C, where orjson calls _json_default for the
# order and again for each Decimal in it. The same JSON either way.
_encode_event = msgspec.json.Encoder(enc_hook=_json_default, decimal_format="string").encode


def dumps_json(obj: Any) -> str:
    """Serialise to JSON text for a jsonb column (Decimal -> string, UUID/enum/dataclass
    natively)."""
    return orjson.dumps(obj, default=_json_default, option=_JSON_OPTS).decode()


class RowMaker:
    """Turns the objects the engine submits into ``(table, row)`` pairs for one account."""

    def __init__(self, account_id: UUID) -> None:
        self.account_id = account_id
        self._acct = account_id.hex
        self.realized_of: Callable[[m.Fill], Decimal | None] | None = None
        """What booking a fill realized (the portfolio's ``realized_of``), for ``trades``."""
        # Per working order this maker has seen: its id as hex, its created_at and its
        # version as of its last event, so that an event stores only what it changed
        # (dropped when the order is terminal).
        self._orders: dict[int, tuple[str, datetime, m.Order]] = {}
        order_event: Callable[[Any], Rows] = self._order_event
        self._dispatch: dict[type, Callable[[Any], Rows]] = {
            ev.OrderSubmitted: order_event, ev.OrderAccepted: order_event,
            ev.OrderRejected: order_event, ev.OrderTriggered: order_event,
            ev.OrderCancelled: order_event, ev.OrderExpired: order_event,
            ev.OrderFilled: self._order_filled,
            ev.PositionChanged: self._position_changed,
            m.Fill: lambda f: [("trades", self.trade_row(f, None))],
            m.Order: lambda o: [("orders", self.order_row(o, o.updated_ns or o.created_ns))],
            m.Position: lambda p: [("positions", self.position_row(p, p.updated_ns))],
            m.Bar: self._bar,
            m.Signal: self._signal,
            m.Prediction: self._prediction,
            m.Alert: self._alert,
            r.PortfolioState: self._portfolio,
            r.PortfolioSnapshot: self._snapshot,
            r.RiskEventRecord: self._risk,
            r.AuditRecord: self._audit,
            r.PerformanceDaily: self._perf,
            r.StrategyRecord: self._strategy,
            r.StrategyRun: self._strategy_run,
            r.StrategyState: self._strategy_state,
            r.BacktestRecord: self._backtest,
            r.MlModelRecord: self._ml_model,
            r.SignalOutcome: self._signal_outcome,
            r.PredictionOutcome: self._prediction_outcome,
        }

    def rows(self, obj: object) -> Rows:
        """The rows ``obj`` becomes; TypeError for a type the store does not persist."""
        conv = self._dispatch.get(type(obj))
        if conv is None:
            raise TypeError(f"the store does not persist {type(obj).__name__}")
        return conv(obj)

    # -- orders and fills -------------------------------------------------------------

    def order_row(self, o: m.Order, at_ns: int) -> Row:
        """An ``orders`` row for the order as of ``at_ns`` (terminal timestamps from it)."""
        return self._order_row(o, at_ns, ns_to_ts(at_ns), o.id.hex, ns_to_ts(o.created_ns))

    def _order_row(self, o: m.Order, at_ns: int, at: datetime, id_hex: str,
                   created: datetime) -> Row:
        status = o.status
        updated = o.updated_ns
        return (
            id_hex, self._acct, o.client_order_id, o.venue, o.exchange_order_id, o.symbol,
            o.side._value_, o.type._value_, o.time_in_force._value_, status._value_, o.qty,
            o.filled_qty, o.limit_price, o.stop_price, o.avg_fill_price, o.fee,
            o.fee_currency, o.reduce_only, o.strategy_id, _hex(o.parent_id), o.reject_reason,
            created, at if updated == at_ns or not updated else ns_to_ts(updated),
            at if status is _FILLED else None,
            at if status is _CANCELLED else None,
            at if status._value_ in _TERMINAL else None,
            o.version,
        )

    def trade_row(self, f: m.Fill, order: m.Order | None) -> Row:
        """A ``trades`` row; the strategy comes from the fill, else from its order; the
        realized PnL from :attr:`realized_of` (None: unknown)."""
        strategy = f.strategy_id or (order.strategy_id if order is not None else None)
        realized_of = self.realized_of
        return (
            f.id.hex, f.order_id.hex, self._acct, f.client_order_id, f.symbol, f.venue,
            f.exchange_trade_id, f.side._value_, f.qty, f.price, f.fee, f.fee_currency,
            f.liquidity._value_, None if realized_of is None else realized_of(f),
            f.decision_price, strategy,
            _EPOCH + timedelta(0, 0, f.ts_ns // 1000),
        )

    def _order_rows(self, e: ev.OrderEvent, extra: dict[str, Any] | None = None
                    ) -> tuple[Row, Row]:
        """The ``orders`` row and the ``order_events`` row of an order event."""
        order = e.order
        oid = order.id
        known = self._orders.pop(oid.int, None)  # an int hashes in C, a UUID in Python
        payload: dict[str, Any]
        if known is None or e.kind == "submitted":
            id_hex, created = oid.hex, ns_to_ts(order.created_ns)
            payload = {"order": order.to_dict()}
        else:  # what this event changed
            id_hex, created, before = known
            payload = {"changes": changed_fields(order, before)}
        status = order.status
        if status._value_ not in _TERMINAL:
            self._orders[oid.int] = (id_hex, created, order)
        if e.payload:
            payload["data"] = e.payload
        if extra:
            payload.update(extra)
        at_ns = e.ts_ns
        at = ns_to_ts(at_ns)
        return (self._order_row(order, at_ns, at, id_hex, created),
                (id_hex, e.seq, self._acct, e.kind, status._value_,
                 _encode_event(payload).decode(), at))

    def _order_event(self, e: ev.OrderEvent) -> Rows:
        order_row, event_row = self._order_rows(e)
        return [("orders", order_row), ("order_events", event_row)]

    def _order_filled(self, e: ev.OrderFilled) -> Rows:
        order_row, event_row = self._order_rows(e, {"fill_id": e.fill.id})
        return [("orders", order_row), ("order_events", event_row),
                ("trades", self.trade_row(e.fill, e.order))]

    def position_row(self, p: m.Position, at_ns: int) -> Row:
        """A ``positions`` row."""
        return (self._acct, p.venue, p.symbol, p.qty, p.avg_entry_price, p.realized_pnl,
                p.unrealized_pnl, p.fees, _opt_ts(p.opened_ns), _opt_ts(p.closed_ns),
                ns_to_ts(p.updated_ns or at_ns), p.version)

    def _position_changed(self, e: ev.PositionChanged) -> Rows:
        return [("positions", self.position_row(e.position, e.ts_ns))]

    # -- market data, signals, predictions, alerts -------------------------------------

    def _bar(self, b: m.Bar) -> Rows:
        if not b.closed:
            return []  # only closed bars are history; see StoreWriter.submit
        vwap = b.vwap
        return [("price_data", (
            b.venue, b.symbol, b.timeframe, _EPOCH + timedelta(0, 0, b.ts_ns // 1000),
            b.open, b.high, b.low, b.close, b.volume, None if vwap != vwap else vwap,
            b.num_trades,
        ))]

    def _signal(self, s: m.Signal) -> Rows:
        return [("signals", (uuid7(s.ts_ns // 1_000_000), self._acct, s.strategy_id,
                             s.symbol, s.direction.value, float(s.strength),
                             dumps_json(s.reasoning), ns_to_ts(s.ts_ns)))]

    def _prediction(self, p: m.Prediction) -> Rows:
        return [("ml_predictions", (
            uuid7(p.ts_ns // 1_000_000), self._acct, p.model, p.model_version, p.symbol,
            p.predicted_price, _DIRECTION[p.direction], float(p.confidence),
            dumps_json(p.feature_importance), ns_to_ts(p.ts_ns), p.horizon_s,
        ))]

    def _alert(self, a: m.Alert) -> Rows:
        return [("alerts", (uuid7(a.ts_ns // 1_000_000), self._acct, a.severity.value,
                            a.category, a.title, a.message, a.symbol, a.order_id,
                            a.strategy_id, ns_to_ts(a.ts_ns)))]

    # -- store records -----------------------------------------------------------------

    def _portfolio(self, p: r.PortfolioState) -> Rows:
        return [("portfolios", (self._acct, p.cash, p.equity, p.total_pnl, p.total_pnl_pct,
                                p.daily_pnl, p.realized_pnl, p.unrealized_pnl, p.fees, p.sharpe,
                                p.max_drawdown, p.win_rate, p.num_trades, ns_to_ts(p.ts_ns),
                                p.version, p.high_water_mark))]

    def _snapshot(self, s: r.PortfolioSnapshot) -> Rows:
        return [("portfolio_snapshots", (self._acct, ns_to_ts(s.ts_ns), s.cash, s.equity,
                                         dumps_json(s.positions)))]

    def _risk(self, e: r.RiskEventRecord) -> Rows:
        return [("risk_events", (e.id, self._acct, e.check, e.decision, e.limit_value,
                                 e.observed_value, e.order_id, e.symbol, e.strategy_id,
                                 e.message, dumps_json(e.details), ns_to_ts(e.ts_ns)))]

    def _audit(self, a: r.AuditRecord) -> Rows:
        return [("audit_log", (
            a.id, self._acct, a.actor, a.action, a.entity_type, a.entity_id,
            None if a.old is None else dumps_json(a.old),
            None if a.new is None else dumps_json(a.new), a.rationale, ns_to_ts(a.ts_ns)))]

    def _perf(self, p: r.PerformanceDaily) -> Rows:
        return [("performance_daily", (
            self._acct, p.strategy_id or "", p.day, p.trades, p.wins, p.losses, p.pnl,
            p.fees, p.max_drawdown, p.sharpe, p.equity_end, ns_to_ts(p.ts_ns)))]

    def _strategy(self, s: r.StrategyRecord) -> Rows:
        return [("strategies", (
            self._acct, s.name, s.strategy_type, s.description, dumps_json(s.config),
            s.active, s.total_pnl, s.win_rate, s.sharpe, s.num_trades,
            _opt_ts(s.last_signal_ns), ns_to_ts(s.ts_ns)))]

    def _strategy_run(self, s: r.StrategyRun) -> Rows:
        return [("strategy_runs", (
            s.id, self._acct, s.strategy_id, s.status, s.code_version, s.config_hash,
            dumps_json(s.config), ns_to_ts(s.started_ns), _opt_ts(s.stopped_ns),
            s.stop_reason))]

    def _strategy_state(self, s: r.StrategyState) -> Rows:
        return [("strategy_state", (self._acct, s.strategy_id, s.spec, s.state_json,
                                    ns_to_ts(s.ts_ns)))]

    def _backtest(self, b: r.BacktestRecord) -> Rows:
        return [("backtests", (
            b.id, b.name, b.status, dumps_json(b.config), list(b.symbols), b.timeframe,
            _opt_ts(b.data_from_ns), _opt_ts(b.data_to_ns), dumps_json(b.metrics),
            b.report_path, ns_to_ts(b.started_ns), _opt_ts(b.finished_ns),
            self._acct))]  # the run's own account (engine.backtest.persist)

    def _ml_model(self, mm: r.MlModelRecord) -> Rows:
        return [("ml_models", (mm.id, mm.name, mm.version, dumps_json(mm.params),
                               dumps_json(mm.metrics), mm.artifact_path,
                               _opt_ts(mm.trained_ns)))]

    def _signal_outcome(self, o: r.SignalOutcome) -> Rows:
        return [("signal_outcomes", (self._acct, o.strategy_id, o.symbol,
                                     ns_to_ts(o.signal_ts_ns), o.was_correct, o.outcome_return,
                                     ns_to_ts(o.resolved_ns)))]

    def _prediction_outcome(self, o: r.PredictionOutcome) -> Rows:
        return [("prediction_outcomes", (
            self._acct, o.model, o.model_version, o.symbol, o.horizon_s,
            ns_to_ts(o.predicted_ts_ns), o.actual_price, o.prediction_error, o.was_correct,
            ns_to_ts(o.resolved_ns)))]


def supported_types() -> frozenset[type]:
    """The object types :meth:`RowMaker.rows` accepts."""
    return frozenset(RowMaker(UUID(int=0))._dispatch)
