-- 0008: each backtest runs in an account of its own, so that its orders, trades,
-- positions, portfolio and daily performance are its own: with one shared "backtest"
-- account, two runs over the same days mixed their rows and overwrote each other's daily
-- performance, and no row said which run it came from. The run's row names its account.

ALTER TABLE backtests ADD COLUMN account_id uuid REFERENCES accounts (id);
CREATE INDEX idx_backtests_account ON backtests (account_id);
