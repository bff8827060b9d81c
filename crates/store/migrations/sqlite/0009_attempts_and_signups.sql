-- Attempt limiter: every check of a secret first reserves its attempt by a compare-and-swap on
-- the key's row (read, apply the schedule, write back only if the version is unchanged), so
-- parallel guesses from any number of connections are counted one by one.
ALTER TABLE lockout_state ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

-- Each sign-up of a not yet verified address is its own attempt with its own password, token
-- (held by the client that signed up; only its hash is stored) and verification code. The code
-- completes only its attempt; the others end with it.
CREATE TABLE signup_attempts (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id INTEGER NOT NULL,
    password_phc TEXT NOT NULL,
    display_name TEXT,
    token_hash BLOB NOT NULL,
    code_id INTEGER,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    -- Set when the attempt completed or was dropped.
    ended_ms INTEGER,
    CONSTRAINT fk_signup_attempts_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT fk_signup_attempts_code FOREIGN KEY (code_id) REFERENCES one_time_codes (id),
    CONSTRAINT uq_signup_attempts_token UNIQUE (token_hash)
) STRICT;

CREATE INDEX ix_signup_attempts_user ON signup_attempts (user_id, id);
