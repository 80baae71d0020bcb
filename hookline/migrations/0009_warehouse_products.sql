-- Warehouse: canonical products and their inventory levels (see 0006 for what every
-- warehouse table has).
CREATE SCHEMA IF NOT EXISTS warehouse;

CREATE TABLE IF NOT EXISTS warehouse.products (
    id             text PRIMARY KEY,
    updated_at     timestamptz NOT NULL,
    external_ids   jsonb NOT NULL DEFAULT '{}',
    title          text,
    sku            text,
    status         text,
    price_minor    bigint,
    price_currency char(3),
    tags           text[] NOT NULL DEFAULT '{}',
    created_at     timestamptz,
    source         text NOT NULL,
    event_id       text NOT NULL,
    event          jsonb NOT NULL,
    synced_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS products_sku ON warehouse.products (sku);

-- Replaced as a whole, in the transaction that writes a newer version of the product.
CREATE TABLE IF NOT EXISTS warehouse.product_inventory_levels (
    product_id        text NOT NULL REFERENCES warehouse.products (id) ON DELETE CASCADE,
    position          integer NOT NULL,
    location_id       text,
    inventory_item_id text,
    available         bigint,
    PRIMARY KEY (product_id, position)
);
