-- M-of-N operator approvals of fund movements (issue 10): operators make ed25519 keys
-- offline, register the public half here, and sign a movement's canonical description with
-- the CLI. A movement executes once enough distinct registered keys signed it before it
-- expired.

CREATE TABLE operator_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name TEXT NOT NULL,
    public_key BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER,
    CONSTRAINT uq_operator_keys_public_key UNIQUE (public_key),
    CONSTRAINT uq_operator_keys_name UNIQUE (name)
) STRICT;

-- A fund movement waiting for signatures: refilling a hot wallet from cold, releasing a large
-- withdrawal, or paying a claim from the Safeguard fund. `description` is the exact text the operators sign (it names the action,
-- asset, network, amount, destination, nonce and expiry). Ids are never reused.
CREATE TABLE movements (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    action TEXT NOT NULL,
    asset TEXT NOT NULL,
    network TEXT NOT NULL,
    amount INTEGER NOT NULL,
    destination TEXT NOT NULL,
    withdrawal_id INTEGER,
    -- A Safeguard payout: the user it pays and the claim it settles.
    user_id INTEGER,
    claim_id INTEGER,
    nonce TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    required INTEGER NOT NULL,
    description TEXT NOT NULL,
    state TEXT NOT NULL,
    txid TEXT,
    created_ms INTEGER NOT NULL,
    executed_ms INTEGER,
    CONSTRAINT uq_movements_nonce UNIQUE (nonce),
    CONSTRAINT ck_movements_action CHECK (action IN ('refill_hot', 'release_withdrawal', 'safeguard_payout')),
    CONSTRAINT ck_movements_state CHECK (state IN ('pending', 'executed', 'expired', 'failed'))
) STRICT;

-- One signature per key per movement: the same key twice counts once.
CREATE TABLE movement_signatures (
    movement_id INTEGER NOT NULL,
    key_id INTEGER NOT NULL,
    signature BLOB NOT NULL,
    at_ms INTEGER NOT NULL,
    CONSTRAINT pk_movement_signatures PRIMARY KEY (movement_id, key_id),
    CONSTRAINT fk_movement_signatures_movement FOREIGN KEY (movement_id) REFERENCES movements (id),
    CONSTRAINT fk_movement_signatures_key FOREIGN KEY (key_id) REFERENCES operator_keys (id)
) STRICT;
