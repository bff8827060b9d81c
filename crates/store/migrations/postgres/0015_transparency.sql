-- Transparency (issue 11). The audit log becomes a hash chain: entry i's hash is SHA-256 over
-- entry i-1's hash and entry i's fields, so editing, dropping or reordering any entry breaks
-- every hash after it, and the newest hash is signed into each transparency report.
CREATE TABLE audit_chain (
    id BIGINT PRIMARY KEY,
    hash TEXT NOT NULL
);

CREATE FUNCTION fn_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER tr_audit_chain_no_update BEFORE UPDATE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION fn_append_only();

CREATE TRIGGER tr_audit_chain_no_delete BEFORE DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION fn_append_only();

-- Signed transparency reports, kept as the exact bytes that were signed: anyone can check them
-- without trusting the server's parser. Published reports never change.
CREATE TABLE transparency_reports (
    seq BIGINT PRIMARY KEY,
    published_ms BIGINT NOT NULL,
    journal_seq BIGINT NOT NULL,
    body TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    signature TEXT NOT NULL
);

CREATE TRIGGER tr_transparency_reports_no_update BEFORE UPDATE ON transparency_reports
    FOR EACH ROW EXECUTE FUNCTION fn_append_only();

CREATE TRIGGER tr_transparency_reports_no_delete BEFORE DELETE ON transparency_reports
    FOR EACH ROW EXECUTE FUNCTION fn_append_only();

-- The leaves of each report's proof-of-liabilities tree per asset, in tree order: JSON
-- [[user_id, balance, salt_hex], ...]. Kept so any user's proof can be served later.
CREATE TABLE por_trees (
    report_seq BIGINT NOT NULL,
    asset TEXT NOT NULL,
    leaves_json TEXT NOT NULL,
    CONSTRAINT pk_por_trees PRIMARY KEY (report_seq, asset)
);
