-- Versions of the Safeguard coverage policy's terms (issue 11), published by staff and in force
-- for claims filed after publication; each claim keeps the version it was filed under. The
-- built-in first version lives in the code, so a new exchange has a policy before any row.
-- Versions never change. Caps in micro-USDT.
CREATE TABLE coverage_policies (
    version TEXT NOT NULL,
    per_user_cap_usdt INTEGER NOT NULL,
    per_incident_cap_usdt INTEGER NOT NULL,
    note TEXT NOT NULL,
    actor TEXT NOT NULL,
    published_ms INTEGER NOT NULL,
    CONSTRAINT pk_coverage_policies PRIMARY KEY (version),
    CONSTRAINT ck_coverage_policies_caps CHECK (per_user_cap_usdt > 0 AND per_incident_cap_usdt >=
        per_user_cap_usdt)
) STRICT;

CREATE TRIGGER tr_coverage_policies_no_update BEFORE UPDATE ON coverage_policies
BEGIN
    SELECT RAISE(ABORT, 'coverage_policies is append-only');
END;

CREATE TRIGGER tr_coverage_policies_no_delete BEFORE DELETE ON coverage_policies
BEGIN
    SELECT RAISE(ABORT, 'coverage_policies is append-only');
END;
