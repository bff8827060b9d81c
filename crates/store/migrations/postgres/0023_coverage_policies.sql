-- Versions of the Safeguard coverage policy's terms (issue 11), published by staff and in force
-- for claims filed after publication; each claim keeps the version it was filed under. The
-- built-in first version lives in the code, so a new exchange has a policy before any row.
-- Versions never change. Caps in micro-USDT.
CREATE TABLE coverage_policies (
    version TEXT NOT NULL,
    per_user_cap_usdt BIGINT NOT NULL,
    per_incident_cap_usdt BIGINT NOT NULL,
    note TEXT NOT NULL,
    actor TEXT NOT NULL,
    published_ms BIGINT NOT NULL,
    CONSTRAINT pk_coverage_policies PRIMARY KEY (version),
    CONSTRAINT ck_coverage_policies_caps CHECK (per_user_cap_usdt > 0 AND per_incident_cap_usdt >=
        per_user_cap_usdt)
);

CREATE TRIGGER tr_coverage_policies_no_update BEFORE UPDATE ON coverage_policies
    FOR EACH ROW EXECUTE FUNCTION fn_append_only();

CREATE TRIGGER tr_coverage_policies_no_delete BEFORE DELETE ON coverage_policies
    FOR EACH ROW EXECUTE FUNCTION fn_append_only();
