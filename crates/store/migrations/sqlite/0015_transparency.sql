-- Transparency (issue 11). The audit log becomes a hash chain: entry i's hash is SHA-256 over
-- entry i-1's hash and entry i's fields, so editing, dropping or reordering any entry breaks
-- every hash after it, and the newest hash is signed into each transparency report.
CREATE TABLE audit_chain (
    id INTEGER PRIMARY KEY NOT NULL,
    hash TEXT NOT NULL
) STRICT;

CREATE TRIGGER tr_audit_chain_no_update BEFORE UPDATE ON audit_chain
BEGIN
    SELECT RAISE(ABORT, 'audit_chain is append-only');
END;

CREATE TRIGGER tr_audit_chain_no_delete BEFORE DELETE ON audit_chain
BEGIN
    SELECT RAISE(ABORT, 'audit_chain is append-only');
END;

-- Signed transparency reports, kept as the exact bytes that were signed: anyone can check them
-- without trusting the server's parser. Published reports never change.
CREATE TABLE transparency_reports (
    seq INTEGER PRIMARY KEY NOT NULL,
    published_ms INTEGER NOT NULL,
    journal_seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    signature TEXT NOT NULL
) STRICT;

CREATE TRIGGER tr_transparency_reports_no_update BEFORE UPDATE ON transparency_reports
BEGIN
    SELECT RAISE(ABORT, 'transparency_reports is append-only');
END;

CREATE TRIGGER tr_transparency_reports_no_delete BEFORE DELETE ON transparency_reports
BEGIN
    SELECT RAISE(ABORT, 'transparency_reports is append-only');
END;

-- The leaves of each report's proof-of-liabilities tree per asset, in tree order: JSON
-- [[user_id, balance, salt_hex], ...]. Kept so any user's proof can be served later.
CREATE TABLE por_trees (
    report_seq INTEGER NOT NULL,
    asset TEXT NOT NULL,
    leaves_json TEXT NOT NULL,
    CONSTRAINT pk_por_trees PRIMARY KEY (report_seq, asset)
) STRICT;
