-- 0010_optout.sql - consent per (contact, channel) (docs/architecture.md §3.4): a contact asks one
-- of our numbers to stop (a stop keyword, or Twilio's 63033) and to start again (a start
-- keyword); a marketing template Twilio reports refused (63049) is not sent again to that contact
-- on that number. Only adds tables: every row stored before is left as it was.

-- Every change of a contact's consent on one of our numbers; the latest row of a (contact,
-- channel) is its state, and no row at all means it may be messaged. A row is written only when
-- the state changes, and only for a message stored for the first time (or a status recorded for
-- the first time), so a replayed record adds none.
CREATE TABLE consent_changes (
    id          bigserial PRIMARY KEY,
    contact_id  bigint NOT NULL REFERENCES contacts (id),
    channel     text NOT NULL,          -- "<provider>:<E.164>", or a bare provider name
    opted_out   boolean NOT NULL,
    source      text NOT NULL CHECK (source IN ('keyword', 'twilio_error')),
    detail      text,                   -- the keyword as configured, or Twilio's error code
    message_id  uuid REFERENCES messages (id), -- the inbound keyword, or the send that failed
    at          timestamptz NOT NULL
);
CREATE INDEX consent_changes_latest ON consent_changes (contact_id, channel, id DESC);
CREATE INDEX consent_changes_message ON consent_changes (message_id) WHERE message_id IS NOT NULL;

-- A marketing template Meta would not deliver to this contact from this number (Twilio 63049):
-- a later send of the same ContentSid there is refused before anything is sent.
CREATE TABLE template_refusals (
    contact_id   bigint NOT NULL REFERENCES contacts (id),
    channel      text NOT NULL,
    content_sid  text NOT NULL,
    error_code   text NOT NULL,
    message_id   uuid REFERENCES messages (id),
    at           timestamptz NOT NULL,
    PRIMARY KEY (contact_id, channel, content_sid)
);
