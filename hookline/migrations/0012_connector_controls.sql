-- Operators' controls and the connectors' own status (the admin API reads and writes
-- these; the connectors runtime, connectors/control.py, polls and writes them).

-- Pause / resume per connector: every instance reads its row every second and pauses
-- (or resumes) consumption. No row: running.
CREATE TABLE IF NOT EXISTS connector_controls (
    connector  text        PRIMARY KEY,
    paused     boolean     NOT NULL DEFAULT false,
    reason     text,
    changed_by text        NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);

-- One heartbeat row per running instance of a connector, rewritten every second or so;
-- removed when the instance stops (a crashed one's row goes stale: see updated_at).
CREATE TABLE IF NOT EXISTS connector_status (
    connector     text        NOT NULL,
    instance      text        NOT NULL,
    destination   text        NOT NULL,
    bucket        text,                           -- its rate_limit_buckets row, if limited
    breaker_state text        NOT NULL,           -- closed, half_open, open
    paused        boolean     NOT NULL,           -- consumption paused by an operator
    partitions    integer     NOT NULL,
    lag           bigint,                         -- records behind on its topics; NULL: unknown yet
    started_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connector, instance)
);
