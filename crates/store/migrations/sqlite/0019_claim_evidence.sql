-- Evidence files attached to Safeguard claims (issue 11): PNG, JPEG or PDF, sealed with the
-- master key (XChaCha20-Poly1305, bound to the claim and the file's digest) before they are
-- written; the store never sees the plain bytes. `sha256` is of the plain file, so the user and
-- staff can name the same file. Never changed once written.
CREATE TABLE claim_evidence (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    claim_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    ciphertext BLOB NOT NULL,
    at_ms INTEGER NOT NULL,
    CONSTRAINT ck_claim_evidence_type CHECK (content_type IN ('image/png', 'image/jpeg',
        'application/pdf'))
) STRICT;

CREATE INDEX ix_claim_evidence_claim ON claim_evidence (claim_id, id);

CREATE TRIGGER tr_claim_evidence_no_update BEFORE UPDATE ON claim_evidence
BEGIN
    SELECT RAISE(ABORT, 'claim_evidence is append-only');
END;

CREATE TRIGGER tr_claim_evidence_no_delete BEFORE DELETE ON claim_evidence
BEGIN
    SELECT RAISE(ABORT, 'claim_evidence is append-only');
END;
