-- Platform incidents (issue 11): declared by security staff or the operator with their
-- containment (trading halted for some markets or all, withdrawals frozen for some assets or
-- all, deposit sweeps paused), each lifted step by step, and a public timeline of updates.
-- Affected assets, markets and users are comma-separated lists.
CREATE TABLE incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    assets TEXT NOT NULL,
    markets TEXT NOT NULL,
    users TEXT NOT NULL,
    halt_scope TEXT NOT NULL,
    freeze_scope TEXT NOT NULL,
    pause_sweeps INTEGER NOT NULL,
    halt_lifted_ms INTEGER,
    freeze_lifted_ms INTEGER,
    sweeps_lifted_ms INTEGER,
    declared_by TEXT NOT NULL,
    declared_ms INTEGER NOT NULL,
    resolved_ms INTEGER,
    CONSTRAINT ck_incidents_kind CHECK (kind IN ('hot_wallet_breach', 'cold_wallet_breach',
        'system_failure', 'data_breach', 'other')),
    CONSTRAINT ck_incidents_halt CHECK (halt_scope IN ('none', 'markets', 'global')),
    CONSTRAINT ck_incidents_freeze CHECK (freeze_scope IN ('none', 'assets', 'global'))
) STRICT;

-- The public timeline: what was said, by whom, when (declaration, updates, each lifted step,
-- resolution). Never edited.
CREATE TABLE incident_updates (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    incident_id INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    author TEXT NOT NULL,
    message TEXT NOT NULL,
    CONSTRAINT fk_incident_updates_incident FOREIGN KEY (incident_id) REFERENCES incidents (id)
) STRICT;

CREATE INDEX ix_incident_updates_incident ON incident_updates (incident_id, id);

CREATE TRIGGER tr_incident_updates_no_update BEFORE UPDATE ON incident_updates
BEGIN
    SELECT RAISE(ABORT, 'incident_updates is append-only');
END;

CREATE TRIGGER tr_incident_updates_no_delete BEFORE DELETE ON incident_updates
BEGIN
    SELECT RAISE(ABORT, 'incident_updates is append-only');
END;
