-- 0003: price_data (OHLCV bars) and the realtime market data cache.
--
-- With TimescaleDB available (installed and in shared_preload_libraries) price_data is a
-- hypertable with 1-day chunks, compression after 7 days and retention of 2 years (seed
-- 001). Otherwise it is range-partitioned by month with native declarative partitioning;
-- ensure_price_partitions() creates partitions ahead (migrate creates the next months, the
-- writer calls it for every month it is about to write and once an hour).

DO $migration$
DECLARE
    cols constant text := $cols$
        exchange    text NOT NULL,
        symbol      text NOT NULL,
        timeframe   text NOT NULL CHECK (timeframe ~ '^[0-9]+(s|m|h|d|w|M)$'),
        ts          timestamptz NOT NULL,
        open        numeric NOT NULL CHECK (open > 0),
        high        numeric NOT NULL,
        low         numeric NOT NULL CHECK (low > 0),
        close       numeric NOT NULL CHECK (close > 0),
        volume      numeric NOT NULL CHECK (volume >= 0),
        vwap        numeric CHECK (vwap IS NULL OR vwap > 0),
        num_trades  integer CHECK (num_trades IS NULL OR num_trades >= 0),
        CONSTRAINT price_data_pkey PRIMARY KEY (exchange, symbol, timeframe, ts),
        CONSTRAINT price_data_high_low CHECK (high >= low)
    $cols$;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
       AND coalesce(current_setting('shared_preload_libraries', true), '') LIKE '%timescaledb%'
    THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
        EXECUTE 'CREATE TABLE price_data (' || cols || ')';
        PERFORM create_hypertable('price_data', 'ts', chunk_time_interval => interval '1 day');
        EXECUTE 'ALTER TABLE price_data SET (timescaledb.compress, '
             || 'timescaledb.compress_segmentby = ''exchange, symbol, timeframe'', '
             || 'timescaledb.compress_orderby = ''ts DESC'')';
        PERFORM add_compression_policy('price_data', interval '7 days');
        PERFORM add_retention_policy('price_data', interval '2 years');
    ELSE
        EXECUTE 'CREATE TABLE price_data (' || cols || ') PARTITION BY RANGE (ts)';
    END IF;
END
$migration$;

CREATE INDEX idx_price_symbol_time ON price_data (symbol, ts);
CREATE INDEX idx_price_exchange_time ON price_data (exchange, ts);

-- Creates the monthly partitions covering [p_from, p_to); returns how many it created.
-- A no-op when price_data is a hypertable. Safe to call concurrently.
CREATE FUNCTION ensure_price_partitions(p_from timestamptz, p_to timestamptz)
RETURNS integer
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
    m      timestamp;
    upto   timestamp := p_to AT TIME ZONE 'UTC';
    part   text;
    made   integer := 0;
BEGIN
    IF (SELECT relkind FROM pg_class WHERE oid = 'price_data'::regclass) <> 'p' THEN
        RETURN 0;
    END IF;
    m := date_trunc('month', p_from AT TIME ZONE 'UTC');
    WHILE m < upto LOOP
        part := 'price_data_' || to_char(m, 'YYYYMM');
        IF to_regclass(part) IS NULL THEN
            BEGIN
                EXECUTE format(
                    'CREATE TABLE %I PARTITION OF price_data FOR VALUES FROM (%L) TO (%L)',
                    part, m AT TIME ZONE 'UTC', (m + interval '1 month') AT TIME ZONE 'UTC');
                made := made + 1;
            EXCEPTION WHEN duplicate_table OR unique_violation THEN
                NULL;  -- another session created it first
            END;
        END IF;
        m := m + interval '1 month';
    END LOOP;
    RETURN made;
END
$fn$;

SELECT ensure_price_partitions(now() - interval '1 month', now() + interval '3 months');

-- Seed 000 market_data_realtime / seed 002 market_data_cache: the latest bar per
-- (exchange, symbol, timeframe), maintained by the writer with every flush of bars.
CREATE TABLE market_data_latest (
    exchange    text NOT NULL,
    symbol      text NOT NULL,
    timeframe   text NOT NULL,
    ts          timestamptz NOT NULL,
    open        numeric NOT NULL,
    high        numeric NOT NULL,
    low         numeric NOT NULL,
    close       numeric NOT NULL,
    volume      numeric NOT NULL,
    vwap        numeric,
    num_trades  integer,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (exchange, symbol, timeframe)
);
