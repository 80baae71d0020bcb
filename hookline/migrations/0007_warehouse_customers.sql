-- Warehouse: canonical customers (see 0006 for what every warehouse table has).
CREATE SCHEMA IF NOT EXISTS warehouse;

CREATE TABLE IF NOT EXISTS warehouse.customers (
    id           text PRIMARY KEY,
    updated_at   timestamptz NOT NULL,
    external_ids jsonb NOT NULL DEFAULT '{}',
    email        text,
    name         text,
    first_name   text,
    last_name    text,
    phone        text,
    company      text,
    address      jsonb,
    tags         text[] NOT NULL DEFAULT '{}',
    properties   jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz,
    source       text NOT NULL,
    event_id     text NOT NULL,
    event        jsonb NOT NULL,
    synced_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS customers_email ON warehouse.customers (lower(email));
