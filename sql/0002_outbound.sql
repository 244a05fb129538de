-- 0002_outbound.sql - outbound sends: routing reason, provider health, and the order of statuses.

ALTER TABLE messages
    ADD COLUMN reason       text,           -- why this provider, or why nothing was sent
    ADD COLUMN requested_at timestamptz,    -- when the send request was accepted
    ADD COLUMN sent_at      timestamptz,    -- when a provider took it
    ADD COLUMN latency_ms   integer;        -- request accepted -> provider answered

-- Statuses only move forward: a late "delivered" never undoes "read". Terminal
-- failures outrank the steps that precede them. ('failover' is a history entry
-- only, never a current status.)
CREATE FUNCTION wa_status_rank(s text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE s
        WHEN 'queued' THEN 10
        WHEN 'sending' THEN 20
        WHEN 'unknown' THEN 30
        WHEN 'sent' THEN 40
        WHEN 'delivered' THEN 50
        WHEN 'undelivered' THEN 60
        WHEN 'failed' THEN 60
        WHEN 'read' THEN 70
        WHEN 'received' THEN 10
        ELSE 0
    END
$$;

-- Every change of a provider's health, once (several routers may see it).
CREATE TABLE provider_health (
    id          bigserial PRIMARY KEY,
    provider    text NOT NULL,
    state       text NOT NULL CHECK (state IN ('UP', 'DOWN')),
    reason      text,
    since       timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, since, state)
);

CREATE INDEX messages_sending ON messages (updated_at) WHERE status IN ('queued', 'sending');
