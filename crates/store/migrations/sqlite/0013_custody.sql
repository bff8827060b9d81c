-- Custody (issue 10). Balances never live here: deposits are credited and withdrawals held,
-- completed or released by engine commands keyed by these rows' ids; these tables say what
-- happened on chain and where each request stands.

-- One deposit address per user, asset and network, derived from the network's master public
-- key (so the address is a pure function of the key and these three; the row is the reverse
-- lookup the chain scanner needs).
CREATE TABLE deposit_addresses (
    user_id INTEGER NOT NULL,
    asset TEXT NOT NULL,
    network TEXT NOT NULL,
    address TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    CONSTRAINT pk_deposit_addresses PRIMARY KEY (user_id, asset, network),
    CONSTRAINT fk_deposit_addresses_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT uq_deposit_addresses_address UNIQUE (network, address)
) STRICT;

-- Every incoming transfer to a deposit address, from detection on. A chain output is recorded
-- once (network, txid, output index), which is also the engine's credit reference, so a
-- re-scan or a restart never credits twice.
CREATE TABLE deposits (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id INTEGER NOT NULL,
    asset TEXT NOT NULL,
    network TEXT NOT NULL,
    address TEXT NOT NULL,
    txid TEXT NOT NULL,
    output_index INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    block_height INTEGER NOT NULL,
    -- The block's hash when seen: a reorganisation that drops or moves the transaction is
    -- caught by comparing it with the chain again.
    block_hash TEXT NOT NULL,
    confirmations INTEGER NOT NULL,
    required_confirmations INTEGER NOT NULL,
    state TEXT NOT NULL,
    detected_ms INTEGER NOT NULL,
    credited_ms INTEGER,
    -- When the deposit was moved on to the custody wallets (NULL until then; retried).
    swept_ms INTEGER,
    CONSTRAINT fk_deposits_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT uq_deposits_output UNIQUE (network, txid, output_index),
    CONSTRAINT ck_deposits_state CHECK (state IN ('pending', 'credited', 'below_minimum', 'reverted'))
) STRICT;
CREATE INDEX ix_deposits_user ON deposits (user_id, detected_ms);
CREATE INDEX ix_deposits_state ON deposits (network, state);

-- Withdrawal requests and where each stands. Ids are never reused (AUTOINCREMENT): the id
-- names the engine's hold, and a request refused at its hold is deleted. `amount` is what the user asked to withdraw and
-- the engine holds; `fee` is kept from it, so `amount - fee` arrives.
CREATE TABLE withdrawals (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id INTEGER NOT NULL,
    asset TEXT NOT NULL,
    network TEXT NOT NULL,
    address TEXT NOT NULL,
    memo TEXT NOT NULL,
    amount INTEGER NOT NULL,
    fee INTEGER NOT NULL,
    -- Value in micro-USDT when requested: the KYC tier's rolling limits sum these.
    usdt_micros INTEGER NOT NULL,
    state TEXT NOT NULL,
    -- Hash of the token in the confirmation email; NULL once used.
    confirm_hash BLOB,
    confirm_expires_ms INTEGER NOT NULL,
    approvals_needed INTEGER NOT NULL,
    txid TEXT,
    block_height INTEGER,
    -- What the network charged for the payout (gas), and in which asset, once confirmed.
    network_fee INTEGER,
    network_fee_asset TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    CONSTRAINT fk_withdrawals_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT uq_withdrawals_confirm UNIQUE (confirm_hash),
    CONSTRAINT ck_withdrawals_state CHECK (state IN ('requested', 'email_confirmed', 'risk_review',
        'approved', 'signed', 'broadcast', 'confirmed', 'rejected', 'cancelled', 'failed'))
) STRICT;
CREATE INDEX ix_withdrawals_user ON withdrawals (user_id, created_ms);
CREATE INDEX ix_withdrawals_state ON withdrawals (state);

-- Every transition of a withdrawal, with who made it (user, staff:<id>, system) and when.
CREATE TABLE withdrawal_events (
    id INTEGER PRIMARY KEY NOT NULL,
    withdrawal_id INTEGER NOT NULL,
    state TEXT NOT NULL,
    actor TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    note TEXT NOT NULL,
    CONSTRAINT fk_withdrawal_events_withdrawal FOREIGN KEY (withdrawal_id) REFERENCES withdrawals (id)
) STRICT;
CREATE INDEX ix_withdrawal_events_withdrawal ON withdrawal_events (withdrawal_id, id);

-- Staff approvals of a withdrawal that needs them; one per person (the key), so the same
-- person approving twice counts once.
CREATE TABLE withdrawal_approvals (
    withdrawal_id INTEGER NOT NULL,
    staff_user_id INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    CONSTRAINT pk_withdrawal_approvals PRIMARY KEY (withdrawal_id, staff_user_id),
    CONSTRAINT fk_withdrawal_approvals_withdrawal FOREIGN KEY (withdrawal_id) REFERENCES withdrawals (id)
) STRICT;

-- The highest block of each network the deposit scanner has read.
CREATE TABLE chain_cursors (
    network TEXT PRIMARY KEY NOT NULL,
    height INTEGER NOT NULL,
    -- The hash of that block: when the chain no longer has it, the scanner steps back.
    block_hash TEXT NOT NULL
) STRICT;

-- The withdrawal address book. With the whitelist on, a withdrawal may only go to an address
-- here whose cooling-down period (usable_from_ms) has passed.
CREATE TABLE withdraw_addresses (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id INTEGER NOT NULL,
    asset TEXT NOT NULL,
    network TEXT NOT NULL,
    address TEXT NOT NULL,
    memo TEXT NOT NULL,
    label TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    usable_from_ms INTEGER NOT NULL,
    CONSTRAINT fk_withdraw_addresses_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT uq_withdraw_addresses UNIQUE (user_id, asset, network, address, memo)
) STRICT;

-- Whether the user restricted withdrawals to the address book (0 or 1).
ALTER TABLE users ADD COLUMN withdraw_whitelist_only INTEGER NOT NULL DEFAULT 0;

-- Every reconciliation of one asset: what the chains hold in custody's wallets and deposit
-- addresses against what custody's own records say should be there (credited deposits minus
-- what withdrawals paid out) and against the ledger's liabilities (users, fee revenue and the
-- Safeguard fund). The difference between the ledger and custody's records is what operators
-- credited by hand (adjustments).
CREATE TABLE reconciliations (
    id INTEGER PRIMARY KEY NOT NULL,
    at_ms INTEGER NOT NULL,
    asset TEXT NOT NULL,
    chain_balance INTEGER NOT NULL,
    custody_expected INTEGER NOT NULL,
    ledger_liabilities INTEGER NOT NULL,
    adjustments INTEGER NOT NULL,
    shortfall INTEGER NOT NULL,
    hot_balance INTEGER NOT NULL,
    hot_share_bps INTEGER NOT NULL
) STRICT;
CREATE INDEX ix_reconciliations_asset ON reconciliations (asset, at_ms);

-- Custody incidents: a shortfall found by reconciliation (or a vanished deposit) opens one,
-- and while one is open for an asset its withdrawals are frozen. Staff resolve it.
CREATE TABLE custody_incidents (
    id INTEGER PRIMARY KEY NOT NULL,
    asset TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    opened_ms INTEGER NOT NULL,
    resolved_ms INTEGER,
    resolved_by TEXT,
    resolution TEXT,
    CONSTRAINT ck_custody_incidents_kind CHECK (kind IN ('shortfall', 'deposit_reverted'))
) STRICT;
CREATE INDEX ix_custody_incidents_open ON custody_incidents (asset, resolved_ms);
