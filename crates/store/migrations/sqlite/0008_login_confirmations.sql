-- Logins from a new device or a new country wait here until the owner confirms them by the
-- emailed code or link. The waiting browser holds the wait token, the email holds the link
-- token; only their hashes are stored. A confirmation is redeemed into a session once.
CREATE TABLE login_confirmations (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id INTEGER NOT NULL,
    wait_hash BLOB NOT NULL,
    link_hash BLOB NOT NULL,
    device_id INTEGER NOT NULL,
    reason TEXT NOT NULL,
    -- The second factor the login passed before it was held (password when none).
    method TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    confirmed_ms INTEGER,
    redeemed_ms INTEGER,
    ip TEXT NOT NULL,
    country TEXT,
    user_agent TEXT NOT NULL,
    CONSTRAINT fk_login_confirmations_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT fk_login_confirmations_device FOREIGN KEY (device_id) REFERENCES devices (id),
    CONSTRAINT uq_login_confirmations_wait UNIQUE (wait_hash),
    CONSTRAINT uq_login_confirmations_link UNIQUE (link_hash),
    CONSTRAINT ck_login_confirmations_reason CHECK (reason IN ('new_device', 'new_country'))
) STRICT;

-- Which second factor the login that created a session passed (totp, recovery_code, email,
-- sms), NULL for none: the staff console asks for an authenticator-app login.
ALTER TABLE sessions ADD COLUMN second_factor TEXT;

-- The session that approved a QR login: the new session inherits its authentication time and
-- its absolute lifetime, so approving cannot refresh or extend a session.
ALTER TABLE qr_logins ADD COLUMN approver_session_id INTEGER;
