-- 0006: what each strategy keeps between runs (its on_save state), so a restart resumes a
-- strategy where it was instead of starting it blank beside the position and the working
-- orders it left (which the ledgers restore). One row per strategy, the latest wins.

CREATE TABLE strategy_state (
    account_id      uuid NOT NULL REFERENCES accounts (id),
    strategy_id     text NOT NULL CHECK (strategy_id <> ''),
    class           text NOT NULL,          -- the [[strategies]] class it was saved by
    state           jsonb NOT NULL,
    saved_at        timestamptz NOT NULL,
    PRIMARY KEY (account_id, strategy_id)
);
