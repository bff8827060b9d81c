-- Identity tables (SQLite): sessions, devices, login activity, security events, one-time codes,
-- tokens, TOTP, recovery codes, lockout counters, proof-of-work registry, QR logins, 2FA resets and
-- KYC. Keep in step with ../postgres/0003_identity.sql: a test asserts both trees build the same
-- schema. Secrets are never stored here in the clear: tokens, codes and cookies as hashes, TOTP
-- seeds and KYC data as ciphertext the caller made. The rules (lifetimes, limits, who may do what)
-- live in the identity crate; the constraints below only keep rows coherent.

CREATE TABLE devices (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id INTEGER NOT NULL,
    cookie_hash BLOB NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    ip TEXT NOT NULL,
    country TEXT,
    user_agent TEXT NOT NULL,
    confirmed_ms INTEGER,
    revoked_ms INTEGER,
    CONSTRAINT fk_devices_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT uq_devices_cookie_hash UNIQUE (cookie_hash)
) STRICT;

CREATE INDEX ix_devices_user ON devices (user_id, id);

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id INTEGER NOT NULL,
    token_hash BLOB NOT NULL,
    device_id INTEGER,
    created_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    authenticated_ms INTEGER,
    ip TEXT NOT NULL,
    country TEXT,
    user_agent TEXT NOT NULL,
    revoked_ms INTEGER,
    CONSTRAINT fk_sessions_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT fk_sessions_device FOREIGN KEY (device_id) REFERENCES devices (id),
    CONSTRAINT uq_sessions_token_hash UNIQUE (token_hash)
) STRICT;

CREATE INDEX ix_sessions_user ON sessions (user_id, id);
CREATE INDEX ix_sessions_device ON sessions (device_id);

-- Attempts on unknown accounts keep only a hash of the identifier tried (user_id NULL): a user
-- lists rows by user_id, so nobody learns which identifiers others tried.
CREATE TABLE login_activity (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id INTEGER,
    identifier_hash BLOB,
    at_ms INTEGER NOT NULL,
    ip TEXT NOT NULL,
    country TEXT,
    user_agent TEXT NOT NULL,
    method TEXT NOT NULL,
    result TEXT NOT NULL,
    detail TEXT,
    CONSTRAINT fk_login_activity_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT ck_login_activity_subject CHECK (user_id IS NOT NULL OR identifier_hash IS NOT NULL)
) STRICT;

CREATE INDEX ix_login_activity_user ON login_activity (user_id, id);

CREATE TABLE security_events (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    ip TEXT,
    detail TEXT,
    CONSTRAINT fk_security_events_user FOREIGN KEY (user_id) REFERENCES users (id)
) STRICT;

CREATE INDEX ix_security_events_user ON security_events (user_id, id);

-- Short numeric codes sent by email or SMS. A code is live while not consumed, not voided, not
-- expired and with attempts left.
CREATE TABLE one_time_codes (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id INTEGER,
    channel TEXT NOT NULL,
    destination TEXT NOT NULL,
    purpose TEXT NOT NULL,
    code_hash BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    consumed_ms INTEGER,
    voided_ms INTEGER,
    last_sent_ms INTEGER NOT NULL,
    CONSTRAINT fk_one_time_codes_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT ck_one_time_codes_attempts CHECK
        (max_attempts > 0 AND attempts >= 0 AND attempts <= max_attempts)
) STRICT;

CREATE INDEX ix_one_time_codes_user_purpose ON one_time_codes (user_id, purpose, id);
CREATE INDEX ix_one_time_codes_destination_purpose ON one_time_codes (destination, purpose, id);

-- Long random tokens carried in links (password reset, email links, freeze, device confirmation).
CREATE TABLE tokens (
    id INTEGER PRIMARY KEY NOT NULL,
    token_hash BLOB NOT NULL,
    user_id INTEGER NOT NULL,
    purpose TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    consumed_ms INTEGER,
    data TEXT,
    CONSTRAINT fk_tokens_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT uq_tokens_token_hash UNIQUE (token_hash)
) STRICT;

CREATE INDEX ix_tokens_user_purpose ON tokens (user_id, purpose, id);

-- enabled_ms NULL: enrolment started, not yet confirmed with a first code.
CREATE TABLE totp_credentials (
    user_id INTEGER PRIMARY KEY NOT NULL,
    secret_ciphertext BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    enabled_ms INTEGER,
    last_used_step INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT fk_totp_credentials_user FOREIGN KEY (user_id) REFERENCES users (id)
) STRICT;

CREATE TABLE recovery_codes (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id INTEGER NOT NULL,
    code_hash TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    used_ms INTEGER,
    CONSTRAINT fk_recovery_codes_user FOREIGN KEY (user_id) REFERENCES users (id)
) STRICT;

