-- The replay ledger (hookline/replay_ledger.py): one row per dead letter replayed, written
-- after Kafka acknowledged the replay, so that a dead letter is replayed at most once.
-- Keyed by the dead letter's own position; where its replay landed is kept for audits.
CREATE TABLE IF NOT EXISTS dead_letter_replays (
    dlq_topic        text        NOT NULL,
    dlq_partition    integer     NOT NULL,
    dlq_offset       bigint      NOT NULL,
    record_key       bytea,
    original_topic   text        NOT NULL,
    stage            text        NOT NULL,
    component        text        NOT NULL,
    exception_class  text        NOT NULL,
    target_topic     text        NOT NULL,
    target_partition integer     NOT NULL,
    target_offset    bigint      NOT NULL,
    requested_by     text        NOT NULL,
    replayed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dlq_topic, dlq_partition, dlq_offset)
);
CREATE INDEX IF NOT EXISTS dead_letter_replays_replayed_at
    ON dead_letter_replays (dlq_topic, replayed_at DESC);
