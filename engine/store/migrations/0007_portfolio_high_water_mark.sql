-- 0007: the account's high-water mark beside its max drawdown, so that a restart carries
-- on the all-time figures (drawdown from the same peak, Sharpe over the same days) instead
-- of starting them again from the starting cash.

ALTER TABLE portfolios ADD COLUMN high_water_mark numeric
    CHECK (high_water_mark IS NULL OR high_water_mark >= 0);
