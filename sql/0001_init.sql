-- 0001_init.sql - the CRM: contacts (leads), messages, their statuses, media, and the event outbox.

-- One row per person, whichever provider they write through.
CREATE TABLE contacts (
    id                     bigserial PRIMARY KEY,
    phone                  text NOT NULL UNIQUE CHECK (phone ~ '^\+[1-9][0-9]{7,14}$'),
    wa_id                  text,
    lid                    text,
    profile_name           text,
    last_inbound_at        timestamptz,          -- opens the 24h window
    last_inbound_provider  text CHECK (last_inbound_provider IN ('twilio', 'baileys')),
    last_message_at        timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_lid ON contacts (lid) WHERE lid IS NOT NULL;
CREATE INDEX contacts_last_message ON contacts (last_message_at DESC);

CREATE TABLE messages (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    contact_id           bigint NOT NULL REFERENCES contacts (id),
    direction            text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    provider             text CHECK (provider IN ('twilio', 'baileys')),
    provider_message_id  text,
    idempotency_key      text UNIQUE,          -- outbound requests: required, one send per key
    type                 text NOT NULL,
    body                 text,
    status               text NOT NULL,
    error_code           text,
    error_text           text,
    attempts             integer NOT NULL DEFAULT 0,
    failover             boolean NOT NULL DEFAULT false,
    payload              jsonb NOT NULL,       -- the normalized event as received
    provider_ts          timestamptz,          -- when the provider says it happened
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, provider_message_id)     -- where inbound duplicates stop
);
CREATE INDEX messages_contact_time ON messages (contact_id, created_at DESC, id);

-- The lifecycle of a message; a status is recorded once, and never moves back.
CREATE TABLE message_statuses (
    id           bigserial PRIMARY KEY,
    message_id   uuid NOT NULL REFERENCES messages (id),
    status       text NOT NULL,
    provider     text,
    error_code   text,
    error_text   text,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (message_id, status)
);

-- One stored copy of each media item of a message (filled by media-worker).
CREATE TABLE media (
    id           bigserial PRIMARY KEY,
    message_id   uuid NOT NULL REFERENCES messages (id),
    idx          integer NOT NULL,
    source       text NOT NULL,                -- 'twilio' | 'baileys'
    source_url   text,
    mime_declared text,
    mime         text,
    size         bigint,
    sha256       text,
    bucket       text,
    object_key   text,
    stored_at    timestamptz,
    UNIQUE (message_id, idx)
);

-- Events for wa.events, written in the same transaction as the change they
-- describe, and published after commit: a crash between the two loses nothing.
CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    topic         text NOT NULL,
    key           text NOT NULL,
    payload       jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
