-- Connector state: what each destination last received per entity, so that an
-- unchanged or older change is skipped (change detection, echo suppression, staleness).
CREATE TABLE IF NOT EXISTS connector_entity_state (
    connector    text        NOT NULL,
    entity_key   text        NOT NULL,
    state_hash   text        NOT NULL,
    version      timestamptz,
    source       text,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connector, entity_key)
);

-- One row per delivery batch of a connector (audit trail, admin API, alerts).
CREATE TABLE IF NOT EXISTS sync_runs (
    id           bigserial   PRIMARY KEY,
    connector    text        NOT NULL,
    source       text,
    destination  text        NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL,
    record_count integer     NOT NULL,
    outcome      text        NOT NULL,
    detail       jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS sync_runs_connector_started ON sync_runs (connector, started_at DESC);

-- Conflicts held for manual review: both versions, never applied automatically.
CREATE TABLE IF NOT EXISTS conflicts (
    id            bigserial   PRIMARY KEY,
    connector     text        NOT NULL,
    entity_key    text        NOT NULL,
    policy        text        NOT NULL,
    current_state jsonb,
    incoming      jsonb       NOT NULL,
    status        text        NOT NULL DEFAULT 'open',
    created_at    timestamptz NOT NULL DEFAULT now(),
    resolved_at   timestamptz
);
CREATE INDEX IF NOT EXISTS conflicts_open ON conflicts (connector, status);

-- Shared rate-limit budgets: one token bucket per destination, shared by every instance.
CREATE TABLE IF NOT EXISTS rate_limit_buckets (
    bucket       text             PRIMARY KEY,
    tokens       double precision NOT NULL,
    capacity     double precision NOT NULL,
    refill_per_s double precision NOT NULL,
    updated_at   timestamptz      NOT NULL DEFAULT clock_timestamp()
);
