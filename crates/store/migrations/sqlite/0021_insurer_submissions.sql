-- The external insurer layer of the Safeguard fund (issue 11): the part of a decided claim the
-- fund did not pay (above a cap, pro rata, contributory negligence) submitted to the configured
-- insurer, with its status. One submission per claim; every status change is a row in
-- insurer_events, which never changes. Amounts in micro-USDT.
CREATE TABLE insurer_submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    claim_id INTEGER NOT NULL,
    insurer TEXT NOT NULL,
    policy_id TEXT NOT NULL,
    uncovered_usdt INTEGER NOT NULL,
    deductible_usdt INTEGER NOT NULL,
    requested_usdt INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    CONSTRAINT uq_insurer_submissions_claim UNIQUE (claim_id),
    CONSTRAINT ck_insurer_submissions_status CHECK (status IN ('submitted', 'accepted', 'denied',
        'paid')),
    CONSTRAINT ck_insurer_submissions_amounts CHECK (requested_usdt > 0 AND uncovered_usdt >=
        requested_usdt)
) STRICT;

CREATE TABLE insurer_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    submission_id INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    status TEXT NOT NULL,
    note TEXT NOT NULL
) STRICT;

CREATE TRIGGER tr_insurer_events_no_update BEFORE UPDATE ON insurer_events
BEGIN
    SELECT RAISE(ABORT, 'insurer_events is append-only');
END;

CREATE TRIGGER tr_insurer_events_no_delete BEFORE DELETE ON insurer_events
BEGIN
    SELECT RAISE(ABORT, 'insurer_events is append-only');
END;
