-- The admin API (admin/): people, API keys, refresh-token families, the audit trail,
-- and the dead-letter index its dead-letters routes read.

CREATE TABLE IF NOT EXISTS admin_users (
    id            bigserial   PRIMARY KEY,
    username      text        NOT NULL UNIQUE,
    password_hash text        NOT NULL,               -- argon2id, never the password
    role          text        NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);

-- Keys are shown once; only the SHA-256 of the high-entropy key is stored.
CREATE TABLE IF NOT EXISTS admin_api_keys (
    id           bigserial   PRIMARY KEY,
    name         text        NOT NULL,
    key_hash     bytea       NOT NULL UNIQUE,
    prefix       text        NOT NULL,                -- the key's first characters, to recognise it
    role         text        NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    created_by   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

-- Refresh tokens rotate: each use marks the token used and issues the next of its family;
-- a used token presented again revokes the whole family (reuse detection).
CREATE TABLE IF NOT EXISTS admin_refresh_tokens (
    id          bigserial   PRIMARY KEY,
    family_id   uuid        NOT NULL,
    user_id     bigint      NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    token_hash  bytea       NOT NULL UNIQUE,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX IF NOT EXISTS admin_refresh_tokens_family ON admin_refresh_tokens (family_id);

-- Every mutating call: who, what, when, from where, with what outcome.
CREATE TABLE IF NOT EXISTS admin_audit (
    id          bigserial   PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL,                 -- user:<name>, key:<id>:<name>, anonymous
    action      text        NOT NULL,                 -- the route's operation id
    method      text        NOT NULL,
    path        text        NOT NULL,
    target      text,
    status      integer     NOT NULL,
    remote      text,
    request_id  text        NOT NULL,
    detail      jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS admin_audit_at ON admin_audit (at DESC);

-- The dead-letter index: one row per record of a dead-letter topic, written by the
-- admin service's indexer before it commits the record's offset. ``id`` is the order of
-- indexing: the list's keyset, stable under concurrent inserts.
CREATE TABLE IF NOT EXISTS dead_letters (
    id                bigserial   NOT NULL UNIQUE,
    topic             text        NOT NULL,
    partition         integer     NOT NULL,
    "offset"          bigint      NOT NULL,
    record_key        bytea,
    headers           jsonb       NOT NULL DEFAULT '[]'::jsonb,  -- [[name, base64 value], …]
    payload           bytea       NOT NULL,
    payload_bytes     integer     NOT NULL,           -- the full size, payload may be cut
    record_timestamp  timestamptz,
    connector         text,                           -- from the topic: {p}.connector.{name}.dlq
    stage             text,                           -- NULL: unreadable context headers
    component         text,
    exception_class   text,
    exception_message text,
    http_status       integer,
    attempts          integer,
    source            text,
    original_topic    text,
    original_partition integer,
    original_offset   bigint,
    failed_at         timestamptz,
    indexed_at        timestamptz NOT NULL DEFAULT now(),
    replayed_at       timestamptz,
    replayed_by       text,
    discarded_at      timestamptz,
    discarded_by      text,
    discard_reason    text,
    PRIMARY KEY (topic, partition, "offset")
);
CREATE INDEX IF NOT EXISTS dead_letters_topic_id ON dead_letters (topic, id DESC);
CREATE INDEX IF NOT EXISTS dead_letters_connector_id ON dead_letters (connector, id DESC);
CREATE INDEX IF NOT EXISTS dead_letters_failed_at ON dead_letters (failed_at);
