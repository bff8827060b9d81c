-- Safeguard fund top-ups beyond its share of fees (issue 11): from the platform's fee revenue,
-- or treasury coins custody saw arrive in one of its wallets (network + txid, once each).
-- Written once, never changed; the engine journal holds the ledger move itself.
CREATE TABLE fund_top_ups (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    asset TEXT NOT NULL,
    amount INTEGER NOT NULL,
    source TEXT NOT NULL,
    reference TEXT NOT NULL,
    network TEXT,
    txid TEXT,
    note TEXT NOT NULL,
    actor TEXT NOT NULL,
    journal_seq INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    CONSTRAINT uq_fund_top_ups_reference UNIQUE (reference),
    CONSTRAINT ck_fund_top_ups_source CHECK (source IN ('fee_revenue', 'treasury')),
    CONSTRAINT ck_fund_top_ups_amount CHECK (amount > 0)
) STRICT;

CREATE TRIGGER tr_fund_top_ups_no_update BEFORE UPDATE ON fund_top_ups
BEGIN
    SELECT RAISE(ABORT, 'fund_top_ups is append-only');
END;

CREATE TRIGGER tr_fund_top_ups_no_delete BEFORE DELETE ON fund_top_ups
BEGIN
    SELECT RAISE(ABORT, 'fund_top_ups is append-only');
END;
