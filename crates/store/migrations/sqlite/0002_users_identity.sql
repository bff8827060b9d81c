-- no-transaction
-- Identity columns on users, and user-agreement versions (SQLite). Keep in step with
-- ../postgres/0002_users_identity.sql: a test asserts both trees build the same schema.
--
-- SQLite cannot drop a NOT NULL or add a CHECK to an existing table, so users is rebuilt with the
-- procedure the SQLite manual gives for such changes: foreign keys off (a no-op inside a
-- transaction, hence `no-transaction` on the first line), then one explicit transaction that
-- copies the rows into a new table and swaps the names, then foreign keys back on.
-- The body is safe to run twice: if the process dies after COMMIT but before sqlx records this
-- migration, the next start copies the same ids, emails and times again, and the new columns
-- cannot hold data yet because nothing runs before migrations finish.
-- New columns come after the old ones, in the order PostgreSQL's ADD COLUMN puts them.

PRAGMA foreign_keys = OFF;

BEGIN IMMEDIATE;

CREATE TABLE IF NOT EXISTS agreement_versions (
    version TEXT PRIMARY KEY NOT NULL,
    published_ms INTEGER NOT NULL,
    is_current INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT ck_agreement_versions_current CHECK (is_current IN (0, 1))
) STRICT;

-- At most one current version.
CREATE UNIQUE INDEX IF NOT EXISTS uq_agreement_versions_current ON agreement_versions (is_current)
    WHERE is_current = 1;

DROP TABLE IF EXISTS users_new;

CREATE TABLE users_new (
    id INTEGER PRIMARY KEY NOT NULL,
    email TEXT,
    created_ms INTEGER NOT NULL,
    phone TEXT,
    display_name TEXT,
    password_phc TEXT,
    status TEXT NOT NULL DEFAULT 'active',
    email_verified_ms INTEGER,
    phone_verified_ms INTEGER,
    anti_phishing_code TEXT,
    agreement_version TEXT,
    agreement_accepted_ms INTEGER,
    kyc_tier INTEGER NOT NULL DEFAULT 0,
    residence_country TEXT,
    withdraw_locked_until_ms INTEGER NOT NULL DEFAULT 0,
    is_staff INTEGER NOT NULL DEFAULT 0,
    staff_roles TEXT NOT NULL DEFAULT '',
    CONSTRAINT uq_users_email UNIQUE (email),
    CONSTRAINT uq_users_phone UNIQUE (phone),
    CONSTRAINT fk_users_agreement FOREIGN KEY (agreement_version)
        REFERENCES agreement_versions (version),
    CONSTRAINT ck_users_contact CHECK (email IS NOT NULL OR phone IS NOT NULL),
    CONSTRAINT ck_users_status CHECK (status IN ('unverified', 'active', 'frozen', 'closed')),
    CONSTRAINT ck_users_kyc_tier CHECK (kyc_tier BETWEEN 0 AND 2),
    CONSTRAINT ck_users_is_staff CHECK (is_staff IN (0, 1)),
    CONSTRAINT ck_users_agreement CHECK
        ((agreement_version IS NULL) = (agreement_accepted_ms IS NULL))
) STRICT;

INSERT INTO users_new (id, email, created_ms) SELECT id, email, created_ms FROM users;

DROP TABLE users;

ALTER TABLE users_new RENAME TO users;

COMMIT;

PRAGMA foreign_keys = ON;
