-- Safeguard claims (issue 11): a user's claim for a loss, from report to payout. Every
-- transition is an event (actor, time, from, to, note) in claim_events, which never changes.
-- One asset per claim; `refs` are the user's own withdrawal ids the loss concerns
-- (comma-separated). Amounts are in the asset's smallest unit: approved <= claimed.
CREATE TABLE claims (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id INTEGER NOT NULL,
    incident_id INTEGER,
    category TEXT NOT NULL,
    description TEXT NOT NULL,
    asset TEXT NOT NULL,
    claimed INTEGER NOT NULL,
    refs TEXT NOT NULL,
    window_from_ms INTEGER NOT NULL,
    window_to_ms INTEGER NOT NULL,
    policy_version TEXT NOT NULL,
    state TEXT NOT NULL,
    investigator TEXT,
    decided_by TEXT,
    reason_code TEXT,
    approved INTEGER,
    appealed INTEGER NOT NULL,
    movement_id INTEGER,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    CONSTRAINT ck_claims_category CHECK (category IN ('platform_breach', 'unauthorized_withdrawal',
        'platform_error', 'other')),
    CONSTRAINT ck_claims_state CHECK (state IN ('submitted', 'acknowledged', 'investigating',
        'needs_info', 'approved', 'rejected', 'appealed', 'payout_pending', 'paid', 'closed')),
    CONSTRAINT ck_claims_amounts CHECK (claimed > 0 AND (approved IS NULL OR (approved > 0
        AND approved <= claimed)))
) STRICT;

CREATE INDEX ix_claims_user ON claims (user_id, id);

CREATE TABLE claim_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    claim_id INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    note TEXT NOT NULL,
    CONSTRAINT fk_claim_events_claim FOREIGN KEY (claim_id) REFERENCES claims (id)
) STRICT;

CREATE INDEX ix_claim_events_claim ON claim_events (claim_id, id);

CREATE TRIGGER tr_claim_events_no_update BEFORE UPDATE ON claim_events
BEGIN
    SELECT RAISE(ABORT, 'claim_events is append-only');
END;

CREATE TRIGGER tr_claim_events_no_delete BEFORE DELETE ON claim_events
BEGIN
    SELECT RAISE(ABORT, 'claim_events is append-only');
END;
