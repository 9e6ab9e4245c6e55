-- 0005: views for dashboards (seed 000 summary views, seed 004 realtime views).

CREATE VIEW v_open_orders AS
SELECT o.id, o.account_id, o.client_order_id, o.exchange, o.exchange_order_id, o.symbol,
       o.side, o.order_type, o.time_in_force, o.status, o.qty, o.filled_qty,
       o.qty - o.filled_qty AS remaining_qty, o.limit_price, o.stop_price, o.avg_fill_price,
       o.strategy_id, o.parent_order_id, o.created_at, o.updated_at,
       now() - o.created_at AS age
FROM orders o
WHERE o.status IN ('pending', 'open', 'partially_filled');

CREATE VIEW v_latest_prices AS
SELECT exchange, symbol, timeframe, ts, open, high, low, close, volume, vwap, num_trades,
       updated_at, now() - ts AS age
FROM market_data_latest;

CREATE VIEW v_portfolio_summary AS
SELECT a.id AS account_id, a.name, a.venue, a.mode, a.base_currency, a.starting_cash,
       p.cash, p.equity, p.total_pnl,
       CASE WHEN a.starting_cash > 0 THEN (p.equity - a.starting_cash) / a.starting_cash END
           AS total_return,
       p.daily_pnl, p.realized_pnl, p.unrealized_pnl, p.fees, p.sharpe, p.max_drawdown,
       p.win_rate, p.num_trades,
       coalesce(pos.open_positions, 0) AS open_positions,
       coalesce(pos.gross_exposure, 0) AS gross_exposure,
       coalesce(oo.open_orders, 0) AS open_orders,
       p.updated_at
FROM accounts a
LEFT JOIN portfolios p ON p.account_id = a.id
LEFT JOIN LATERAL (
    SELECT count(*) AS open_positions,
           sum(abs(ps.qty) * coalesce(l.close, ps.avg_entry_price)) AS gross_exposure
    FROM positions ps
    LEFT JOIN LATERAL (
        SELECT m.close FROM market_data_latest m
        WHERE m.exchange = ps.exchange AND m.symbol = ps.symbol
        ORDER BY m.ts DESC LIMIT 1
    ) l ON true
    WHERE ps.account_id = a.id AND ps.qty <> 0
) pos ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS open_orders FROM orders o
    WHERE o.account_id = a.id AND o.status IN ('pending', 'open', 'partially_filled')
) oo ON true;

CREATE VIEW v_strategy_performance AS
WITH t AS (
    SELECT account_id, strategy_id, count(*) AS fills, sum(value) AS volume,
           sum(fee) AS fees, sum(realized_pnl) AS realized_pnl,
           avg(slippage) AS avg_slippage, max(executed_at) AS last_fill_at
    FROM trades WHERE strategy_id IS NOT NULL
    GROUP BY account_id, strategy_id
), d AS (
    SELECT account_id, strategy_id, sum(trades) AS trades, sum(wins) AS wins,
           sum(losses) AS losses, sum(pnl) AS pnl, max(max_drawdown) AS max_drawdown,
           count(*) AS days
    FROM performance_daily WHERE strategy_id <> ''
    GROUP BY account_id, strategy_id
), keys AS (
    SELECT account_id, name AS strategy_id FROM strategies
    UNION SELECT account_id, strategy_id FROM t
    UNION SELECT account_id, strategy_id FROM d
)
SELECT k.account_id, k.strategy_id, s.strategy_type, coalesce(s.active, false) AS active,
       coalesce(t.fills, 0) AS fills, coalesce(t.volume, 0) AS volume,
       coalesce(t.fees, 0) AS fees, t.realized_pnl, t.avg_slippage, t.last_fill_at,
       coalesce(d.trades, 0) AS trades, coalesce(d.wins, 0) AS wins,
       coalesce(d.losses, 0) AS losses, d.pnl AS daily_pnl_sum, d.max_drawdown, d.days,
       CASE WHEN coalesce(d.wins, 0) + coalesce(d.losses, 0) > 0
            THEN d.wins::double precision / (d.wins + d.losses) END AS win_rate,
       s.sharpe, s.last_signal_at
FROM keys k
LEFT JOIN strategies s ON s.account_id = k.account_id AND s.name = k.strategy_id
LEFT JOIN t ON t.account_id = k.account_id AND t.strategy_id = k.strategy_id
LEFT JOIN d ON d.account_id = k.account_id AND d.strategy_id = k.strategy_id;

-- Hit rate per strategy (signals with a backfilled outcome) and per model (predictions).
CREATE VIEW v_signal_performance AS
SELECT 'strategy'::text AS source, account_id, strategy_id AS name, ''::text AS version,
       count(*) AS signals, count(was_correct) AS resolved,
       count(*) FILTER (WHERE was_correct) AS hits,
       CASE WHEN count(was_correct) > 0
            THEN (count(*) FILTER (WHERE was_correct))::double precision / count(was_correct)
       END AS hit_rate,
       NULL::numeric AS avg_abs_error, avg(outcome_return) AS avg_return,
       max(at) AS last_at
FROM signals
GROUP BY account_id, strategy_id
UNION ALL
SELECT 'model', account_id, model_name, model_version,
       count(*), count(was_correct), count(*) FILTER (WHERE was_correct),
       CASE WHEN count(was_correct) > 0
            THEN (count(*) FILTER (WHERE was_correct))::double precision / count(was_correct)
       END,
       avg(abs(prediction_error)), NULL::numeric, max(predicted_at)
FROM ml_predictions
GROUP BY account_id, model_name, model_version;

-- For audits: ledger rows whose order is not (yet) in orders. Empty in a healthy database.
CREATE VIEW v_ledger_orphans AS
SELECT 'trades'::text AS ledger, t.order_id, t.executed_at AS at
FROM trades t WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = t.order_id)
UNION ALL
SELECT 'order_events', e.order_id, e.at
FROM order_events e WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = e.order_id);
