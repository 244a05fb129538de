-- 0016_session_idle.sql - a dashboard session also ends after DASHBOARD_SESSION_IDLE_S without a
-- request: each request that the session authorizes moves last_seen_at.
ALTER TABLE dashboard_sessions ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now();
