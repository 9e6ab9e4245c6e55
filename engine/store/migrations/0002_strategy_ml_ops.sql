-- 0002: strategies and their deployments, signals, ML models and predictions, alerts,
-- risk events, the audit log, daily performance, backtests, API keys, system config and
-- portfolio snapshots (the equity curve).
--
-- strategy_id columns hold the configured strategy name (engine.ids.StrategyId); they are
-- not foreign keys, so a record never waits for (or fails on) a strategies row.

CREATE TABLE strategies (
    account_id      uuid NOT NULL REFERENCES accounts (id),
    name            text NOT NULL CHECK (name <> ''),
    strategy_type   text NOT NULL CHECK (strategy_type IN ('grid_trading', 'dca', 'momentum',
                        'mean_reversion', 'statistical_arbitrage', 'market_making', 'ml',
                        'custom')),
    description     text,
    config          jsonb NOT NULL DEFAULT '{}',
    active          boolean NOT NULL DEFAULT true,
    total_pnl       numeric NOT NULL DEFAULT 0,
    win_rate        double precision CHECK (win_rate IS NULL OR win_rate BETWEEN 0 AND 1),
    sharpe          double precision,
    num_trades      bigint NOT NULL DEFAULT 0 CHECK (num_trades >= 0),
    last_signal_at  timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (account_id, name)
);
CREATE INDEX idx_strategy_type ON strategies (strategy_type);

-- Deployments (seed 002 strategy_deployments): one row per start of a strategy.
CREATE TABLE strategy_runs (
    id              uuid PRIMARY KEY,
    account_id      uuid NOT NULL REFERENCES accounts (id),
    strategy_id     text NOT NULL,
    status          text NOT NULL CHECK (status IN ('running', 'stopped', 'failed')),
    code_version    text NOT NULL DEFAULT '',
    config_hash     text NOT NULL DEFAULT '',
    config          jsonb NOT NULL DEFAULT '{}',
    started_at      timestamptz NOT NULL,
    stopped_at      timestamptz,
    stop_reason     text,
    CHECK (status = 'running' OR stopped_at IS NOT NULL),
    CHECK (stopped_at IS NULL OR stopped_at >= started_at)
);
CREATE INDEX idx_strategy_runs_strategy ON strategy_runs (account_id, strategy_id, started_at);

CREATE TABLE signals (
    id              uuid PRIMARY KEY,
    account_id      uuid NOT NULL,
    strategy_id     text NOT NULL,
    symbol          text NOT NULL,
    direction       text NOT NULL CHECK (direction IN ('long', 'short', 'flat')),
    strength        double precision NOT NULL,
    reasoning       jsonb NOT NULL DEFAULT '{}',      -- the inputs that fired it
    at              timestamptz NOT NULL,
    was_correct     boolean,                          -- backfilled (SignalOutcome)
    outcome_return  numeric,
    resolved_at     timestamptz,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT signals_natural_key UNIQUE (account_id, strategy_id, symbol, at)
);
CREATE INDEX idx_signal_strategy_at ON signals (strategy_id, at);
CREATE INDEX idx_signal_symbol_at ON signals (symbol, at);

CREATE TABLE ml_models (
    id              uuid PRIMARY KEY,
    name            text NOT NULL,
    version         text NOT NULL,
    params          jsonb NOT NULL DEFAULT '{}',
    metrics         jsonb NOT NULL DEFAULT '{}',
    artifact_path   text,
    trained_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ml_models_name_version_key UNIQUE (name, version)
);

CREATE TABLE ml_predictions (
    id                   uuid PRIMARY KEY,
    account_id           uuid NOT NULL,
    model_name           text NOT NULL,
    model_version        text NOT NULL DEFAULT '',
    symbol               text NOT NULL,
    predicted_price      numeric CHECK (predicted_price IS NULL OR predicted_price > 0),
    predicted_direction  text NOT NULL CHECK (predicted_direction IN ('up', 'down', 'neutral')),
    confidence           double precision CHECK (confidence IS NULL OR confidence BETWEEN 0 AND 1),
    feature_importance   jsonb NOT NULL DEFAULT '{}',
    predicted_at         timestamptz NOT NULL,
    horizon_s            integer NOT NULL CHECK (horizon_s > 0),
    actual_price         numeric,                    -- backfilled (PredictionOutcome)
    prediction_error     numeric,
    was_correct          boolean,
    resolved_at          timestamptz,
    recorded_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ml_predictions_natural_key
        UNIQUE (account_id, model_name, model_version, symbol, horizon_s, predicted_at)
);
CREATE INDEX idx_prediction_symbol_time ON ml_predictions (symbol, predicted_at);
CREATE INDEX idx_prediction_model ON ml_predictions (model_name);

