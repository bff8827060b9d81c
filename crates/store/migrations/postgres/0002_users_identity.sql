-- Identity columns on users, and user-agreement versions (PostgreSQL). Keep in step with
-- ../sqlite/0002_users_identity.sql: a test asserts both trees build the same schema.
-- Existing rows (accounts the admin CLI created) become active accounts with an email only.

CREATE TABLE agreement_versions (
    version TEXT PRIMARY KEY,
    published_ms BIGINT NOT NULL,
    is_current BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT ck_agreement_versions_current CHECK (is_current IN (0, 1))
);

-- At most one current version.
CREATE UNIQUE INDEX uq_agreement_versions_current ON agreement_versions (is_current)
    WHERE is_current = 1;

ALTER TABLE users ALTER COLUMN email DROP NOT NULL;

ALTER TABLE users
    ADD COLUMN phone TEXT,
    ADD COLUMN display_name TEXT,
    ADD COLUMN password_phc TEXT,
    ADD COLUMN status TEXT NOT NULL DEFAULT 'active',
    ADD COLUMN email_verified_ms BIGINT,
    ADD COLUMN phone_verified_ms BIGINT,
    ADD COLUMN anti_phishing_code TEXT,
    ADD COLUMN agreement_version TEXT,
    ADD COLUMN agreement_accepted_ms BIGINT,
    ADD COLUMN kyc_tier BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN residence_country TEXT,
    ADD COLUMN withdraw_locked_until_ms BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN is_staff BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN staff_roles TEXT NOT NULL DEFAULT '',
    ADD CONSTRAINT uq_users_phone UNIQUE (phone),
    ADD CONSTRAINT fk_users_agreement FOREIGN KEY (agreement_version)
        REFERENCES agreement_versions (version),
    ADD CONSTRAINT ck_users_contact CHECK (email IS NOT NULL OR phone IS NOT NULL),
    ADD CONSTRAINT ck_users_status CHECK (status IN ('unverified', 'active', 'frozen', 'closed')),
    ADD CONSTRAINT ck_users_kyc_tier CHECK (kyc_tier BETWEEN 0 AND 2),
    ADD CONSTRAINT ck_users_is_staff CHECK (is_staff IN (0, 1)),
    ADD CONSTRAINT ck_users_agreement CHECK
        ((agreement_version IS NULL) = (agreement_accepted_ms IS NULL));
