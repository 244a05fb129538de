-- 0011_templates.sql - the approved-template catalogue, synced from Twilio's Content API
-- (GET /v1/ContentAndApprovals) by sender-twilio on a schedule and on request. The router refuses
-- a template the catalogue knows is not approved for WhatsApp, before anything is sent.
CREATE TABLE templates (
    sid              text PRIMARY KEY CHECK (sid ~ '^HX[0-9a-fA-F]{32}$'),
    name             text NOT NULL,
    language         text,
    category         text,              -- UTILITY, MARKETING, AUTHENTICATION (WhatsApp's)
    status           text NOT NULL,     -- WhatsApp approval: approved, pending, rejected, ...
    rejection_reason text,
    body             text,              -- the text of its twilio/text type, when it has one
    variables        jsonb NOT NULL DEFAULT '{}'::jsonb, -- sample values by placeholder number
    content_types    jsonb NOT NULL DEFAULT '{}'::jsonb, -- Twilio's "types" as listed
    synced_at        timestamptz NOT NULL,
    removed_at       timestamptz         -- no longer listed by Twilio
);

-- One row: when a sync was asked for, began and ended, so one instance syncs at a time.
CREATE TABLE template_sync (
    id           integer PRIMARY KEY CHECK (id = 1),
    requested_at timestamptz,
    started_at   timestamptz,
    synced_at    timestamptz,
    last_count   integer,
    last_error   text
);
INSERT INTO template_sync (id, requested_at) VALUES (1, now());
