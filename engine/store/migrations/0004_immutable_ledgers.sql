-- 0004: the ledgers are append-only (seed 003). UPDATE, DELETE and TRUNCATE raise; only
-- INSERT (including INSERT ... ON CONFLICT DO NOTHING, which updates nothing) is allowed.
-- Current state (orders, positions, portfolios) is a projection rebuilt from these.

CREATE FUNCTION forbid_ledger_mutation() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION '% is an append-only ledger: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'ledger rows are never changed; record a correcting entry instead';
END
$fn$;

CREATE TRIGGER trades_append_only BEFORE UPDATE OR DELETE ON trades
    FOR EACH ROW EXECUTE FUNCTION forbid_ledger_mutation();
CREATE TRIGGER trades_no_truncate BEFORE TRUNCATE ON trades
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_ledger_mutation();

CREATE TRIGGER order_events_append_only BEFORE UPDATE OR DELETE ON order_events
    FOR EACH ROW EXECUTE FUNCTION forbid_ledger_mutation();
CREATE TRIGGER order_events_no_truncate BEFORE TRUNCATE ON order_events
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_ledger_mutation();

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION forbid_ledger_mutation();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_ledger_mutation();

CREATE TRIGGER risk_events_append_only BEFORE UPDATE OR DELETE ON risk_events
    FOR EACH ROW EXECUTE FUNCTION forbid_ledger_mutation();
CREATE TRIGGER risk_events_no_truncate BEFORE TRUNCATE ON risk_events
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_ledger_mutation();