CREATE TABLE alerts (
    id               uuid PRIMARY KEY,
    account_id       uuid NOT NULL,
    severity         text NOT NULL CHECK (severity IN ('info', 'warning', 'error', 'critical')),
    category         text NOT NULL DEFAULT 'system',
    title            text NOT NULL,
    message          text NOT NULL,
    symbol           text,
    order_id         uuid,
    strategy_id      text,
    created_at       timestamptz NOT NULL,
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    resolved_at      timestamptz,
    CHECK (acknowledged_at IS NULL OR acknowledged_by IS NOT NULL)
);
CREATE INDEX idx_alert_account_created ON alerts (account_id, created_at);
CREATE INDEX idx_alert_severity ON alerts (severity);
CREATE INDEX idx_alert_unresolved ON alerts (created_at) WHERE resolved_at IS NULL;

-- Pre-trade checks and limit breaches (seed 002 risk_violations, seed 003 risk_alerts).
CREATE TABLE risk_events (
    id              uuid PRIMARY KEY,
    account_id      uuid NOT NULL,
    check_name      text NOT NULL,
    decision        text NOT NULL CHECK (decision IN ('allow', 'reject', 'warn', 'halt', 'resume')),
    limit_value     numeric,
    observed_value  numeric,
    order_id        uuid,
    symbol          text,
    strategy_id     text,
    message         text NOT NULL DEFAULT '',
    details         jsonb NOT NULL DEFAULT '{}',
    at              timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_risk_events_account_at ON risk_events (account_id, at);
CREATE INDEX idx_risk_events_decision ON risk_events (decision, at) WHERE decision <> 'allow';

-- Seed 002 trading_audit_trail: who did what, before and after, and why.
CREATE TABLE audit_log (
    id           uuid PRIMARY KEY,
    account_id   uuid,
    actor        text NOT NULL,
    action       text NOT NULL,
    entity_type  text NOT NULL,
    entity_id    text,
    old_data     jsonb,
    new_data     jsonb,
    rationale    text,
    at           timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_audit_at ON audit_log USING brin (at);
CREATE INDEX idx_audit_entity ON audit_log (entity_type, entity_id);

-- strategy_id '' is the whole account.
CREATE TABLE performance_daily (
    account_id    uuid NOT NULL REFERENCES accounts (id),
    strategy_id   text NOT NULL DEFAULT '',
    day           date NOT NULL,
    trades        integer NOT NULL DEFAULT 0 CHECK (trades >= 0),
    wins          integer NOT NULL DEFAULT 0 CHECK (wins >= 0),
    losses        integer NOT NULL DEFAULT 0 CHECK (losses >= 0),
    pnl           numeric NOT NULL DEFAULT 0,
    fees          numeric NOT NULL DEFAULT 0,
    max_drawdown  numeric CHECK (max_drawdown IS NULL OR max_drawdown >= 0),
    sharpe        double precision,
    equity_end    numeric,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (account_id, strategy_id, day),
    CHECK (wins + losses <= trades)
);

CREATE TABLE backtests (
    id            uuid PRIMARY KEY,
    name          text NOT NULL,
    status        text NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
    config        jsonb NOT NULL DEFAULT '{}',
    symbols       text[] NOT NULL DEFAULT '{}',
    timeframe     text,
    data_from     timestamptz,
    data_to       timestamptz,
    metrics       jsonb NOT NULL DEFAULT '{}',
    report_path   text,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    CHECK (data_to IS NULL OR data_from IS NULL OR data_to >= data_from),
    CHECK (status = 'running' OR finished_at IS NOT NULL)
);
CREATE INDEX idx_backtests_started ON backtests (started_at);

-- The secret is never stored: only a prefix to find the row and a hash to verify it.
CREATE TABLE api_keys (
    id                     uuid PRIMARY KEY,
    account_id             uuid REFERENCES accounts (id),
    key_prefix             text NOT NULL CONSTRAINT api_keys_key_prefix_key UNIQUE,
    secret_hash            text NOT NULL CHECK (secret_hash ~ '^(sha256:[0-9a-f]{64}|\$argon2(id|i|d)\$.+)$'),
    name                   text NOT NULL,
    permissions            text[] NOT NULL DEFAULT '{}',
    rate_limit_per_minute  integer NOT NULL DEFAULT 60 CHECK (rate_limit_per_minute > 0),
    active                 boolean NOT NULL DEFAULT true,
    last_used_at           timestamptz,
    total_requests         bigint NOT NULL DEFAULT 0,
    created_at             timestamptz NOT NULL DEFAULT now(),
    expires_at             timestamptz
);

CREATE TABLE system_config (
    key         text PRIMARY KEY,
    value       jsonb NOT NULL,
    updated_by  text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Seed 002 portfolio_snapshots: the equity curve.
CREATE TABLE portfolio_snapshots (
    account_id  uuid NOT NULL REFERENCES accounts (id),
    at          timestamptz NOT NULL,
    cash        numeric NOT NULL,
    equity      numeric NOT NULL,
    positions   jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (account_id, at)
);
