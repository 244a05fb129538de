-- 0009_health_per_channel.sql - health is kept per channel (one business number on one
-- provider), not per provider: each Baileys session is probed on its own, and each Twilio
-- number's health comes from its send results (docs/architecture.md §3.3). Rows recorded
-- before are about the provider's default channel, named by the bare provider.
ALTER TABLE provider_health ADD COLUMN channel text;
UPDATE provider_health SET channel = provider WHERE channel IS NULL;
ALTER TABLE provider_health ALTER COLUMN channel SET NOT NULL;
ALTER TABLE provider_health DROP CONSTRAINT provider_health_provider_since_state_key;
ALTER TABLE provider_health ADD CONSTRAINT provider_health_channel_since_state_key
    UNIQUE (channel, since, state);
CREATE INDEX provider_health_channel ON provider_health (channel, since);
