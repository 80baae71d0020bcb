-- OAuth 2.0 credentials of destinations whose refresh tokens rotate (connectors/oauth.py).
-- A rotated refresh token is written here before the access token that came with it is
-- used: the old one stops working at the vendor, so losing the new one loses the grant.
-- One row per credential (by default the connector's name), shared by every instance;
-- a refresh holds the row lock, so instances never rotate the same token twice.
CREATE TABLE IF NOT EXISTS oauth_tokens (
    credential       text PRIMARY KEY,
    refresh_token    text NOT NULL,
    -- sha256 of the refresh token from the configuration that seeded this row: a new one
    -- there (the app was authorised again) replaces the stored chain.
    seed_sha256      text NOT NULL,
    access_token     text,
    access_expires_at timestamptz,
    rotated_at       timestamptz NOT NULL DEFAULT now()
);
