-- 0012_dashboard_sessions.sql - dashboard sessions kept by the server: a random cookie per login
-- (stored as its SHA-256 only), with an expiry, revoked by logout. Every dashboard instance sees
-- the same sessions.
CREATE TABLE dashboard_sessions (
    id_sha256  text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    client     text
);
CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_at);
