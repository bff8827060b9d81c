-- Control proofs of a transparency report's reserve addresses (issue 11): a signature by the
-- address's own key over the report's hash, checked before it is stored. One per address and
-- report; never changed or removed, like the report itself.
CREATE TABLE control_proofs (
    report_seq BIGINT NOT NULL,
    network TEXT NOT NULL,
    address TEXT NOT NULL,
    scheme TEXT NOT NULL,
    signature TEXT NOT NULL,
    added_ms BIGINT NOT NULL,
    CONSTRAINT pk_control_proofs PRIMARY KEY (report_seq, network, address)
);

CREATE TRIGGER tr_control_proofs_no_update BEFORE UPDATE ON control_proofs
    FOR EACH ROW EXECUTE FUNCTION fn_append_only();

CREATE TRIGGER tr_control_proofs_no_delete BEFORE DELETE ON control_proofs
    FOR EACH ROW EXECUTE FUNCTION fn_append_only();
