-- 0001_core: accounts, portfolios, positions, orders and the two trading ledgers.
--
-- Applied by engine.store.migrate with search_path set to the engine's schema, so names are
-- unqualified. Conventions: ids are UUIDv7 made by the engine; money, prices and
-- quantities are numeric; timestamps are timestamptz (UTC, microsecond precision); enums
-- are text with CHECK constraints (seed 001's six enums) so adding a value is a one-line
-- migration rather than an ALTER TYPE.
--
-- Seed 001 index map (users/portfolios collapse into accounts/portfolios for an engine):
--   idx_users_username, idx_users_email  -> accounts_venue_name_mode_key (unique)
--   idx_portfolio_user                   -> portfolios_pkey (account_id)
--   idx_position_portfolio               -> positions_pkey (account_id, exchange, symbol)
--   idx_position_symbol                  -> idx_position_symbol
--   idx_order_user, idx_order_portfolio  -> idx_order_account_created (account_id, created_at)
--   idx_orders_exchange_id               -> orders_exchange_order_id_key (exchange, exchange_order_id)
--   idx_orders_client_id                 -> orders_client_order_id_key
--   idx_order_symbol, idx_order_created  -> idx_order_symbol, idx_order_created
--   idx_order_status                     -> idx_order_status (partial: open orders only)
--   idx_trades_exchange_id               -> trades_exchange_exchange_trade_id_key
--   idx_trade_portfolio                  -> idx_trade_account_symbol_executed
--   idx_trade_symbol, idx_trade_executed -> idx_trade_symbol, idx_trade_executed (BRIN)
--   the rest (strategies, alerts, price_data, ml_predictions) in 0002/0003.

CREATE TABLE accounts (
    id             uuid PRIMARY KEY,
    name           text NOT NULL CHECK (name <> ''),
    venue          text NOT NULL CHECK (venue <> ''),
    mode           text NOT NULL CHECK (mode IN ('paper', 'live')),
    base_currency  text NOT NULL DEFAULT 'USDT' CHECK (base_currency <> ''),
    starting_cash  numeric NOT NULL DEFAULT 0 CHECK (starting_cash >= 0),
    active         boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accounts_venue_name_mode_key UNIQUE (venue, name, mode)
);

CREATE TABLE portfolios (
    account_id      uuid PRIMARY KEY REFERENCES accounts (id),
    cash            numeric NOT NULL DEFAULT 0,
    equity          numeric NOT NULL DEFAULT 0,
    total_pnl       numeric NOT NULL DEFAULT 0,
    total_pnl_pct   numeric,
    daily_pnl       numeric NOT NULL DEFAULT 0,
    realized_pnl    numeric NOT NULL DEFAULT 0,
    unrealized_pnl  numeric NOT NULL DEFAULT 0,
    fees            numeric NOT NULL DEFAULT 0 CHECK (fees >= 0),
    sharpe          double precision,
    max_drawdown    numeric CHECK (max_drawdown IS NULL OR max_drawdown >= 0),
    win_rate        double precision CHECK (win_rate IS NULL OR win_rate BETWEEN 0 AND 1),
    num_trades      bigint NOT NULL DEFAULT 0 CHECK (num_trades >= 0),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         bigint NOT NULL DEFAULT 1 CHECK (version >= 1)
);

CREATE TABLE positions (
    account_id       uuid NOT NULL REFERENCES accounts (id),
    exchange         text NOT NULL,
    symbol           text NOT NULL,
    qty              numeric NOT NULL,                 -- > 0 long, < 0 short, 0 flat
    avg_entry_price  numeric NOT NULL DEFAULT 0 CHECK (avg_entry_price >= 0),
    realized_pnl     numeric NOT NULL DEFAULT 0,
    unrealized_pnl   numeric NOT NULL DEFAULT 0,
    fees             numeric NOT NULL DEFAULT 0 CHECK (fees >= 0),
    opened_at        timestamptz,
    closed_at        timestamptz,
    updated_at       timestamptz NOT NULL,
    version          bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    PRIMARY KEY (account_id, exchange, symbol),
    CHECK (qty = 0 OR opened_at IS NOT NULL)
);
CREATE INDEX idx_position_symbol ON positions (symbol);

CREATE TABLE orders (
    id                 uuid PRIMARY KEY,
    account_id         uuid NOT NULL REFERENCES accounts (id),
    client_order_id    text NOT NULL CONSTRAINT orders_client_order_id_key UNIQUE,
    exchange           text NOT NULL,
    exchange_order_id  text,
    symbol             text NOT NULL,
    side               text NOT NULL CHECK (side IN ('buy', 'sell')),
    order_type         text NOT NULL CHECK (order_type IN
                           ('market', 'limit', 'stop_loss', 'stop_limit', 'twap', 'vwap')),
    time_in_force      text NOT NULL DEFAULT 'gtc' CHECK (time_in_force IN ('gtc', 'ioc', 'fok')),
    status             text NOT NULL CHECK (status IN ('pending', 'open', 'partially_filled',
                           'filled', 'cancelled', 'rejected', 'expired')),
    qty                numeric NOT NULL CHECK (qty > 0),
    filled_qty         numeric NOT NULL DEFAULT 0 CHECK (filled_qty >= 0),
    limit_price        numeric CHECK (limit_price IS NULL OR limit_price > 0),
    stop_price         numeric CHECK (stop_price IS NULL OR stop_price > 0),
    avg_fill_price     numeric CHECK (avg_fill_price IS NULL OR avg_fill_price >= 0),
    fee                numeric NOT NULL DEFAULT 0,
    fee_currency       text,
    reduce_only        boolean NOT NULL DEFAULT false,
    strategy_id        text,
    parent_order_id    uuid,                            -- TWAP/VWAP parent (no FK: children may land first)
    reject_reason      text,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    filled_at          timestamptz,
    cancelled_at       timestamptz,
    closed_at          timestamptz,                     -- set for every terminal status
    version            bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    CONSTRAINT orders_exchange_order_id_key UNIQUE (exchange, exchange_order_id),
    CONSTRAINT orders_filled_le_qty CHECK (filled_qty <= qty),
    CONSTRAINT orders_limit_has_price CHECK
        (order_type NOT IN ('limit', 'stop_limit') OR limit_price IS NOT NULL),
    CONSTRAINT orders_stop_has_price CHECK
        (order_type NOT IN ('stop_loss', 'stop_limit') OR stop_price IS NOT NULL),
    CONSTRAINT orders_terminal_has_closed_at CHECK
        (status NOT IN ('filled', 'cancelled', 'rejected', 'expired') OR closed_at IS NOT NULL),
    CONSTRAINT orders_filled_has_filled_at CHECK (status <> 'filled' OR filled_at IS NOT NULL),
    CONSTRAINT orders_cancelled_has_cancelled_at CHECK
        (status <> 'cancelled' OR cancelled_at IS NOT NULL)
);
CREATE INDEX idx_order_account_created ON orders (account_id, created_at);
CREATE INDEX idx_order_symbol ON orders (symbol);
CREATE INDEX idx_order_created ON orders (created_at);
CREATE INDEX idx_order_status ON orders (status)
    WHERE status IN ('pending', 'open', 'partially_filled');
CREATE INDEX idx_order_strategy ON orders (strategy_id, created_at) WHERE strategy_id IS NOT NULL;
CREATE INDEX idx_order_parent ON orders (parent_order_id) WHERE parent_order_id IS NOT NULL;

-- The ledgers below do not reference orders by foreign key, on purpose: orders is a
-- projection of order_events (payload->'order' holds the order after each event), and the
-- ledgers are the primary record. A ledger row must never be refused because its order
-- row is late: after an outage, the journal may deliver them in a different order.
-- v_ledger_orphans (0005) lists ledger rows whose order row is missing, for audits.

-- Event sourcing (seed 003): every change of an order, in order, with the order's state
-- after the event in payload->'order', so the orders projection can be rebuilt.
CREATE TABLE order_events (
    order_id     uuid NOT NULL,
    seq          integer NOT NULL CHECK (seq >= 0),
    account_id   uuid NOT NULL,
    event_type   text NOT NULL CHECK (event_type IN ('submitted', 'accepted', 'rejected',
                     'triggered', 'filled', 'cancelled', 'expired')),
    status       text NOT NULL,
    payload      jsonb NOT NULL DEFAULT '{}',
    at           timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, seq)
);
CREATE INDEX idx_order_events_at ON order_events USING brin (at);

