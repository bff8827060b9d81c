-- Initial schema (SQLite). Keep in step with ../postgres/0001_initial.sql: a test asserts both
-- trees produce the same tables, columns, nullability and indexes.
-- STRICT makes an overflowing integer fail loudly instead of turning into REAL.
-- Every column is declared NOT NULL explicitly (even primary keys) so introspection matches.

CREATE TABLE users (
    id INTEGER PRIMARY KEY NOT NULL,
    email TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    CONSTRAINT uq_users_email UNIQUE (email)
) STRICT;

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id INTEGER NOT NULL,
    access_key TEXT NOT NULL,
    secret_ciphertext BLOB NOT NULL,
    memo TEXT NOT NULL,
    scopes TEXT NOT NULL,
    ip_allowlist TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT fk_api_keys_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT uq_api_keys_access_key UNIQUE (access_key),
    CONSTRAINT ck_api_keys_revoked CHECK (revoked IN (0, 1))
) STRICT;

CREATE INDEX ix_api_keys_user ON api_keys (user_id, id);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY NOT NULL,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    params_json TEXT NOT NULL
) STRICT;

-- The audit log is append-only: the database itself refuses edits, not just the code.
CREATE TRIGGER tr_audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER tr_audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- Projections: read models rebuilt from engine events. No foreign keys to users on purpose:
-- the engine is the source of truth for these rows and must never be blocked by the SQL side.

CREATE TABLE orders (
    order_id INTEGER PRIMARY KEY NOT NULL,
    user_id INTEGER NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    kind TEXT NOT NULL,
    price_ticks INTEGER NOT NULL,
    size_lots INTEGER NOT NULL,
    notional INTEGER NOT NULL,
    filled_lots INTEGER NOT NULL,
    filled_quote INTEGER NOT NULL,
    fee_paid INTEGER NOT NULL,
    state TEXT NOT NULL,
    cancel_reason TEXT,
    client_order_id TEXT,
    stp TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    last_seq INTEGER NOT NULL
) STRICT;

CREATE INDEX ix_orders_user_state_created ON orders (user_id, state, created_ms);
CREATE INDEX ix_orders_user_client_id ON orders (user_id, client_order_id)
    WHERE client_order_id IS NOT NULL;
CREATE INDEX ix_orders_live ON orders (order_id)
    WHERE state IN ('new', 'partially_filled');

CREATE TABLE trades (
    trade_id INTEGER PRIMARY KEY NOT NULL,
    symbol TEXT NOT NULL,
    price_ticks INTEGER NOT NULL,
    size_lots INTEGER NOT NULL,
    quote_amount INTEGER NOT NULL,
    taker_side TEXT NOT NULL,
    maker_order_id INTEGER NOT NULL,
    taker_order_id INTEGER NOT NULL,
    maker_user_id INTEGER NOT NULL,
    taker_user_id INTEGER NOT NULL,
    maker_fee INTEGER NOT NULL,
    maker_fee_asset TEXT NOT NULL,
    taker_fee INTEGER NOT NULL,
    taker_fee_asset TEXT NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    seq INTEGER NOT NULL
) STRICT;

CREATE INDEX ix_trades_symbol_time ON trades (symbol, timestamp_ms, trade_id);
CREATE INDEX ix_trades_maker_user_time ON trades (maker_user_id, timestamp_ms);
CREATE INDEX ix_trades_taker_user_time ON trades (taker_user_id, timestamp_ms);
CREATE INDEX ix_trades_maker_order ON trades (maker_order_id);
CREATE INDEX ix_trades_taker_order ON trades (taker_order_id);

CREATE TABLE balances (
    user_id INTEGER NOT NULL,
    asset TEXT NOT NULL,
    available INTEGER NOT NULL,
    held INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    CONSTRAINT pk_balances PRIMARY KEY (user_id, asset)
) STRICT;

CREATE TABLE projection_state (
    name TEXT PRIMARY KEY NOT NULL,
    last_seq INTEGER NOT NULL
) STRICT;
