-- The admin API's bulk replays and event lookups (admin/replay_jobs, admin/events.py).

-- A bulk replay of the dead letters matching a filter, processed in chunks by the admin
-- service's worker. The job covers the index rows up to ``upto_id`` (the newest when it
-- was made) and remembers how far it got (``after_id``), so a restarted worker resumes
-- there; the replay ledger keeps each dead letter replayed at most once regardless.
CREATE TABLE IF NOT EXISTS replay_jobs (
    id                  bigserial   PRIMARY KEY,
    filters             jsonb       NOT NULL,
    chunk_size          integer     NOT NULL,
    upto_id             bigint      NOT NULL,
    after_id            bigint      NOT NULL DEFAULT 0,
    total               integer     NOT NULL,         -- open dead letters matching at creation
    done                integer     NOT NULL DEFAULT 0,  -- replayed by this job
    failed              integer     NOT NULL DEFAULT 0,  -- no longer readable in Kafka
    skipped             integer     NOT NULL DEFAULT 0,  -- replayed or discarded otherwise
    state               text        NOT NULL DEFAULT 'queued'
                        CHECK (state IN ('queued', 'running', 'succeeded', 'cancelled')),
    created_by          text        NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz,
    cancelled_by        text,
    owner               text,                          -- the worker holding the lease
    lease_until         timestamptz,
    last_error          text
);
CREATE INDEX IF NOT EXISTS replay_jobs_active ON replay_jobs (id)
    WHERE state IN ('queued', 'running');

-- Event lookups: the CloudEvents id and the provider's event id of each dead letter.
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS event_id text;
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS provider_event_id text;
CREATE INDEX IF NOT EXISTS dead_letters_event_id ON dead_letters (event_id)
    WHERE event_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS dead_letters_provider_event ON dead_letters (source, provider_event_id)
    WHERE provider_event_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS connector_entity_state_event_id ON connector_entity_state (event_id)
    WHERE event_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS conflicts_event_id ON conflicts (event_id)
    WHERE event_id IS NOT NULL;