-- The fills ledger (append-only). value and slippage are computed by the server.
CREATE TABLE trades (
    id                 uuid PRIMARY KEY,
    order_id           uuid NOT NULL,
    account_id         uuid NOT NULL,
    client_order_id    text NOT NULL,
    symbol             text NOT NULL,
    exchange           text NOT NULL,
    exchange_trade_id  text NOT NULL CHECK (exchange_trade_id <> ''),
    side               text NOT NULL CHECK (side IN ('buy', 'sell')),
    qty                numeric NOT NULL CHECK (qty > 0),
    price              numeric NOT NULL CHECK (price > 0),
    value              numeric GENERATED ALWAYS AS (qty * price) STORED,
    fee                numeric NOT NULL DEFAULT 0,
    fee_currency       text,
    liquidity          text NOT NULL DEFAULT 'taker' CHECK (liquidity IN ('maker', 'taker')),
    realized_pnl       numeric,
    decision_price     numeric CHECK (decision_price IS NULL OR decision_price > 0),
    -- slippage per unit against the price at decision time; positive = paid more / got less
    slippage           numeric GENERATED ALWAYS AS
                           (CASE WHEN side = 'buy' THEN price - decision_price
                                 ELSE decision_price - price END) STORED,
    strategy_id        text,
    executed_at        timestamptz NOT NULL,
    recorded_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT trades_exchange_exchange_trade_id_key UNIQUE (exchange, exchange_trade_id)
);
CREATE INDEX idx_trade_account_symbol_executed ON trades (account_id, symbol, executed_at);
CREATE INDEX idx_trade_symbol ON trades (symbol);
CREATE INDEX idx_trade_executed ON trades USING brin (executed_at);
CREATE INDEX idx_trade_order ON trades (order_id);
