-- Connector runtime (connectors/): keep the applied state itself next to its hash, so a
-- conflict held for review records both versions, and the CloudEvent that produced it.
ALTER TABLE connector_entity_state ADD COLUMN IF NOT EXISTS state jsonb;
ALTER TABLE connector_entity_state ADD COLUMN IF NOT EXISTS event_id text;

-- A conflicting change that is delivered again (crash, rebalance) is recorded once.
ALTER TABLE conflicts ADD COLUMN IF NOT EXISTS event_id text;
CREATE UNIQUE INDEX IF NOT EXISTS conflicts_connector_event ON conflicts (connector, event_id);
