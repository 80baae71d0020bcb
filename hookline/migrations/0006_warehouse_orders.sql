-- Warehouse (connectors/destinations/warehouse.py): canonical orders and their line items.
-- Every warehouse table has the canonical entity ID as key, its updated_at as version
-- (a row is only ever replaced by a newer one), the CloudEvent that wrote it as JSONB,
-- and typed columns: money as BIGINT minor units + CHAR(3) ISO 4217 currency.
CREATE SCHEMA IF NOT EXISTS warehouse;

CREATE TABLE IF NOT EXISTS warehouse.orders (
    id                 text PRIMARY KEY,
    updated_at         timestamptz NOT NULL,
    external_ids       jsonb NOT NULL DEFAULT '{}',
    number             text,
    status             text NOT NULL,
    financial_status   text,
    fulfillment_status text,
    customer_id        text,
    customer_email     text,
    total_minor        bigint,
    total_currency     char(3),
    subtotal_minor     bigint,
    subtotal_currency  char(3),
    tax_minor          bigint,
    tax_currency       char(3),
    shipping_address   jsonb,
    tags               text[] NOT NULL DEFAULT '{}',
    metadata           jsonb NOT NULL DEFAULT '{}',
    created_at         timestamptz,
    cancelled_at       timestamptz,
    source             text NOT NULL,
    event_id           text NOT NULL,
    event              jsonb NOT NULL,
    synced_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS orders_customer_id ON warehouse.orders (customer_id);

-- Replaced as a whole, in the transaction that writes a newer version of the order.
CREATE TABLE IF NOT EXISTS warehouse.order_line_items (
    order_id            text NOT NULL REFERENCES warehouse.orders (id) ON DELETE CASCADE,
    position            integer NOT NULL,
    sku                 text,
    name                text,
    quantity            bigint NOT NULL,
    unit_price_minor    bigint,
    unit_price_currency char(3),
    product_id          text,
    PRIMARY KEY (order_id, position)
);
CREATE INDEX IF NOT EXISTS order_line_items_sku ON warehouse.order_line_items (sku);
