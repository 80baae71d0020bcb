-- The connectors' external calls (connectors/call_log.py), counted per connector, UTC hour
-- and category (success, retriable, permanent), the figures of the daily digest's API
-- volumes and error rates (the same calls as hookline_connector_call_duration_seconds).
CREATE TABLE IF NOT EXISTS external_call_counts (
    connector text        NOT NULL,
    hour      timestamptz NOT NULL,  -- the hour's start, UTC
    category  text        NOT NULL,
    calls     bigint      NOT NULL,
    PRIMARY KEY (connector, hour, category)
);

-- One row per daily digest sent (hookline/digest.py): the instance that inserts the row
-- for a day is the one that sends that day's digest, so several instances send it once.
CREATE TABLE IF NOT EXISTS digest_sends (
    day     date        PRIMARY KEY,
    sent_by text        NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now()
);