CREATE INDEX ix_recovery_codes_user ON recovery_codes (user_id, id);

-- Opaque lockout counters keyed by what is being throttled ("acct:<id>", "ip:<addr>", ...).
-- 0 in a *_ms column means "never".
CREATE TABLE lockout_state (
    lock_key TEXT PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL,
    lock_level INTEGER NOT NULL,
    locked_until_ms INTEGER NOT NULL,
    reset_required INTEGER NOT NULL,
    last_failure_ms INTEGER NOT NULL,
    CONSTRAINT ck_lockout_state_reset_required CHECK (reset_required IN (0, 1))
) STRICT;

-- Proof-of-work challenges already redeemed; kept until they expire.
CREATE TABLE pow_challenges_used (
    challenge_id TEXT PRIMARY KEY NOT NULL,
    expires_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX ix_pow_challenges_used_expires ON pow_challenges_used (expires_ms);

CREATE TABLE qr_logins (
    id INTEGER PRIMARY KEY NOT NULL,
    nonce_hash BLOB NOT NULL,
    poll_secret_hash BLOB NOT NULL,
    short_code TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    requester_ip TEXT NOT NULL,
    requester_country TEXT,
    requester_ua TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    approved_user_id INTEGER,
    decided_ms INTEGER,
    redeemed_ms INTEGER,
    CONSTRAINT fk_qr_logins_approved_user FOREIGN KEY (approved_user_id) REFERENCES users (id),
    CONSTRAINT uq_qr_logins_nonce_hash UNIQUE (nonce_hash),
    CONSTRAINT uq_qr_logins_short_code UNIQUE (short_code),
    CONSTRAINT ck_qr_logins_state CHECK (state IN ('pending', 'approved', 'denied', 'redeemed')),
    CONSTRAINT ck_qr_logins_approved CHECK
        ((approved_user_id IS NOT NULL) = (state IN ('approved', 'redeemed')))
) STRICT;

CREATE INDEX ix_qr_logins_expires ON qr_logins (expires_ms);

CREATE TABLE twofa_reset_requests (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    effective_ms INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending_review',
    reviewer_id INTEGER,
    decided_ms INTEGER,
    reason TEXT,
    CONSTRAINT fk_twofa_reset_requests_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT fk_twofa_reset_requests_reviewer FOREIGN KEY (reviewer_id) REFERENCES users (id),
    CONSTRAINT ck_twofa_reset_requests_state CHECK
        (state IN ('pending_review', 'approved', 'rejected', 'cancelled', 'applied')),
    CONSTRAINT ck_twofa_reset_requests_reviewer CHECK (reviewer_id IS NULL OR reviewer_id <> user_id)
) STRICT;

CREATE INDEX ix_twofa_reset_requests_user ON twofa_reset_requests (user_id, id);
CREATE INDEX ix_twofa_reset_requests_state ON twofa_reset_requests (state, id);
-- At most one open request per user.
CREATE UNIQUE INDEX uq_twofa_reset_requests_open ON twofa_reset_requests (user_id)
    WHERE state IN ('pending_review', 'approved');

CREATE TABLE kyc_applications (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id INTEGER NOT NULL,
    tier_requested INTEGER NOT NULL,
    submitted_ms INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    reviewer_id INTEGER,
    decided_ms INTEGER,
    reason TEXT,
    fields_ciphertext BLOB NOT NULL,
    CONSTRAINT fk_kyc_applications_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT fk_kyc_applications_reviewer FOREIGN KEY (reviewer_id) REFERENCES users (id),
    CONSTRAINT ck_kyc_applications_tier CHECK (tier_requested BETWEEN 1 AND 2),
    CONSTRAINT ck_kyc_applications_state CHECK
        (state IN ('pending', 'approved', 'rejected', 'resubmit')),
    CONSTRAINT ck_kyc_applications_reviewer CHECK (reviewer_id IS NULL OR reviewer_id <> user_id)
) STRICT;

CREATE INDEX ix_kyc_applications_user ON kyc_applications (user_id, id);
CREATE INDEX ix_kyc_applications_state ON kyc_applications (state, id);
-- At most one application under review per user.
CREATE UNIQUE INDEX uq_kyc_applications_pending ON kyc_applications (user_id)
    WHERE state = 'pending';

CREATE TABLE kyc_documents (
    id INTEGER PRIMARY KEY NOT NULL,
    application_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    content_type TEXT NOT NULL,
    ciphertext BLOB NOT NULL,
    size_bytes INTEGER NOT NULL,
    CONSTRAINT fk_kyc_documents_application FOREIGN KEY (application_id)
        REFERENCES kyc_applications (id),
    CONSTRAINT ck_kyc_documents_size CHECK (size_bytes >= 0)
) STRICT;

CREATE INDEX ix_kyc_documents_application ON kyc_documents (application_id, id);
