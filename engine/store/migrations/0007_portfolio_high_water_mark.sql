-- 0007: the account's high-water mark beside its max drawdown, so that a restart carries
-- on the all-time figures (drawdown from the same peak, Sharpe over the same days) instead
-- of starting them again from the starting cash.

ALTER TABLE portfolios ADD COLUMN high_water_mark numeric
    CHECK (high_water_mark IS NULL OR high_water_mark >= 0);

-- the dashboards' summary shows it too (a column added at the end)
CREATE OR REPLACE VIEW v_portfolio_summary AS
SELECT a.id AS account_id, a.name, a.venue, a.mode, a.base_currency, a.starting_cash,
       p.cash, p.equity, p.total_pnl,
       CASE WHEN a.starting_cash > 0 THEN (p.equity - a.starting_cash) / a.starting_cash END
           AS total_return,
       p.daily_pnl, p.realized_pnl, p.unrealized_pnl, p.fees, p.sharpe, p.max_drawdown,
       p.win_rate, p.num_trades,
       coalesce(pos.open_positions, 0) AS open_positions,
       coalesce(pos.gross_exposure, 0) AS gross_exposure,
       coalesce(oo.open_orders, 0) AS open_orders,
       p.updated_at, p.high_water_mark
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
