-- 0007_channels.sql - channels: a channel is one business number on one provider, named
-- "<provider>:<E.164>" ("twilio:+14155238886", "baileys:+972500000001"), or the provider's name
-- alone where the number is not known (rows from before, a bridge that does not say its number).
-- WhatsApp keeps the 24-hour window per (contact, business number), so the CRM does too.
ALTER TABLE messages ADD COLUMN channel text;

-- Inbound rows name our number in the event they were stored with ("to": Twilio's To).
UPDATE messages SET channel = provider || COALESCE(':' || (payload ->> 'to'), '')
    WHERE direction = 'inbound' AND provider IS NOT NULL;
-- Outbound rows went out through the provider's one number of the time.
UPDATE messages SET channel = provider WHERE direction = 'outbound' AND provider IS NOT NULL;

-- The last message each contact sent to each of our numbers: the window per channel.
CREATE TABLE contact_channels (
    contact_id       bigint NOT NULL REFERENCES contacts (id),
    channel          text NOT NULL,
    provider         text NOT NULL CHECK (provider IN ('twilio', 'baileys')),
    last_inbound_at  timestamptz NOT NULL,
    PRIMARY KEY (contact_id, channel)
);
INSERT INTO contact_channels (contact_id, channel, provider, last_inbound_at)
    SELECT contact_id, channel, provider, max(COALESCE(provider_ts, created_at))
    FROM messages WHERE direction = 'inbound' AND channel IS NOT NULL
    GROUP BY contact_id, channel, provider;
