-- Warehouse: canonical payments and their refunds (see 0006 for what every warehouse
-- table has).
CREATE SCHEMA IF NOT EXISTS warehouse;

CREATE TABLE IF NOT EXISTS warehouse.payments (
    id                       text PRIMARY KEY,
    updated_at               timestamptz NOT NULL,
    external_ids             jsonb NOT NULL DEFAULT '{}',
    object_type              text NOT NULL,
    status                   text NOT NULL,
    amount_minor             bigint,
    amount_currency          char(3),
    amount_refunded_minor    bigint,
    amount_refunded_currency char(3),
    customer_id              text,
    customer_email           text,
    order_id                 text,
    parent_id                text,
    description              text,
    metadata                 jsonb NOT NULL DEFAULT '{}',
    created_at               timestamptz,
    source                   text NOT NULL,
    event_id                 text NOT NULL,
    event                    jsonb NOT NULL,
    synced_at                timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS payments_order_id ON warehouse.payments (order_id);

-- Replaced as a whole, in the transaction that writes a newer version of the payment.
CREATE TABLE IF NOT EXISTS warehouse.payment_refunds (
    payment_id   text NOT NULL REFERENCES warehouse.payments (id) ON DELETE CASCADE,
    position     integer NOT NULL,
    refund_id    text NOT NULL,
    amount_minor bigint NOT NULL,
    currency     char(3) NOT NULL,
    status       text,
    reason       text,
    created_at   timestamptz,
    PRIMARY KEY (payment_id, position)
);
CREATE INDEX IF NOT EXISTS payment_refunds_refund_id ON warehouse.payment_refunds (refund_id);
