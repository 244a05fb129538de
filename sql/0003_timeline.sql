-- 0003_timeline.sql - the timeline's order: when the message happened, not when a batch stored it.
-- A router batch stores many messages in one transaction, so they share created_at; the
-- provider's time (inbound) or the request's time (outbound) tells them apart.
ALTER TABLE messages ADD COLUMN at timestamptz
    GENERATED ALWAYS AS (COALESCE(provider_ts, requested_at, created_at)) STORED;
CREATE INDEX messages_contact_at ON messages (contact_id, at DESC, id DESC);
