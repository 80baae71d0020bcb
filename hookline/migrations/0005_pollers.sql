-- Polling sync (pollers/): one cursor per poll (a source, or a source's backfill), the
-- last emitted state hash per (source, entity), and one lease per poll so that a single
-- instance polls it at a time.
CREATE TABLE poll_cursors (
    name        text PRIMARY KEY,          -- the source, or '{source}#backfill'
    high_water  timestamptz,               -- newest updated_at of a finished walk
    run_active  boolean NOT NULL DEFAULT false,
    run_since   timestamptz,               -- lower bound of the walk in progress (NULL: all)
    run_after   text,                      -- the API's page token within run_since
    run_max     timestamptz,               -- newest updated_at acknowledged in this walk
    records_seen    bigint NOT NULL DEFAULT 0,   -- in the walk in progress
    records_emitted bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE poll_states (
    source      text NOT NULL,
    entity      text NOT NULL,
    state_hash  bytea NOT NULL,            -- sha256 of the record body last emitted
    version     text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, entity)
);

CREATE TABLE poll_leases (
    name        text PRIMARY KEY,
    holder      text NOT NULL,
    expires_at  timestamptz NOT NULL
);
