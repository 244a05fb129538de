-- 0018_release_held.sql - the release of a contact's held messages on a number, when the contact
-- writes there (router/store.c: both inbound statements call it for a new message).
-- A function, not more parts of the inbound statement: Postgres starts every data-modifying part
-- of a statement, even one that writes nothing, and nearly every inbound message has nothing held
-- (bench/README.md, "Router capacity": about a sixth of the statement's CPU). A PL/pgSQL function
-- runs only the statements it reaches.
-- p_contact, p_phone: the contact; p_channel: the number it wrote to; p_release: false for an
-- opt-out, which fails those messages instead (router/store.c) and only ends the hold period;
-- p_send_topic: the Twilio send topic (held messages go out through Twilio); p_events_topic:
-- wa.events; p_msg_ms: the message's time; p_window_ms: the window's length; p_now_ms: now.
-- Releases the held messages in order, each with its send command and its `queued` status and
-- event, ends the hold period, and returns how many it released.
CREATE FUNCTION wa_release_held(p_contact bigint, p_phone text, p_channel text, p_release boolean,
    p_send_topic text, p_events_topic text, p_msg_ms bigint, p_window_ms bigint, p_now_ms bigint)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer := 0;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM holds WHERE contact_id = p_contact AND channel = p_channel)
        AND NOT (p_release AND EXISTS (SELECT 1 FROM messages
            WHERE contact_id = p_contact AND status = 'held' AND channel = p_channel)) THEN
        RETURN 0;
    END IF;
    IF p_release THEN
        WITH r AS (
            UPDATE messages h SET status = 'queued', held_until = NULL, updated_at = now(),
                reason = 'released: the contact wrote to ' || h.channel
            WHERE h.contact_id = p_contact AND h.status = 'held' AND h.channel = p_channel
            RETURNING h.id, h.payload, h.created_at, h.channel
        ), rc AS (
            INSERT INTO outbox (topic, key, payload)
            SELECT t.topic, substr(p_phone, 2), CASE t.n WHEN 1 THEN r.payload || jsonb_build_object(
                    'route', 'twilio', 'failover', false, 'windowUntilMs', p_msg_ms + p_window_ms,
                    'routedAtMs', p_now_ms, 'reason', 'released: the contact wrote to ' || r.channel,
                    'channel', r.channel, 'failoverWindowUntilMs', 0)
                ELSE jsonb_build_object('v', 1, 'type', 'wa.status', 'provider', 'twilio',
                    'at_ms', p_now_ms, 'status', 'queued', 'source', 'router', 'message_id', r.id,
                    'current', true, 'contact', jsonb_build_object('id', p_contact, 'phone', p_phone)) END
            FROM r, (VALUES (1, p_send_topic), (2, p_events_topic)) AS t(n, topic)
            ORDER BY r.created_at, r.id, t.n
            RETURNING 1
        ), rh AS (
            INSERT INTO message_statuses (message_id, status, provider)
            SELECT id, 'queued', 'twilio' FROM r ON CONFLICT DO NOTHING
            RETURNING 1
        )
        SELECT count(*) INTO n FROM r;
    END IF;
    DELETE FROM holds WHERE contact_id = p_contact AND channel = p_channel;
    RETURN n;
END
$$;
