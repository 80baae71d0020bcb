-- The sync log covers the pollers too: every poll, backfill page and reconciliation is a
-- sync_runs row beside the connectors' batches. Existing rows and the connectors' inserts
-- keep working: the new columns default to the connectors' meaning or NULL.
ALTER TABLE sync_runs
    ADD COLUMN IF NOT EXISTS kind            text NOT NULL DEFAULT 'connector',  -- connector, poll, backfill, reconcile
    ADD COLUMN IF NOT EXISTS records_seen    integer,  -- read from the source
    ADD COLUMN IF NOT EXISTS records_changed integer,  -- whose state differed
    ADD COLUMN IF NOT EXISTS records_emitted integer,  -- written to Kafka
    ADD COLUMN IF NOT EXISTS error           text;     -- class and reason of a failed run

-- The failure streak of one poller or reconciliation: its newest rows first.
CREATE INDEX IF NOT EXISTS sync_runs_kind_connector ON sync_runs (kind, connector, id DESC);

-- Sync verification (pollers/reconcile.py): entities that differ between two systems.
-- One open row per (reconciliation, pair, family, entity); a later run that finds the
-- entity in step again, or a repair, closes it (status 'resolved' / 'repaired').
CREATE TABLE IF NOT EXISTS reconcile_mismatches (
    id              bigserial   PRIMARY KEY,
    reconciliation  text        NOT NULL,
    pair            text        NOT NULL,  -- 'hubspot~warehouse': the two systems compared
    family          text        NOT NULL,  -- customer, order, ...
    entity_key      text        NOT NULL,  -- the key both systems share (e.g. the email)
    kind            text        NOT NULL,  -- missing_left, missing_right, fields
    fields          text[]      NOT NULL DEFAULT '{}',  -- the key fields that differ
    left_state      jsonb,
    right_state     jsonb,
    status          text        NOT NULL DEFAULT 'open',  -- open, repaired, resolved
    detected_at     timestamptz NOT NULL DEFAULT now(),
    closed_at       timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS reconcile_mismatches_open
    ON reconcile_mismatches (reconciliation, pair, family, entity_key) WHERE status = 'open';
