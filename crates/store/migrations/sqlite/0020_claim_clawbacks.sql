-- Clawbacks of paid Safeguard claims (issue 11): when a loss is recovered after its payout, the
-- payout (or part of it) goes back from the user to the fund, once per claim. The engine
-- journal holds the ledger move; this row says who decided it, why, and at which seq.
CREATE TABLE claim_clawbacks (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    claim_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    asset TEXT NOT NULL,
    amount INTEGER NOT NULL,
    note TEXT NOT NULL,
    actor TEXT NOT NULL,
    journal_seq INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    CONSTRAINT uq_claim_clawbacks_claim UNIQUE (claim_id),
    CONSTRAINT ck_claim_clawbacks_amount CHECK (amount > 0)
) STRICT;

CREATE TRIGGER tr_claim_clawbacks_no_update BEFORE UPDATE ON claim_clawbacks
BEGIN
    SELECT RAISE(ABORT, 'claim_clawbacks is append-only');
END;

CREATE TRIGGER tr_claim_clawbacks_no_delete BEFORE DELETE ON claim_clawbacks
BEGIN
    SELECT RAISE(ABORT, 'claim_clawbacks is append-only');
END;
