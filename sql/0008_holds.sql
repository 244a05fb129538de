-- 0008_holds.sql - re-engagement: free text that no open window can carry is held (status
-- 'held') while an approved template invites the contact to write; the contact's reply on that
-- number releases the held messages, in order, once. A hold that is not released in time fails.

ALTER TABLE messages ADD COLUMN held_until timestamptz; -- a held message fails after this

-- One re-engagement template per contact per number per hold period.
CREATE TABLE holds (
    contact_id           bigint NOT NULL REFERENCES contacts (id),
    channel              text NOT NULL,
    started_at           timestamptz NOT NULL,
    expires_at           timestamptz NOT NULL,
    template_message_id  uuid,
    PRIMARY KEY (contact_id, channel)
);

CREATE INDEX messages_held ON messages (contact_id, channel, created_at) WHERE status = 'held';
CREATE INDEX messages_hold_expiry ON messages (held_until) WHERE status = 'held';

-- 'held' comes before everything a send goes through.
CREATE OR REPLACE FUNCTION wa_status_rank(s text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE s
        WHEN 'held' THEN 5
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
