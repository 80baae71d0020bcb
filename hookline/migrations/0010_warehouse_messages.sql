-- Warehouse: canonical messages (chat messages, e.g. Telegram) (see 0006 for what every
-- warehouse table has).
CREATE SCHEMA IF NOT EXISTS warehouse;

CREATE TABLE IF NOT EXISTS warehouse.messages (
    id                  text PRIMARY KEY,
    updated_at          timestamptz NOT NULL,
    external_ids        jsonb NOT NULL DEFAULT '{}',
    message_type        text NOT NULL,
    chat_id             text,
    sender_id           text,
    sender_username     text,
    sender_display_name text,
    sender_is_bot       boolean,
    text                text,
    callback_data       text,
    reply_to_id         text,
    sent_at             timestamptz,
    source              text NOT NULL,
    event_id            text NOT NULL,
    event               jsonb NOT NULL,
    synced_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS messages_chat_sent ON warehouse.messages (chat_id, sent_at);
