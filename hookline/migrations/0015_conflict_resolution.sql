-- Resolving held conflicts through the admin API (admin/conflict_resolution.py).
-- held_event: the incoming change's CloudEvent as the connector consumed it, written when
-- the conflict is recorded, so a resolution can send it (or a merged version) on later.
ALTER TABLE conflicts ADD COLUMN IF NOT EXISTS held_event jsonb;
-- How a person resolved an open conflict: a side, or a merged version (kept in merged).
ALTER TABLE conflicts ADD COLUMN IF NOT EXISTS resolution text
    CHECK (resolution IN ('incoming', 'current', 'merged'));
ALTER TABLE conflicts ADD COLUMN IF NOT EXISTS resolved_by text;
ALTER TABLE conflicts ADD COLUMN IF NOT EXISTS merged jsonb;
